#include "vmm/vmm.hpp"
#include "abi/hypercall.hpp"
#include "base/string.hpp"
#include "kernel/console.hpp"
#include "kernel/log.hpp"
#include "kernel/percpu.hpp"
#include "vmm/shm.hpp"

namespace {

Vm* g_vms[vm_package::MAX_VMS];
usize g_vm_count;

void wake_vcpu(void* ctx) { sched_wake(&static_cast<Vcpu*>(ctx)->sched()); }

// Optional in the vCPU interface: whether the guest's wait-for-interrupt may stay in the guest
// for this entry (KVM's and Xen's choice for a CPU nobody else needs). A vCPU that has it decides
// what its ISA can wake there; one without it always traps its waits.
template <typename V>
void allow_idle_in_guest(V& a, bool allowed) {
    if constexpr (requires { a.allow_idle_in_guest(allowed); }) a.allow_idle_in_guest(allowed);
}

void handle_hypercall(Vcpu& vcpu, ExitReason& e) {
    using namespace cxv_abi;
    arch::Vcpu& a = vcpu.arch();
    Vm& vm = vcpu.vm();
    switch (e.nr) {
    case HC_NR_VERSION: a.set_hypercall_result((VERSION_MAJOR << 16) | VERSION_MINOR, 0, 0, 0); return;
    case HC_NR_NOP: a.set_hypercall_result(0, e.args[0], e.args[1], e.args[2]); return;
    case HC_NR_ECHO: {
        u64 sum = 0;
        for (u64 v : e.args) sum += v;
        a.set_hypercall_result(0, sum, e.args[0] ^ e.args[1], ~e.args[0]);
        return;
    }
    case HC_NR_VM_INFO: a.set_hypercall_result(0, vm.id(), vcpu.id(), vm.resets()); return;
    case HC_NR_PUTC:
        if (ConsolePort* p = vm.console()) p->put_output(char(e.args[0] & 0xFF));
        a.set_hypercall_result(0, e.args[0], e.args[1], e.args[2]);
        return;
    case HC_NR_IRQ_LINE: {
        bool ok = e.args[1] <= IRQ_LINE_PULSE && vm.drive_spi(e.args[0], e.args[1] == IRQ_LINE_PULSE, e.args[1] == IRQ_LINE_HIGH);
        a.set_hypercall_result(ok ? 0 : u64(CXV_INVALID), e.args[0], e.args[1], e.args[2]);
        return;
    }
    case HC_NR_DOORBELL:
        a.set_hypercall_result(u64(vmm_doorbell(vcpu, e.args[0], e.args[1])), e.args[0], e.args[1], e.args[2]);
        return;
    case HC_NR_TEST_RESULT:
        vmm_test_result(vm, e.args[0]);
        a.set_hypercall_result(0, e.args[0], e.args[1], e.args[2]);
        return;
    default:
        vm.report(vcpu, "unknown hypercall %lx: returns NOT_SUPPORTED", e.detail); // the conduit's id
        a.set_hypercall_result(u64(CXV_NOT_SUPPORTED), e.args[0], e.args[1], e.args[2]);
        return;
    }
}

} // namespace

usize vmm_vm_count() { return g_vm_count; }
Vm* vmm_vm(usize i) { return i < g_vm_count ? g_vms[i] : nullptr; }

Vm* vmm_find_vm(const char* id_or_name) {
    u32 id = 0;
    bool numeric = *id_or_name != 0;
    for (const char* p = id_or_name; *p && numeric; ++p) {
        numeric = *p >= '0' && *p <= '9' && id <= (0xFFFFFFFFu - 9) / 10;
        id = id * 10 + u32(*p - '0');
    }
    for (usize i = 0; i < g_vm_count; ++i)
        if ((numeric && g_vms[i]->id() == id) || strcmp(g_vms[i]->name(), id_or_name) == 0) return g_vms[i];
    return nullptr;
}

void vmm_add_vm(Vm* vm) {
    if (g_vm_count >= vm_package::MAX_VMS) return;
    g_vms[g_vm_count++] = vm;
}

