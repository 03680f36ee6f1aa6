// The x86_64 vCPU backend: AMD SVM (VMCB, VMRUN, nested paging) is the next step of the port
// (issue 10 part 3). Until it exists this class only satisfies the generic interface, so that the
// generic layers build; no VM is ever created with it, because vcpu_backend_missing() (below)
// makes vmm/main.cpp refuse every VM with one line. Every call says so if it is reached anyway.
#pragma once
#include "arch.hpp"
#include "base/types.hpp"
#include "vcpu/vcpu_concept.hpp"

namespace arch {

// No interrupt controller model for x86 guests yet (a vLAPIC/vIOAPIC comes with the backend): a
// VM cannot get one, and a request for one is refused as unsupported.
class NoVirtIntc {
public:
    static Result<NoVirtIntc*> create_for_vm(const VintcSetup&) { return Error::Unsupported; }
    usize window_count() const { return 0; }
    MmioDevice* window(usize) { return nullptr; }
    Result<vgic::VcpuSet> set_line(u32, bool, u16 = 0) { return Error::Unsupported; }
    Result<vgic::VcpuSet> raise(u32) { return Error::Unsupported; }
    Result<void> set_hw(u32, u32) { return Error::Unsupported; }
    void reset() {}
    bool is_shared_line(u32) const { return false; }
};
static_assert(VirtIntcModel<NoVirtIntc>);

inline constexpr const char* VCPU_BACKEND_MISSING = "x86_64: the SVM vCPU backend is not implemented yet";

[[noreturn]] void vcpu_backend_reached(const char* call); // vcpu.cpp: panics naming the call

class Vcpu {
public:
    using Intc = NoVirtIntc;
    void init(u32, u32, u64) { vcpu_backend_reached("init"); }
    void reset(u64, u64) { vcpu_backend_reached("reset"); }
    void set_stage2(HostPhysAddr) { vcpu_backend_reached("set_stage2"); }
    void load() { vcpu_backend_reached("load"); }
    void put() { vcpu_backend_reached("put"); }
    ExitReason run() { vcpu_backend_reached("run"); }
    u64 pc() const { vcpu_backend_reached("pc"); }
    Result<MmioAccess> decode_mmio(ExitReason&, GuestMemoryReader) { vcpu_backend_reached("decode_mmio"); }
    u64 mmio_write_value(const MmioAccess&) const { vcpu_backend_reached("mmio_write_value"); }
    void complete_mmio(const MmioAccess&, u64) { vcpu_backend_reached("complete_mmio"); }
    void complete_sysreg(const ExitReason&, u64) { vcpu_backend_reached("complete_sysreg"); }
    void set_hypercall_result(u64, u64, u64, u64) { vcpu_backend_reached("set_hypercall_result"); }
    void set_power_result(PowerResult) { vcpu_backend_reached("set_power_result"); }
    void set_power_state_result(CpuPowerState) { vcpu_backend_reached("set_power_state_result"); }
    void inject_external_abort(u64, AccessKind) { vcpu_backend_reached("inject_external_abort"); }
    void inject_undefined() { vcpu_backend_reached("inject_undefined"); }
    u64 wake_deadline() const { vcpu_backend_reached("wake_deadline"); }
    void attach_vintc(Intc*, GuestPhysAddr) { vcpu_backend_reached("attach_vintc"); }
    void set_counter_offset(u64) { vcpu_backend_reached("set_counter_offset"); }
    vgic::VcpuSet present_interrupts() { vcpu_backend_reached("present_interrupts"); }
    vgic::VcpuSet collect_interrupts() { vcpu_backend_reached("collect_interrupts"); }
    bool interrupt_pending() const { vcpu_backend_reached("interrupt_pending"); }
    bool timer_interrupt() { vcpu_backend_reached("timer_interrupt"); }
};
static_assert(ArchVcpu<Vcpu>, "x86_64 Vcpu must implement the generic vCPU interface");

// Per-CPU virtualization set-up: EFER.SVME where SVM is there (svm.hpp), once per CPU at boot.
void virt_cpu_init();
inline const char* describe_sysreg(u64, char* buf, usize size) {
    if (size) buf[0] = 0;
    return buf;
}

} // namespace arch
