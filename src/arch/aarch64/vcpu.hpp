// aarch64 vCPU backend (EL1 guest under a non-VHE EL2 hypervisor).
// Context switching follows the "short exit path" rule: an exit saves only GPRs, PC and PSTATE
// (boot.S); EL1 system registers, the virtual timer and FP/SIMD are switched by load()/put() only
// when another vCPU takes the physical CPU.
#pragma once
#include "vcpu/idle_wait.hpp"
#include "asm_offsets.hpp"
#include "base/types.hpp"
#include "devices/uart_fast.hpp"
#include "stage2_fault.hpp"
#include "vgic_hw.hpp"
#include "vintc/vgic.hpp"
#include "vcpu/vcpu_concept.hpp"

namespace arch {

struct GuestRegs {
    u64 x[31];
    u64 pc;     // ELR_EL2
    u64 pstate; // SPSR_EL2
};
static_assert(sizeof(GuestRegs) == GUEST_REGS_SIZE);

struct FpState {
    u64 q[64]; // q0..q31, 128 bits each
    u64 fpsr, fpcr;
};

// EL1 state of a vCPU while it is not loaded (Arm ARM D13: the registers a guest OS owns).
struct El1State {
    u64 sctlr, ttbr0, ttbr1, tcr, esr, far, afsr0, afsr1, mair, amair, contextidr, vbar;
    u64 tpidr_el0, tpidrro_el0, tpidr_el1, sp_el0, sp_el1, elr_el1, spsr_el1, par, cpacr;
    u64 cntkctl, csselr, cntv_ctl, cntv_cval, mdscr;
    u64 oslk; // emulated OS lock (OSLAR_EL1.OSLK), debug registers being trapped
    // GIC virtual CPU interface (IHI 0069 12.4): guest ICC_* accesses land in ICH_VMCR_EL2 and the
    // active-priority registers, which are per-CPU hardware: switched so no VM sees another's.
    u64 ich_vmcr;
    u64 ich_ap0r[4], ich_ap1r[4];
    // Pointer authentication keys (FEAT_PAuth CPUs only): APIA, APIB, APDA, APDB, APGA lo/hi.
    u64 pauth_keys[10];
};

// What the exit vector (boot.S, low64_sync) answers for the loaded vCPU without the full exit
// path: 32-bit reads of the emulated distributor's identification registers, which are read-only
// and constant for the VM's life (Arm IHI 0069H: GICD_TYPER, GICD_IIDR, GICD_TYPER2, GICD_PIDR2),
// and the VM's first PL011's FR reads and DR writes through its UartFastBlock
// (devices/uart_fast.hpp). Published in PerCpu::exit_fast by load(), withdrawn by put(). Layout
// read by boot.S. An HPFAR of ~0 matches no fault (HPFAR_EL2's top bits are RES0).
struct ExitFast {
    u64 gicd_hpfar = ~0ull; // HPFAR_EL2 of a fault in the distributor's first 4 KiB page
    u32 gicd_typer = 0, gicd_iidr = 0, gicd_typer2 = 0, gicd_pidr2 = 0;
    u64 uart_hpfar = ~0ull; // HPFAR_EL2 of a fault in the PL011's page
    UartFastBlock* uart = nullptr;
};
static_assert(__builtin_offsetof(ExitFast, gicd_hpfar) == EXIT_FAST_GICD_HPFAR &&
              __builtin_offsetof(ExitFast, gicd_typer) == EXIT_FAST_GICD_TYPER &&
              __builtin_offsetof(ExitFast, gicd_iidr) == EXIT_FAST_GICD_IIDR &&
              __builtin_offsetof(ExitFast, gicd_typer2) == EXIT_FAST_GICD_TYPER2 &&
              __builtin_offsetof(ExitFast, gicd_pidr2) == EXIT_FAST_GICD_PIDR2 &&
              __builtin_offsetof(ExitFast, uart_hpfar) == EXIT_FAST_UART_HPFAR &&
              __builtin_offsetof(ExitFast, uart) == EXIT_FAST_UART_BLOCK && sizeof(ExitFast) == EXIT_FAST_SIZE);
static_assert(__builtin_offsetof(UartFastBlock, fr) == UART_FAST_FR &&
              __builtin_offsetof(UartFastBlock, tx_ok) == UART_FAST_TX_OK &&
              __builtin_offsetof(UartFastBlock, head) == UART_FAST_HEAD &&
              __builtin_offsetof(UartFastBlock, tail) == UART_FAST_TAIL &&
              __builtin_offsetof(UartFastBlock, slot) == UART_FAST_SLOT &&
              UartFastBlock::Slots == UART_FAST_SLOTS && UartFastBlock::Committed == UART_FAST_COMMITTED);

class Vcpu {
public:
    // The VM's interrupt controller model on aarch64: the vGICv3 (vintc/vgic.hpp).
    using Intc = vgic::Vgic;
    void init(u32 id, u32 vcpu_count, u64 vmid);
    void reset(u64 entry, u64 arg0);
    void set_stage2(HostPhysAddr root);
    void load();
    void put();
    ExitReason run();
    u64 pc() const { return m_regs.pc; }
    u64 gpr(unsigned n) const { return n < 31 ? m_regs.x[n] : 0; }
    void set_gpr(unsigned n, u64 v) { if (n < 31) m_regs.x[n] = v; }

