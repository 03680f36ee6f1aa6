// The vCPU interface of a port whose backend is not written yet (docs/porting.md, "arch_vcpu.hpp":
// vcpu_backend_missing()). vmm/main.cpp refuses every VM of such an ISA with one line before any
// Vcpu exists, so none of these calls is reached; if one is anyway, `Reached` (the ISA's, naming
// itself and the call) stops cxvisor instead of running a guest on nothing. The generic layers
// still build against the ISA, which is the point: the port is checked against the interface
// from its first step.
#pragma once
#include "addrspace/tlb.hpp"
#include "vcpu/vcpu_concept.hpp"
#include "vintc/no_virt_intc.hpp"

template <void (*Reached)(const char* call)> class UnwrittenVcpu {
    [[noreturn]] static void reached(const char* call) {
        Reached(call);
        __builtin_trap(); // Reached does not return
    }

public:
    using Intc = NoVirtIntc;
    void init(u32, u32, u64) { reached("init"); }
    void reset(u64, u64) { reached("reset"); }
    void set_stage2(HostPhysAddr) { reached("set_stage2"); }
    void load() { reached("load"); }
    void put() { reached("put"); }
    ExitReason run() { reached("run"); }
    u64 pc() const { reached("pc"); }
    Result<MmioAccess> decode_mmio(ExitReason&, GuestMemoryReader) { reached("decode_mmio"); }
    u64 mmio_write_value(const MmioAccess&) const { reached("mmio_write_value"); }
    void complete_mmio(const MmioAccess&, u64) { reached("complete_mmio"); }
    void complete_sysreg(const ExitReason&, u64) { reached("complete_sysreg"); }
    void set_hypercall_result(u64, u64, u64, u64) { reached("set_hypercall_result"); }
    void set_power_result(PowerResult) { reached("set_power_result"); }
    void set_power_state_result(CpuPowerState) { reached("set_power_state_result"); }
    void inject_external_abort(u64, AccessKind) { reached("inject_external_abort"); }
    void inject_undefined() { reached("inject_undefined"); }
    u64 wake_deadline() const { reached("wake_deadline"); }
    void attach_vintc(Intc*, GuestPhysAddr) { reached("attach_vintc"); }
    void set_counter_offset(u64) { reached("set_counter_offset"); }
    vgic::VcpuSet present_interrupts() { reached("present_interrupts"); }
    vgic::VcpuSet collect_interrupts() { reached("collect_interrupts"); }
    bool interrupt_pending() const { reached("interrupt_pending"); }
    bool timer_interrupt() { reached("timer_interrupt"); }
};

// The GPA-table maintenance of such a port (addrspace/tlb.hpp Stage2Maintenance): it belongs to the
// backend, so without one there is no VM whose tables it would maintain.
template <void (*Reached)(const char* call)> struct UnwrittenStage2Tlb {
    u64 vmid = 0;
    void invalidate_range(u64, u64) { Reached("Stage2Tlb::invalidate_range"); }
    void invalidate_all() { Reached("Stage2Tlb::invalidate_all"); }
    void after_map(u64, u64) { Reached("Stage2Tlb::after_map"); }
    void fault_retry(u64) { Reached("Stage2Tlb::fault_retry"); }
    void prepare_exec(HostPhysAddr, u64) { Reached("Stage2Tlb::prepare_exec"); }
};