Next vmm_handle_exit(Vcpu& vcpu, ExitReason& e) {
    Vm& vm = vcpu.vm();
    arch::Vcpu& a = vcpu.arch();
    switch (e.kind) {
    case ExitKind::Nothing: return Next::Continue;
    case ExitKind::ExternalInterrupt: arch::handle_pending_irqs(); return Next::Continue;
    case ExitKind::Hypercall: handle_hypercall(vcpu, e); return Next::Continue;
    case ExitKind::Halt: return Next::Block;
    case ExitKind::CpuUp: {
        u64 target = e.args[0];
        if (target >= vm.vcpu_count()) a.set_power_result(PowerResult::InvalidParameters);
        else if (!vm.addr_space().find_region(GuestPhysAddr(e.args[1])))
            a.set_power_result(PowerResult::InvalidAddress); // the entry point is not in the VM's memory
        else a.set_power_result(vm.start_vcpu(target, e.args[1], e.args[2])); // DEN0022D 5.6 CPU_ON
        return Next::Continue;
    }
    case ExitKind::CpuDown: return Next::Off;
    case ExitKind::CpuQuery: {
        Vcpu* t = vm.vcpu(e.args[0]);
        if (!t) {
            a.set_power_result(PowerResult::InvalidParameters);
        } else {
            SchedState s = sched_state(&t->sched());
            a.set_power_state_result(s == SchedState::Off ? CpuPowerState::Off : CpuPowerState::On);
        }
        return Next::Continue;
    }
    case ExitKind::Kick: vm.kick(vgic::VcpuSet::from_bits(u32(e.args[0]))); return Next::Continue;
    // The backend names the firmware call the guest made (PSCI SYSTEM_OFF, SBI SRST shutdown, ...).
    case ExitKind::SystemDown: vm.request_stop(StopKind::PowerOff, e.reason ? e.reason : "the guest's request"); return Next::Continue;
    case ExitKind::SystemReset: vm.request_stop(StopKind::Reset, e.reason ? e.reason : "the guest's request"); return Next::Continue;
    case ExitKind::Fatal:
        vm.report_stop(vcpu, "%s (%lx); VM stopped", e.reason, e.detail);
        vm.request_stop(StopKind::Crash, e.reason);
        return Next::Continue;
    default:
        vm.report_stop(vcpu, "exit %u not handled by any level; VM stopped", unsigned(e.kind));
        vm.request_stop(StopKind::Crash, "unhandled exit");
        return Next::Continue;
    }
}

void vmm_run_vcpu(Vcpu& vcpu) {
    timer_cancel(vcpu.wake_timer()); // whatever woke it, the WFI wake-up timer is moot now
    arch::Vcpu& a = vcpu.arch();
    Vm& vm = vcpu.vm();
    a.load();
    this_cpu().current_vcpu = &vcpu;
    sched_begin_slice();
    Leave how = Leave::Yield;
    for (;;) {
        // A stop goes Off; a pause leaves as a yield, which the scheduler parks (sched_pause).
        if (sched_must_leave(&vcpu.sched())) {
            if (__atomic_load_n(&vcpu.sched().stop_pending, __ATOMIC_ACQUIRE)) how = Leave::Off;
            break;
        }
        // Interrupts go to the hardware right before entry and come back right after the exit,
        // before anything else looks at them (the vGIC's per-vCPU contract, vintc/vgic.hpp).
        vm.kick(a.present_interrupts());
        allow_idle_in_guest(a, sched_may_idle_in_guest());
        ExitReason e = a.run();
        vm.take_fast_output(); // before anything this exit causes is printed
        vcpu.note_exit(e.kind, a.pc());
        vm.kick(a.collect_interrupts());
        Next next = vm.handle_exit(vcpu, e) ? Next::Continue : vmm_handle_exit(vcpu, e);
        if (next == Next::Block) { how = Leave::Block; break; }
        if (next == Next::Off) { how = Leave::Off; break; }
        if (sched_should_yield()) break;
    }
    this_cpu().current_vcpu = nullptr;
    a.put();
    // WFI completes at once when an interrupt is already pending for it. One that arrives after
    // this test finds the vCPU Running and sets its wake_pending, which turns the Block below
    // into a Yield (sched_leave).
    if (how == Leave::Block && a.interrupt_pending()) how = Leave::Yield;
    if (how == Leave::Block) {
        u64 deadline = a.wake_deadline();
        if (deadline == 0) {
            how = Leave::Yield; // the timer has already fired: WFI completes at once
        } else if (deadline != ~0ull) {
            TimerEvent& t = vcpu.wake_timer();
            t.callback = wake_vcpu;
            t.ctx = &vcpu;
            timer_arm(t, deadline);
        }
    }
    SchedState s = sched_leave(&vcpu.sched(), how);
    if (s == SchedState::Off) {
        // Only a stop turns a Block with its wake-up timer armed into Off, and a stopping VM starts
        // no vCPU before this one is accounted. After the guest's own CPU_OFF the timer is not
        // armed, and the vCPU may already run again on another CPU (CPU_ON from a sibling): its
        // timer is that run's now.
        if (how == Leave::Block) timer_cancel(vcpu.wake_timer());
        vm.vcpu_went_off();
    }
}

IrqAction vmm_vcpu_timer_irq(u32, void*) {
    auto* v = static_cast<Vcpu*>(this_cpu().current_vcpu);
    if (v && v->arch().timer_interrupt()) return IrqAction::Forwarded;
    // Only vCPUs with a virtual interrupt controller have the PPI enabled, and only while loaded:
    // reaching here is a cxvisor bug. Deactivated; the timer is disabled at put() anyway.
    kprint("cxvisor: the guest timer interrupt arrived with no vCPU to take it, ignored\n");
    return IrqAction::Done;
}

void vmm_cpu_loop() {
    sched_init_cpu();
    for (;;) {
        SchedEntity* e = sched_pick();
        vmm_run_vcpu(*Vcpu::from_sched(e));
    }
}
