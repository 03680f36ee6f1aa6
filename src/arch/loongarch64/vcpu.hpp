// loongarch64 vCPU backend: a guest under LVZ, the LoongArch virtualization extension (the guest
// runs with its own copies of the basic CSRs, the guest CSRs; exceptions it does not take itself
// exit to cxvisor). An exit saves the guest's GPRs and PC and the exit's ESTAT/BADV/BADI
// (guest_entry.S); the guest CSRs stay in the core until put(), when another vCPU takes it.
// Host-mode CSRs and the guest-CSR list: lvz_csr.hpp; exit decoding: lvz_exit.hpp; the hypercall
// conduit: lvz_hypercall.hpp; GPA tables: arch_stage2.hpp.
#pragma once
#include "arch.hpp"
#include "asm_offsets.hpp"
#include "base/types.hpp"
#include "fp_context.hpp"
#include "lvz_csr.hpp"
#include "lvz_exit.hpp"
#include "vcpu/vcpu_concept.hpp"
#include "vintc/veiointc.hpp"

namespace arch {

// What guest_entry.S reads and writes (asm_offsets.hpp GCTX_*).
struct GuestContext {
    u64 r[32]; // r[0] unused
    u64 era;   // the guest's PC
    u64 estat, badv, badi;
    u64 host_ra, host_sp, host_tp, host_fp, host_s[9];
    u64 gstat, gtlbc, gpa_root, host_eentry, fork_csrs;
};
static_assert(__builtin_offsetof(GuestContext, era) == GCTX_ERA && __builtin_offsetof(GuestContext, badi) == GCTX_BADI &&
              __builtin_offsetof(GuestContext, host_ra) == GCTX_HOST_RA &&
              __builtin_offsetof(GuestContext, host_s) == GCTX_HOST_S(0) &&
              __builtin_offsetof(GuestContext, gstat) == GCTX_GSTAT &&
              __builtin_offsetof(GuestContext, gpa_root) == GCTX_GPA_ROOT &&
              __builtin_offsetof(GuestContext, fork_csrs) == GCTX_FORK_CSRS && sizeof(GuestContext) == GCTX_SIZE);

class Vcpu {
public:
    // The guest board's PCH-PIC and EIOINTC (vintc/veiointc.hpp) for an "emulated" VM: its pins
    // IP0-3 are the vCPU's HWI0-3, presented through GINTC (lvz_irq.hpp); the guest timer and IPIs
    // are the vCPU's own in every VM.
    using Intc = veiointc::Veiointc;
    void init(u32 id, u32 vcpu_count, u64 vmid);
    void reset(u64 entry, u64 arg);
    void set_stage2(HostPhysAddr root) { m_ctx.gpa_root = root.value(); }
    void load();
    void put();
    ExitReason run();
    u64 pc() const { return m_ctx.era; }

    Result<MmioAccess> decode_mmio(ExitReason& exit, GuestMemoryReader mem);
    u64 mmio_write_value(const MmioAccess& a) const;
    void complete_mmio(const MmioAccess& a, u64 read_value);
    void complete_sysreg(const ExitReason&, u64) {} // loongarch64 reports no SysReg exits
    void set_hypercall_result(u64 r0, u64 r1, u64 r2, u64 r3);
    void set_power_result(PowerResult r);
    void set_power_state_result(CpuPowerState s);
    void inject_external_abort(u64 gpa, AccessKind access);
    void inject_undefined();
    u64 wake_deadline() const;

    void attach_vintc(Intc* intc, GuestPhysAddr) { m_intc = intc; }
    // The guest's counter is the host's plus GCNTC (LVZ), written at load().
    void set_counter_offset(u64 offset) { m_gcntc = 0 - offset; }
    vgic::VcpuSet present_interrupts() { return {}; }
    vgic::VcpuSet collect_interrupts() { return {}; }
    bool interrupt_pending() const;
    bool timer_interrupt() { return false; } // the guest timer interrupts the guest, not the host
    // The guest's hardware interrupt lines HWI0-7 (bit n: HWI n, ESTAT.IS[2 + n]) as the VM's
    // interrupt controller drives them (0 in a "no_irq" VM); each entry presents them through
    // GINTC (lvz_irq.hpp). The model's set_line and register writes name the vCPUs to kick.
    u8 hwi_lines() const { return m_intc ? m_intc->hwi_lines(m_id) : 0; }

    Vcpu() = default;
    Vcpu(const Vcpu&) = delete;
    Vcpu& operator=(const Vcpu&) = delete;

private:
    void handle_hvcl(ExitReason& e);
    void handle_gspr(const lvz::GsprInsn& g, ExitReason& e);
    void handle_iocsr(const lvz::GsprInsn& g, ExitReason& e);
    void handle_ged(ExitReason& e);
    // Delivers an exception to the guest's own handler, as the hardware would have taken it in the
    // guest (LA Vol. 1 v1.10, 6.2.1: PRMD <- CRMD's PLV/IE, CRMD.PLV 0 and IE 0, ERA, ESTAT's
    // Ecode/EsubCode, BADV, PC <- EENTRY).
    void deliver(u32 ecode, u32 subcode, u64 badv);
    void present_hwi(u8 lines);
    u64& gpr(u32 n) { return m_ctx.r[n & 31]; }
    void set_gpr(u32 n, u64 v) {
        if (n & 31) m_ctx.r[n & 31] = v;
    }

    GuestContext m_ctx{};
    u64 m_gcsr[lvz::GUEST_CSR_COUNT] = {};
    lvz::FpSlot m_fp; // f0-f31 (or vr/xr), FCC, FCSR0 while off the core (fp_context.hpp)
    lvz::GuestTimer m_timer;
    u64 m_put_at = 0; // counter at put(): the timer ran on without a core meanwhile
    u64 m_timer_due = 0; // counter at which the one-shot guest timer saved at put() expires (0: none)
    u64 m_gcntc = 0;
    lvz::Exit m_exit;  // the last exit, decoded (decode_mmio reads its access)
    u64 m_vmid = 0;
    u32 m_id = 0;
    u32 m_vcpu_count = 1;
    u32 m_tlb_generation = 0; // the VM's GPA-table generation this vCPU's core last invalidated for
    u64 m_last_core = ~0ull;
    bool m_loaded = false;
    bool m_ipi_presented = false; // ESTAT.IS[12] as last written
    bool m_csrs_changed = false;  // m_gcsr changed while off the core: load() must write it back
    Intc* m_intc = nullptr;   // null: "no_irq"
    bool m_ipi_start = false; // the pending CpuUp came from the IPI block (no result register)
    u8 m_hwi_presented = 0;   // GINTC.HWIS as last written on this vCPU's core
};

static_assert(ArchVcpu<Vcpu>, "loongarch64 Vcpu must implement the generic vCPU interface");

// Per-core LVZ set-up (GCFG, GTLBC numbering, the guest-CSR access check), once per core at boot
// (host_cpu_init).
void virt_cpu_init();
inline const char* describe_sysreg(u64, char* buf, usize size) {
    if (size) buf[0] = 0;
    return buf;
}

} // namespace arch
