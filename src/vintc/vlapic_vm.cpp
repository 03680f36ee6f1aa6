// The vLAPIC inside a VM (image only): each vCPU's APIC timer is a host timer event on the kernel's
// timer queue of the CPU that armed it, the clock is the host counter, and the window learns which
// vCPU is accessing it from the vCPU loaded on this CPU (vmm_run_vcpu sets it for the whole exit).
#include "arch.hpp"
#include "kernel/percpu.hpp"
#include "vcpu/vcpu.hpp"
#include "vintc/vlapic.hpp"

namespace vlapic {
namespace {

// A host timer event of vCPU t.vcpu's APIC timer (from the IRQ path, no locks held).
void host_timer_fired(void* ctx) {
    auto& t = *static_cast<Vlapic::HostTimer*>(ctx);
    const VlapicConfig& c = t.owner->config();
    const VcpuSet kick = t.owner->timer_fired(t.vcpu, arch::counter());
    if (!kick.empty() && c.kick) c.kick(c.ctx, kick);
}

void arm_host_timer(Vlapic& l, u32 vcpu, u64 deadline) {
    Vlapic::HostTimer& t = l.m_host_timer[vcpu];
    if (deadline == ~0ull) {
        timer_cancel(t.event);
        return;
    }
    t.event.callback = host_timer_fired;
    t.event.ctx = &t;
    timer_arm(t.event, deadline);
}

u64 host_clock() { return arch::counter(); }

// The accessing vCPU: the one this CPU runs, which must be one of this VM's (the window is reached
// only from that VM's exits; anything else is refused).
u32 accessing_vcpu(void* vm) {
    auto* v = static_cast<::Vcpu*>(this_cpu().current_vcpu);
    return v && static_cast<void*>(&v->vm()) == vm ? v->id() : ~0u;
}

} // namespace

Result<Vlapic*> Vlapic::create_for_vm(const VintcSetup& setup) {
    VlapicConfig c;
    c.vcpu_count = setup.vcpu_count;
    c.lines = setup.lines;
    c.base = setup.base[0];
    c.host_hz = arch::counter_frequency();
    c.clock = host_clock;
    c.current_vcpu = accessing_vcpu;
    c.arm_timer = arm_host_timer;
    c.kick = setup.kick;
    c.ctx = setup.kick_ctx; // the Vm (vm.cpp's kick_thunk)
    return create(c);
}

} // namespace vlapic