    Result<MmioAccess> decode_mmio(ExitReason& exit, GuestMemoryReader mem);
    u64 mmio_write_value(const MmioAccess& a) const;
    void complete_mmio(const MmioAccess& a, u64 read_value);
    void complete_sysreg(const ExitReason& exit, u64 read_value);
    void set_hypercall_result(u64 r0, u64 r1, u64 r2, u64 r3);
    void set_power_result(PowerResult r);
    void set_power_state_result(CpuPowerState s);
    void inject_external_abort(u64 gpa, AccessKind access);
    void inject_undefined();
    u64 wake_deadline() const;
    static u64 mpidr_to_vcpu(u64 mpidr); // PSCI target MPIDR -> vCPU index (~0 if malformed); aarch64 only

    void attach_vintc(Intc* intc, GuestPhysAddr dist_base);
    // Optional in the vCPU interface (vm.cpp tests for it): the VM's first PL011, whose FR reads
    // and DR writes the exit vector serves from `block` (ExitFast). Once, at VM creation.
    void attach_uart_fast(GuestPhysAddr base, UartFastBlock* block);
    void set_counter_offset(u64 offset) { m_cntvoff = offset; }
    // Inline: called around every entry, and a VM without a vGIC (or, inside, a vCPU with nothing
    // queued) must pay next to nothing for them.
    vgic::VcpuSet present_interrupts() { return m_vgic ? present_queued() : vgic::VcpuSet{}; }
    vgic::VcpuSet collect_interrupts() { return m_vgic ? collect_queued() : vgic::VcpuSet{}; }
    bool interrupt_pending() const;
    bool timer_interrupt();
    // Optional in the vCPU interface (vmm.cpp tests for it), before every entry: whether the
    // guest may wait for its interrupts inside the guest, allowed while nobody else waits for this
    // CPU (KVM's default, Xen's vwfi=native). Only a vCPU with a vGIC takes it: every wake source
    // it has then reaches this CPU as an interrupt that exits to EL2 (the timer PPI, host timers,
    // kicks) or is a virtual one in a list register, and either ends a WFI (DDI0487 K.a D1.16.2
    // "Wait for Interrupt"); a VM without one is woken by cxvisor's wake-up timer, which only a
    // trapped WFI arms. How a wait runs in the guest: "Waiting in the guest" in vcpu.cpp.
    void allow_idle_in_guest(bool allowed) {
        m_idle.allow(allowed && m_vgic != nullptr);
        if (m_idle.noted()) m_idle.resume(m_regs.pc, interrupt_pending());
    }

