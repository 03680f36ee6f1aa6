// PLACEHOLDER until the riscv64 vCPU backend (helper H2, branch wip/rvvcpu) lands. Vm::create
// already fails for lack of G-stage tables (arch_stage2.hpp), so none of this runs; if it ever
// did, every path says "riscv64: the vCPU backend is not implemented yet" and the VM stops
// (ExitKind::Fatal) instead of cxvisor panicking.
#pragma once
#include "arch.hpp"
#include "kernel/log.hpp"
#include "vcpu/vcpu_concept.hpp"

namespace arch {

inline constexpr const char* kNoVcpuBackend = "riscv64: the vCPU backend is not implemented yet";

class Vcpu {
public:
    void init(u32, u64) {}
    void reset(u64, u64) {}
    void set_stage2(HostPhysAddr) {}
    void load() {}
    void put() {}
    ExitReason run() {
        ExitReason e;
        e.kind = ExitKind::Fatal;
        e.reason = kNoVcpuBackend;
        return e;
    }
    u64 pc() const { return 0; }
    Result<MmioAccess> decode_mmio(ExitReason&, GuestMemoryReader) {
        kprint("cxvisor: %s (MMIO decode)\n", kNoVcpuBackend);
        return Error::Unsupported;
    }
    u64 mmio_write_value(const MmioAccess&) const { return 0; }
    void complete_mmio(const MmioAccess&, u64) {}
    void complete_sysreg(const ExitReason&, u64) {}
    void set_hypercall_result(u64, u64, u64, u64) {}
    void set_power_result(PowerResult) {}
    void set_power_state_result(CpuPowerState) {}
    void inject_external_abort(u64, AccessKind) {}
    void inject_undefined() {}
    u64 wake_deadline() const { return ~0ull; }
    void attach_vintc(VirtIntc*, GuestPhysAddr) {}
    void set_counter_offset(u64) {}
    vgic::VcpuSet present_interrupts() { return {}; }
    vgic::VcpuSet collect_interrupts() { return {}; }
    bool interrupt_pending() const { return false; }
    bool timer_interrupt() { return false; }
};
static_assert(ArchVcpu<Vcpu>, "riscv64 placeholder Vcpu must implement the generic vCPU interface");

// Per-hart virtualization set-up (hedeleg, hideleg, hcounteren, ...) belongs to the backend; without
// one there is nothing to configure.
inline void virt_cpu_init() {}
inline const char* describe_sysreg(u64, char* buf, usize size) {
    if (size) buf[0] = 0;
    return buf;
}

} // namespace arch
