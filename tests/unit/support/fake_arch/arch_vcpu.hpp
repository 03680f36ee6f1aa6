// Fake vCPU backend: run() returns scripted exits; every call the generic layers (Vm, VMM) make
// on it is recorded for the test to inspect. Fields are public on purpose.
#pragma once
#include "arch.hpp"
#include "devices/uart_fast.hpp"
#include "vcpu/vcpu_concept.hpp"
#include "vintc/vgic.hpp"
#include <deque>
#include <utility>
#include <vector>

namespace arch {

class Vcpu {
public:
    using Intc = vgic::Vgic; // the host tests drive the vGICv3 model through the VM
    struct MmioDone {
        MmioAccess access;
        u64 value;
    };
    struct Abort {
        u64 gpa;
        AccessKind access;
    };

    // Script (set by the test).
    std::deque<ExitReason> exits;              // run() pops one; when empty it returns Halt
    std::deque<Result<MmioAccess>> decodes;    // decode_mmio() pops one; when empty: BadFormat
    u64 regs[31] = {};                         // mmio_write_value() reads the transfer register here
    u64 deadline = ~0ull;                      // wake_deadline()
    u64 pc_value = 0;                          // pc(); reset() sets it to the entry point

    // Record (read by the test).
    u32 id = 0;
    u64 vmid = 0;
    u32 vcpu_count = 0;
    HostPhysAddr stage2{};
    std::vector<std::pair<u64, u64>> resets;   // (entry, arg0)
    unsigned loads = 0, puts = 0, runs = 0;
    bool loaded = false;
    u32 insn = 0; bool insn_read = false;      // what decode_mmio read at pc through the reader
    std::vector<MmioDone> mmio_done;
    std::vector<u64> sysreg_done;
    std::vector<std::vector<u64>> hypercall_results;
    std::vector<PowerResult> power_results;
    std::vector<CpuPowerState> power_states;
    std::vector<Abort> aborts;
    unsigned undefs = 0;

    void init(u32 vcpu_id, u32 count, u64 vm_id) { id = vcpu_id, vmid = vm_id, vcpu_count = count; }
    void reset(u64 entry, u64 arg0) { resets.push_back({entry, arg0}), pc_value = entry; }
    void set_stage2(HostPhysAddr root) { stage2 = root; }
    void load() { ++loads, loaded = true; }
    void put() { ++puts, loaded = false; }
    ExitReason run() {
        ++runs;
        if (exits.empty()) return ExitReason{.kind = ExitKind::Halt};
        ExitReason e = exits.front();
        exits.pop_front();
        return e;
    }
    u64 pc() const { return pc_value; }
    Result<MmioAccess> decode_mmio(ExitReason&, GuestMemoryReader mem) {
        insn_read = mem.read(mem.ctx, GuestPhysAddr(pc_value), &insn, sizeof insn).is_ok();
        if (decodes.empty()) return Error::BadFormat;
        Result<MmioAccess> r = decodes.front();
        decodes.pop_front();
        return r;
    }
    u64 mmio_write_value(const MmioAccess& a) const { return a.insn.reg < 31 ? regs[a.insn.reg] : 0; }
    void complete_mmio(const MmioAccess& a, u64 v) { mmio_done.push_back({a, v}); }
    void complete_sysreg(const ExitReason&, u64 v) { sysreg_done.push_back(v); }
    void set_hypercall_result(u64 r0, u64 r1, u64 r2, u64 r3) { hypercall_results.push_back({r0, r1, r2, r3}); }
    void set_power_result(PowerResult r) { power_results.push_back(r); }
    void set_power_state_result(CpuPowerState s) { power_states.push_back(s); }
    void inject_external_abort(u64 gpa, AccessKind k) { aborts.push_back({gpa, k}); }
    void inject_undefined() { ++undefs; }
    u64 wake_deadline() const { return deadline; }
    // Virtual interrupts: the fake records the controller and the calls; the test sets what the
    // vCPU reports (pending, kicks to return).
    Intc* intc = nullptr;
    u64 counter_offset = 0;
    bool pending = false;
    unsigned presents = 0, collects = 0, timer_irqs = 0;
    vgic::VcpuSet present_kicks, collect_kicks;
    void attach_vintc(Intc* c, GuestPhysAddr) { intc = c; }
    // The optional exit-vector fast block of the VM's first PL011 (devices/uart_fast.hpp).
    GuestPhysAddr uart_fast_base{0};
    UartFastBlock* uart_fast = nullptr;
    void attach_uart_fast(GuestPhysAddr base, UartFastBlock* block) {
        uart_fast_base = base;
        uart_fast = block;
    }
    // The optional permission to wait inside the guest, as the run loop passed it before each run().
    std::vector<bool> idle_allowed;
    void allow_idle_in_guest(bool allowed) { idle_allowed.push_back(allowed); }
    void set_counter_offset(u64 x) { counter_offset = x; }
    vgic::VcpuSet present_interrupts() { ++presents; return present_kicks; }
    vgic::VcpuSet collect_interrupts() { ++collects; return collect_kicks; }
    bool interrupt_pending() const { return pending; }
    bool timer_interrupt() { ++timer_irqs; return intc != nullptr; }
};
static_assert(ArchVcpu<Vcpu>, "the fake vCPU must implement the generic vCPU interface");

const char* describe_sysreg(u64 id, char* buf, usize size); // "sysreg#<id hex>"

} // namespace arch
