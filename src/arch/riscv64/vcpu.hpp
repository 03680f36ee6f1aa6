// riscv64 vCPU backend: a VS-mode guest under HS-mode cxvisor (RISC-V Privileged Spec 20211203,
// chapter 8 "Hypervisor Extension"). An exit saves the guest's GPRs and trap CSRs only
// (guest_entry.S); the VS CSRs, the timer compare and the FP registers stay in the hart until
// put(), when another vCPU takes it.
#pragma once
#include "vcpu/idle_wait.hpp"
#include "arch.hpp"
#include "base/types.hpp"
#include "kernel/timer.hpp"
#include "vcpu/vcpu_concept.hpp"
#include "vcpu_offsets.hpp"
#include "vintc/vplic.hpp"

namespace arch {

// What guest_entry.S reads and writes (vcpu_offsets.hpp).
struct GuestContext {
    u64 x[32]; // x[0] unused
    u64 sepc, sstatus, hstatus;
    u64 scause, stval, htval, htinst;
    u64 host_ra, host_sp, host_gp, host_tp, host_s[12];
    u64 host_sscratch, host_stvec, host_hstatus, host_sstatus;
};
static_assert(__builtin_offsetof(GuestContext, sepc) == GCTX_SEPC && __builtin_offsetof(GuestContext, scause) == GCTX_SCAUSE &&
              __builtin_offsetof(GuestContext, htinst) == GCTX_HTINST &&
              __builtin_offsetof(GuestContext, host_ra) == GCTX_HOST_RA &&
              __builtin_offsetof(GuestContext, host_s) == GCTX_HOST_S(0) &&
              __builtin_offsetof(GuestContext, host_sscratch) == GCTX_HOST_SSCRATCH &&
              __builtin_offsetof(GuestContext, host_sstatus) == GCTX_HOST_SSTATUS && sizeof(GuestContext) == GCTX_SIZE);

// The VS-level CSRs a guest OS owns (8.2 "Hypervisor and Virtual Supervisor CSRs"), switched by
// load()/put(), plus vstimecmp (Sstc) and the FP registers.
struct VsState {
    u64 vsstatus, vsie, vstvec, vsscratch, vsepc, vscause, vstval, vsatp, vstimecmp;
    u64 fp[33]; // f0-f31, fcsr
};

class Vcpu {
public:
    // The VM's interrupt controller model on riscv64: the vPLIC (vintc/vplic.hpp), presented
    // through hvip.VSEIP.
    using Intc = vplic::Vplic;
    void init(u32 id, u32 vcpu_count, u64 vmid);
    void reset(u64 entry, u64 arg);
    void set_stage2(HostPhysAddr root);
    void load();
    void put();
    ExitReason run();
    u64 pc() const { return m_ctx.sepc; }
    u64 gpr(unsigned n) const { return n > 0 && n < 32 ? m_ctx.x[n] : 0; }
    void set_gpr(unsigned n, u64 v) {
        if (n > 0 && n < 32) m_ctx.x[n] = v;
    }

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

    void attach_vintc(Intc* intc, GuestPhysAddr base);
    void set_counter_offset(u64 offset) { m_htimedelta = 0 - offset; } // guest time = time + htimedelta (8.2.7)
    vgic::VcpuSet present_interrupts();
    vgic::VcpuSet collect_interrupts();
    bool interrupt_pending() const;
    // Optional in the vCPU interface (vmm.cpp tests for it), before every entry: whether the
    // guest may wait for its interrupts inside the guest, allowed while nobody else waits for this
    // hart (as on aarch64: docs/architecture.md "Waiting in the guest"). Every wake source a vCPU
    // has reaches a WFI in VS-mode as an interrupt pending and enabled in hip/sip (Priv 20211203
    // 3.3.3 "Wait for Interrupt", 8.2.3): VSTIP from vstimecmp, the VSSIP/VSEIP cxvisor presents
    // through hvip, or a host interrupt (cxvisor's timer, a kick), which traps to HS-mode and ends
    // the run. How a wait runs in the guest: "Waiting in the guest" in vcpu.cpp.
    void allow_idle_in_guest(bool allowed) {
        m_idle.allow(allowed);
        if (m_idle.noted()) m_idle.resume(m_ctx.sepc, pending_now());
    }
    // No host timer interrupt is forwarded: with Sstc VSTIP comes from vstimecmp, without it from
    // cxvisor's own compare (m_vs.vstimecmp, m_timer).
    bool timer_interrupt() { return false; }