    // The guest-visible INTIDs of the generic timer's PPIs (what cxv-vmconfig's generated device
    // tree says: PPI 11 virtual, PPI 14 non-secure physical; Arm BSA / SBSA recommended numbers).
    static constexpr u32 GUEST_VTIMER_INTID = 27;
    static constexpr u32 GUEST_PTIMER_INTID = 30;

#ifdef CXV_EXIT_STATS
    // Measurement builds only (cmake -DCXV_EXIT_STATS=ON): every exit of this vCPU by exception
    // class (ESR_EL2.EC, DDI0487 K.a D24.2.40) or as a physical interrupt, for boot profiles.
    struct ExitStats {
        u32 irq;
        u32 ec[64];
    };
    const ExitStats& exit_stats() const { return m_stats; }
    void clear_exit_stats() { m_stats = {}; }
#endif

private:
    void set_idle_native(bool native);
    void handle_sync(u64 esr, ExitReason& e);
    void handle_smccc(ExitReason& e);
    bool emulate_debug_sysreg(u64 iss);
    void handle_abort(u64 esr, u64 ec, ExitReason& e);
    // Advances past the trapped instruction: ESR_EL2.IL says 16-bit (T32) or 32-bit (D17.2.40).
    // Completing an instruction is progress for the stage-2 fault guard (a polled UART register
    // faults at the same PC every time, legitimately).
    void skip_instruction() {
        m_regs.pc += (m_esr & (1ull << 25)) ? 4 : 2;
        m_fault_guard.progress();
    }
    bool take_vtimer_irq();
    vgic::VcpuSet present_queued();
    vgic::VcpuSet collect_queued();
    bool guest_is_aarch32() const { return m_regs.pstate & 0x10; } // SPSR_EL2.M[4]
    void inject_sync(u64 esr, u64 far, bool set_far);

    GuestRegs m_regs{};
    El1State m_el1{};
    FpState m_fp{};
    u64 m_vttbr = 0;
    u64 m_vmid = 0;
    u64 m_vmpidr = 0;
    u32 m_id = 0;
    // Last exit syndrome, for decode_mmio.
    u64 m_esr = 0;
    u64 m_far = 0;
    // Stops a guest stuck on one stage-2 fault that retrying does not fix (stage2_fault.hpp).
    s2fault::RepeatGuard m_fault_guard;
    // Virtual interrupts: the VM's vGIC (null with interrupt_mode "no_irq"), the list registers
    // filled by the last present_interrupts(), and the VM's CNTVOFF_EL2.
    Intc* m_vgic = nullptr;
    vgichw::LrContext m_lrs;
    ExitFast m_exit_fast;
    bool m_exit_fast_ok = false;
    // Waiting in the guest (vcpu.cpp, vcpu/idle_wait.hpp): the WFI the guest waits in; while one
    // is noted, and only then, HCR_EL2.TWI is clear on this CPU.
    IdleWait m_idle{4, [](void* v, bool native) { static_cast<Vcpu*>(v)->set_idle_native(native); }, this};
    bool m_vtimer_raise = false; // the timer PPI was taken but not shown live: raise after the fold
    u64 m_cntvoff = 0;
#ifdef CXV_EXIT_STATS
    ExitStats m_stats{};
#endif
};

static_assert(ArchVcpu<Vcpu>, "aarch64 Vcpu must implement the generic vCPU interface");

// Per-CPU EL2 setup for running guests: HCR_EL2, MDCR_EL2, CPTR_EL2, CNTHCTL_EL2, VTCR_EL2, once
// per physical CPU at boot (they are the same for every VM).
void virt_cpu_init();
// Boot CPU, once, before any vCPU runs: the host INTID of the virtual timer's PPI (from the host
// DTB), which guests' virtual timer interrupts are hardware-linked to.
void virt_set_timer_intid(u32 intid);
const char* describe_sysreg(u64 id, char* buf, usize size);

} // namespace arch