    Vcpu() = default;
    Vcpu(const Vcpu&) = delete;
    Vcpu& operator=(const Vcpu&) = delete;
    ~Vcpu() { timer_cancel(m_timer); }

private:
    // How the results of the SBI call that made the last exit go back (sbi.hpp SbiConduit, plus
    // DBCN write's error and byte count from ConsoleWrite).
    enum class Pending : u8 { None, Sbi, Legacy, Cxv, DbcnWrite };

    void handle_ecall(ExitReason& e);
    void redirect(u64 cause, u64 tval); // deliver an exception to the guest's own handler
    void answer(i64 a0, u64 a1, bool set_a1) {
        m_ctx.x[10] = u64(a0);
        if (set_a1) m_ctx.x[11] = a1;
    }
    void skip(u64 length) { m_ctx.sepc += length; }
    u64 trapped_instruction(); // a virtual-instruction exception's instruction (vcpu.cpp)
    u32 fetch_instruction(u64* fault); // the instruction at sepc, as the guest fetches it
    // Without Sstc (vcpu.cpp): VSTIP from the compare, and the host timer that ends the guest's
    // run at the deadline; a trapped stimecmp access, emulated.
    void emulated_timer_update();
    bool emulate_stimecmp(u64 insn);
    // Waiting in the guest (vcpu.cpp).
    bool pending_with(u64 vsie, u64 hvip, u64 vstimecmp) const;
    bool pending_now() const; // interrupt_pending() with the live CSRs while loaded
    void set_idle_native(bool native);

    GuestContext m_ctx{};
    VsState m_vs{};
    u64 m_hgatp = 0;
    u64 m_henvcfg = 0;
    u64 m_htimedelta = 0;
    u64 m_hvip = 0;  // VSSIP/VSEIP as presented (8.2.3); VSTIP too without Sstc (with it, vstimecmp drives it)
    TimerEvent m_timer; // without Sstc: armed at the deadline on the hart running the vCPU
    Intc* m_intc = nullptr; // null: interrupt_mode "no_irq"
    u64 m_vmid = 0;
    u32 m_id = 0;
    u32 m_vcpu_count = 1;
    u64 m_last_hart = ~0ull; // hart this vCPU last ran on: a move needs a VS-stage TLB flush and FENCE.I
    bool m_loaded = false;
    Pending m_pending = Pending::None;
    // Waiting in the guest (vcpu.cpp, vcpu/idle_wait.hpp): the WFI the guest waits in; while one
    // is noted, and only then, hstatus.VTW is clear in m_ctx.
    IdleWait m_idle{4, [](void* v, bool native) { static_cast<Vcpu*>(v)->set_idle_native(native); }, this};
};

static_assert(ArchVcpu<Vcpu>, "riscv64 Vcpu must implement the generic vCPU interface");

// Per-hart hypervisor set-up (hedeleg, hideleg, hcounteren) and the G-stage probe, once per hart
// at boot (host_cpu_init).
void virt_cpu_init();
// No trapped system registers on riscv64: CSR accesses the guest may not make raise a virtual
// instruction exception, which becomes an illegal instruction in the guest.
inline const char* describe_sysreg(u64, char* buf, usize size) {
    if (size) buf[0] = 0;
    return buf;
}
// Every hart of the host has Sstc (host.cpp): vstimecmp exists and the guest's timer needs no
// emulation. Without it cxvisor emulates the guest's stimecmp and SBI set_timer (vcpu.cpp).
bool host_has_sstc();

} // namespace arch
