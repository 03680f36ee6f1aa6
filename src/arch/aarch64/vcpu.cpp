// aarch64 vCPU backend. Arm ARM (DDI0487) sections cited per register; ESR_EL2 encodings from
// D17.2.40 (ESR_EL2), exception classes from D17.2.40 Table "EC".
#include "vcpu.hpp"
#include "abi/smccc.hpp"
#include "base/format.hpp"
#include "mmio_decode.hpp"
#include "arch_stage2.hpp"
#include "exception_entry.hpp"
#include "idregs.hpp"
#include "kernel/log.hpp"
#include "kernel/percpu.hpp"
#include "kernel/sched.hpp"
#include "smccc_fast.hpp"
#include "spectre.hpp"
#include "stage2_fault.hpp"
#include "sysreg.hpp"
#include "timer_hw.hpp"
#include "vgic_hw.hpp"
#include "vintc/vgic.hpp"
#include "vintc/gicv3_regs.hpp"
#include "vcpu/emulated_timer.hpp"

extern "C" u64 cxv_guest_enter(arch::GuestRegs* regs);
extern "C" void cxv_fpsimd_save(arch::FpState* s);
extern "C" void cxv_fpsimd_restore(const arch::FpState* s);

namespace arch {

namespace {

// HCR_EL2 (D13.2.46). Each trap is chosen on purpose:
constexpr u64 HCR_VM = bit(0);     // stage-2 translation on
constexpr u64 HCR_SWIO = bit(1);   // DC ISW by the guest behaves as DC CISW (never discards host data)
constexpr u64 HCR_FMO = bit(3);    // physical FIQ/IRQ/SError go to EL2: the host always keeps control
constexpr u64 HCR_IMO = bit(4);
constexpr u64 HCR_AMO = bit(5);
constexpr u64 HCR_FB = bit(9);     // broadcast guest TLB/I-cache maintenance (vCPUs migrate)
constexpr u64 HCR_BSU_IS = 1ull << 10; // barriers are inner shareable, as the guest expects on SMP
constexpr u64 HCR_TWI = bit(13);   // WFI traps: a waiting vCPU gives its physical CPU away
constexpr u64 HCR_TID3 = bit(18);  // ID registers: each guest reads the sanitised table (idregs.hpp)
constexpr u64 HCR_TSC = bit(19);   // SMC traps: firmware calls are answered by cxvisor, never EL3
constexpr u64 HCR_TIDCP = bit(20); // implementation-defined registers are not the guest's to touch
constexpr u64 HCR_TACR = bit(21);  // ACTLR_EL1 is per-implementation and not switched: emulate it
constexpr u64 HCR_TSW = bit(22);   // set/way cache maintenance would act on other VMs' lines
constexpr u64 HCR_RW = bit(31);    // EL1 is AArch64
// Set only where the feature exists (the bits are RES0 otherwise): trapped accesses UNDEF, as the
// sanitised ID registers say the feature is absent.
constexpr u64 HCR_TLOR = bit(35);  // FEAT_LOR: LORSA/LOREA/LORN/LORC/LORID_EL1
constexpr u64 HCR_TERR = bit(36);  // FEAT_RAS: ERR*/ERX* error-record registers
// HCR_EL2.FIEN (bit 47, FEAT_RASv1p1) stays 0: ERXPFG* fault-injection registers trap as well.
constexpr u64 HCR_APK = bit(40);   // pointer authentication keys/instructions are not trapped
constexpr u64 HCR_API = bit(41);
constexpr u64 HCR_VALUE = HCR_VM | HCR_SWIO | HCR_FMO | HCR_IMO | HCR_AMO | HCR_FB | HCR_BSU_IS |
                          HCR_TWI | HCR_TID3 | HCR_TSC | HCR_TIDCP | HCR_TACR | HCR_TSW | HCR_RW | HCR_APK | HCR_API;

// CPTR_EL2 (D13.2.31, non-VHE layout): RES1 bits 13:12 and 9:0; FP/SIMD not trapped (switched
// eagerly in load/put), trace registers trapped (TTA): cxvisor does not virtualize trace.
// Bit 8 (TZ) and bit 12 (TSM) are in the RES1 mask: SVE and SME trap (EC 0x19/0x1D -> UNDEF).
constexpr u64 CPTR_VALUE = 0x33FF | bit(20);
constexpr u64 CPTR_TAM = bit(30); // FEAT_AMUv1: activity monitors trap (EC 0x18 -> UNDEF)

// SPSR value for a fresh vCPU: EL1h, D, A, I, F masked (D1.4 / C5.2.18).
constexpr u64 PSTATE_EL1H_MASKED = 0x3C5;
// SCTLR_EL1 reset: RES1 bits of Armv8.0 (D13.2.118), MMU and caches off.
constexpr u64 SCTLR_EL1_RESET = 0x30D00800;

// Exception classes (ESR_ELx.EC).
constexpr u64 EC_UNKNOWN = 0x00;
constexpr u64 EC_WFX = 0x01;
constexpr u64 EC_HVC64 = 0x16;
constexpr u64 EC_SMC64 = 0x17;
constexpr u64 EC_SYSREG = 0x18;
constexpr u64 EC_IABT_LOW = 0x20;
constexpr u64 EC_IABT_CUR = 0x21;
constexpr u64 EC_DABT_LOW = 0x24;
constexpr u64 EC_DABT_CUR = 0x25;
constexpr u64 EC_SERROR = 0x2F;
constexpr u64 ESR_IL = bit(25);

MmioAccess to_access(u64 gpa, const DecodedAccess& d) {
    MmioAccess a{};
    a.gpa = gpa;
    a.width = d.width;
    a.is_write = d.is_write;
    a.insn = {d.sign_extend, d.reg_is_64, d.reg, d.writeback, d.base_reg, d.writeback_delta};
    return a;
}

// ICH_VTR_EL2.PREbits (IHI 0069 12.5.x): how many active-priority registers exist per group.
u32 g_ich_apr_count = 1;
// Each CPU's HCR_EL2 value with every trap on (virt_cpu_init); TWI is cleared only for a vCPU
// that may wait in the guest (Vcpu::allow_idle_in_guest), never past its put().
u64 g_hcr[MAX_CPUS];
// FEAT_PAuth present (ID_AA64ISAR1_EL1 APA/API/GPA/GPI): keys are switched per vCPU.
bool g_has_pauth = false;
// What every guest reads from the ID space (idregs.hpp), filled by virt_cpu_init.
u64 g_guest_id[idregs::SLOTS];
// Hardware PSTATE rules for injected exceptions (exception_entry.hpp).
PstateFeatures g_pstate_features;
// The worst Spectre-v2/BHB state over all CPUs: what SMCCC_ARCH_FEATURES tells guests.
u8 g_v2_state = 0, g_bhb_state = 0;
// Host INTID of the virtual timer PPI (host DTB), and whether it is enabled at each CPU's
// redistributor: only while a vCPU with a vGIC is loaded (0 unknown, 1 on, 2 off).
u32 g_vtimer_pintid = 0;
u8 g_vtimer_ppi_state[MAX_CPUS];

// A guest without a vGIC must not make the host take its timer's interrupt (nobody could hand it
// on, and the level line would fire again at once): its WFI wake-ups use wake_deadline() instead.
void set_vtimer_ppi(bool on) {
    u8& st = g_vtimer_ppi_state[cpu_id()];
    if (!g_vtimer_pintid || st == (on ? 1 : 2)) return;
    irq_enable(g_vtimer_pintid, on);
    st = on ? 1 : 2;
}

// Reads the host's value of ID-space slot `s` (op0 = 3, op1 = 0, CRn = 0, CRm = s / 8 + 1,
// op2 = s % 8). Reserved encodings of the space read as zero on hardware (ID scheme rules).
u64 read_id_slot(unsigned s) {
#define CXV_ID(crm, op2)                                                                           \
    case idregs::slot(crm, op2): return read_sysreg(S3_0_C0_C##crm##_##op2);
#define CXV_ID_ROW(crm) CXV_ID(crm, 0) CXV_ID(crm, 1) CXV_ID(crm, 2) CXV_ID(crm, 3) CXV_ID(crm, 4) \
    CXV_ID(crm, 5) CXV_ID(crm, 6) CXV_ID(crm, 7)
    switch (s) {
        CXV_ID_ROW(1) CXV_ID_ROW(2) CXV_ID_ROW(3) CXV_ID_ROW(4) CXV_ID_ROW(5) CXV_ID_ROW(6) CXV_ID_ROW(7)
    default: return 0;
    }
#undef CXV_ID_ROW
#undef CXV_ID
}

// A guest must not re-enter a state it could never reach on hardware: keep the worst value.
void worsen(u8& state, spectre::State s) {
    u8 v = u8(s), cur = __atomic_load_n(&state, __ATOMIC_RELAXED);
    while (v > cur && !__atomic_compare_exchange_n(&state, &cur, v, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {}
}

u64 sysreg_id_from_iss(u64 iss) {
    // Pack op0:op1:CRn:CRm:op2 like the MRS encoding does (C5.3.x), for printing and matching.
    u64 op0 = bits(iss, 21, 20), op2 = bits(iss, 19, 17), op1 = bits(iss, 16, 14);
    u64 crn = bits(iss, 13, 10), crm = bits(iss, 4, 1);
    return (op0 << 14) | (op1 << 11) | (crn << 7) | (crm << 3) | op2;
}
constexpr u64 sysreg_id(u64 op0, u64 op1, u64 crn, u64 crm, u64 op2) {
    return (op0 << 14) | (op1 << 11) | (crn << 7) | (crm << 3) | op2;
}

} // namespace

const char* describe_sysreg(u64 id, char* buf, usize size) {
    format(buf, size, "S%lu_%lu_C%lu_C%lu_%lu", bits(id, 15, 14), bits(id, 13, 11), bits(id, 10, 7),
           bits(id, 6, 3), bits(id, 2, 0));
    return buf;
}

// What the guest-exit path (boot.S) does per CPU before cxvisor runs an indirect branch, in
// PerCpu::exit_plan (one load from TPIDR_EL2 on every exit): bits [7:0] BHB loop count k, bit 8
// CLRBHB, bit 9 firmware call through SMC, bit 10 through HVC, bits [63:32] its SMCCC function id.
static_assert(__builtin_offsetof(PerCpu, guest_regs) == PERCPU_GUEST_REGS &&
              __builtin_offsetof(PerCpu, host_sp) == PERCPU_HOST_SP && __builtin_offsetof(PerCpu, id) == PERCPU_ID &&
              __builtin_offsetof(PerCpu, stack_top) == PERCPU_STACK_TOP &&
              __builtin_offsetof(PerCpu, exit_plan) == PERCPU_EXIT_PLAN &&
              __builtin_offsetof(PerCpu, exit_fast) == PERCPU_EXIT_FAST);
// Nonzero where FEAT_RAS is implemented: the exit path synchronises errors with ESB (boot.S).
extern "C" u8 cxv_has_ras;
u8 cxv_has_ras;

namespace {

void init_spectre(u64 pfr0, u64 mmfr1, u64 isar2) {
    FirmwareWorkarounds fw = firmware_workarounds();
    spectre::Facts facts{read_sysreg(midr_el1), pfr0, mmfr1, isar2, fw.wa1, fw.wa3};
    spectre::ExitPlan p = spectre::plan(facts);
    u64 word = p.bhb_loop_k | (p.clrbhb ? bit(8) : 0);
    if (p.fw_call) word |= (fw.conduit_hvc ? bit(10) : bit(9)) | (u64(p.fw_call) << 32);
    this_cpu().exit_plan = word;
    worsen(g_v2_state, p.v2);
    worsen(g_bhb_state, p.bhb);
    if (cpu_id() == 0) { // one line for the operator: what guests are told and what each exit costs
        static const char* const states[] = {"unaffected", "mitigated", "vulnerable"};
        kprint("cxvisor: Spectre-v2 %s, Spectre-BHB %s (exit: BHB loop k=%u%s%s; firmware WORKAROUND_1 %s, _3 %s)\n",
               states[u8(p.v2)], states[u8(p.bhb)], p.bhb_loop_k, p.clrbhb ? ", CLRBHB" : "",
               p.fw_call ? ", firmware call" : "", fw.wa1 ? "yes" : "no", fw.wa3 ? "yes" : "no");
    }
}

} // namespace

void virt_cpu_init() {
    g_ich_apr_count = vgichw::host_vtr().apr_count(); // ICH_VTR_EL2.PREbits decides it
    u64 isar1 = read_sysreg(id_aa64isar1_el1);
    g_has_pauth = bits(isar1, 7, 4) || bits(isar1, 11, 8) || bits(isar1, 27, 24) || bits(isar1, 31, 28);
    const u64 pfr0 = read_sysreg(id_aa64pfr0_el1), pfr1 = read_sysreg(id_aa64pfr1_el1);
    const u64 dfr0 = read_sysreg(id_aa64dfr0_el1), mmfr1 = read_sysreg(id_aa64mmfr1_el1);
    const u64 isar2 = read_sysreg(S3_0_C0_C6_2); // ID_AA64ISAR2_EL1
    // The guests' ID view. All CPUs are assumed to be alike (cxvisor runs on homogeneous systems);
    // each CPU writes the same table.
    const idregs::Limits lim{u8(stage2_cpu_config().ps)};
    for (unsigned s = 0; s < idregs::SLOTS; ++s) g_guest_id[s] = idregs::sanitise(s, read_id_slot(s), lim);
    g_pstate_features = PstateFeatures{bits(mmfr1, 23, 20) != 0, bits(pfr1, 7, 4) != 0, bits(pfr1, 11, 8) != 0};
    cxv_has_ras = bits(pfr0, 31, 28) != 0;
    init_spectre(pfr0, mmfr1, isar2);
    write_sysreg(S3_4_C12_C11_0, 0); // ICH_HCR_EL2: virtual CPU interface off until the vGIC exists
    // CPTR_EL2 (DDI0487 K.a register description): TAM only where FEAT_AMUv1 exists (RES0 otherwise).
    write_sysreg(cptr_el2, CPTR_VALUE | (bits(pfr0, 47, 44) ? CPTR_TAM : 0));
    // MDCR_EL2 (D13.2.73): trap PMU (TPM, TPMCR) and debug (TDA, TDOSA, TDRA) registers: they are
    // shared machine state. HPMN keeps all event counters for EL1 as architecture requires.
    // Where they exist, profiling (TPMS, FEAT_SPE; E2PB = 0b00 keeps the buffer EL2's) and trace
    // filter (TTRF, FEAT_TRF) registers trap too; E2TB = 0b00 (FEAT_TRBE) makes the trace buffer
    // EL2's and traps EL1's accesses. All of them then UNDEF, matching the hidden ID fields.
    u64 pmcr_n = bits(read_sysreg(pmcr_el0), 15, 11);
    u64 mdcr = pmcr_n | bit(5) | bit(6) | bit(9) | bit(10) | bit(11);
    if (bits(dfr0, 35, 32)) mdcr |= bit(14);
    if (bits(dfr0, 43, 40)) mdcr |= bit(19);
    write_sysreg(mdcr_el2, mdcr);
    // PMUSERENR_EL0 (not switched: guest writes UNDEF): with EN = 0 the hardware would send
    // a guest's EL0 PMU accesses to its EL1 as EC 0x18 traps, before MDCR_EL2.TPM sees them, which
    // a CPU without a PMU never does. Enabling EL0 access here makes every one of them reach EL2
    // and UNDEF, as ID_AA64DFR0_EL1.PMUVer = 0 says. Only EN: QEMU 7.2 lets EL0 read the cycle and
    // event counters with CR/ER set without checking MDCR_EL2.TPM. Only where the PMU exists.
    if (const u64 pmuver = bits(dfr0, 11, 8); pmuver != 0 && pmuver != 0xF) write_sysreg(pmuserenr_el0, 1);
    // CNTHCTL_EL2 (D13.8.x, non-VHE): EL1 may read the physical counter, but the EL1 physical timer
    // traps; guests use the virtual timer. CNTVOFF_EL2 is per VM (load()); 0 until a vCPU runs.
    write_sysreg(cnthctl_el2, 1);
    write_sysreg(cntvoff_el2, 0);
    write_sysreg(vtcr_el2, stage2_vtcr());
    u64 hcr = HCR_VALUE;
    if (bits(mmfr1, 19, 16)) hcr |= HCR_TLOR;
    if (cxv_has_ras) hcr |= HCR_TERR;
    g_hcr[cpu_id()] = hcr;
    write_sysreg(hcr_el2, hcr);
    isb();
    // No TLB entry may survive from before cxvisor (firmware, a previous boot, another hypervisor):
    // TLBI ALLE1IS drops all EL1&0 entries of every VMID, before any VM runs (D8.14 "TLB
    // maintenance instructions"). Each CPU does it once, before its first guest entry.
    dsb_ishst();
    asm volatile("tlbi alle1is" ::: "memory");
    dsb_ish();
    isb();
}

// vcpu_count: PSCI CPU_ON's target range is checked by the generic level (vmm_handle_exit).
void Vcpu::init(u32 id, u32, u64 vmid) {
    m_id = id;
    m_vmid = vmid;
    // VMPIDR_EL2 (D13.2.137): Aff0 = vCPU index, bit 31 RES1, U=0 (multiprocessor).
    m_vmpidr = bit(31) | id;
}

void Vcpu::reset(u64 entry, u64 arg0) {
    m_idle.forget(); // an Off vCPU was put(): TWI is set
    m_regs = GuestRegs{};
    m_regs.x[0] = arg0;
    m_regs.pc = entry;
    m_regs.pstate = PSTATE_EL1H_MASKED;
    m_el1 = El1State{};
    m_el1.sctlr = SCTLR_EL1_RESET;
    m_fp = FpState{};
}

void Vcpu::set_stage2(HostPhysAddr root) {
    // VTTBR_EL2 (D13.2.140): BADDR plus VMID[55:48] (8-bit VMIDs; VTCR_EL2.VS = 0).
    m_vttbr = root.value() | (m_vmid << 48);
}

void Vcpu::load() {
    // The virtual timer first, before its registers come back. KVM's rule for a hardware-linked
    // timer (IHI 0069H, "Forwarding interrupts to a virtual machine"): the physical PPI is made
    // active while the virtual one is pending or active, so it cannot fire again until the guest
    // deactivates the virtual one, whichever CPU the vCPU ran on when it fired.
    set_vtimer_ppi(m_vgic != nullptr);
    if (m_vgic) {
        auto st = m_vgic->irq_state(GUEST_VTIMER_INTID, u16(m_id));
        if (st.is_ok() && (st.value().active || st.value().pending())) ppi_set_active(g_vtimer_pintid, true);
    }
    write_sysreg(cntvoff_el2, m_cntvoff); // CNTVCT_EL0 = CNTPCT_EL0 - CNTVOFF_EL2 (D11.2.4)
    write_sysreg(vttbr_el2, m_vttbr);
    write_sysreg(vmpidr_el2, m_vmpidr);
    write_sysreg(vpidr_el2, read_sysreg(midr_el1));
    write_sysreg(sctlr_el1, m_el1.sctlr);
    write_sysreg(ttbr0_el1, m_el1.ttbr0);
    write_sysreg(ttbr1_el1, m_el1.ttbr1);
    // Only when it differs (a vCPU resuming after WFI on the CPU it left finds its own value):
    // writing TCR_EL1 makes QEMU 7.2 flush the CPU's whole softmmu TLB (target/arm/helper.c
    // vmsa_tcr_el12_write) even for an unchanged value, and every refill walks both stages.
    // Nothing architectural hangs on the write: TLB entries are tagged by VMID and ASID (DDI0487
    // K.a, D8.14), so skipping an identical write is exact.
    if (read_sysreg(tcr_el1) != m_el1.tcr) write_sysreg(tcr_el1, m_el1.tcr);
    write_sysreg(esr_el1, m_el1.esr);
    write_sysreg(far_el1, m_el1.far);
    write_sysreg(afsr0_el1, m_el1.afsr0);
    write_sysreg(afsr1_el1, m_el1.afsr1);
    write_sysreg(mair_el1, m_el1.mair);
    write_sysreg(amair_el1, m_el1.amair);
    write_sysreg(contextidr_el1, m_el1.contextidr);
    write_sysreg(vbar_el1, m_el1.vbar);
    write_sysreg(tpidr_el0, m_el1.tpidr_el0);
    write_sysreg(tpidrro_el0, m_el1.tpidrro_el0);
    write_sysreg(tpidr_el1, m_el1.tpidr_el1);
    write_sysreg(sp_el0, m_el1.sp_el0);
    write_sysreg(sp_el1, m_el1.sp_el1);
    write_sysreg(elr_el1, m_el1.elr_el1);
    write_sysreg(spsr_el1, m_el1.spsr_el1);
    write_sysreg(par_el1, m_el1.par);
    write_sysreg(cpacr_el1, m_el1.cpacr);
    write_sysreg(cntkctl_el1, m_el1.cntkctl);
    write_sysreg(csselr_el1, m_el1.csselr);
    write_sysreg(cntv_cval_el0, m_el1.cntv_cval);
    write_sysreg(cntv_ctl_el0, m_el1.cntv_ctl);
    write_sysreg(S3_4_C12_C11_7, m_el1.ich_vmcr); // ICH_VMCR_EL2
    write_sysreg(S3_4_C12_C8_0, m_el1.ich_ap0r[0]);
    write_sysreg(S3_4_C12_C9_0, m_el1.ich_ap1r[0]);
    if (g_ich_apr_count > 1) {
        write_sysreg(S3_4_C12_C8_1, m_el1.ich_ap0r[1]);
        write_sysreg(S3_4_C12_C9_1, m_el1.ich_ap1r[1]);
    }
    if (g_ich_apr_count > 2) {
        write_sysreg(S3_4_C12_C8_2, m_el1.ich_ap0r[2]);
        write_sysreg(S3_4_C12_C8_3, m_el1.ich_ap0r[3]);
        write_sysreg(S3_4_C12_C9_2, m_el1.ich_ap1r[2]);
        write_sysreg(S3_4_C12_C9_3, m_el1.ich_ap1r[3]);
    }
    if (g_has_pauth) {
        const u64* k = m_el1.pauth_keys;
        write_sysreg(S3_0_C2_C1_0, k[0]); // APIAKeyLo_EL1
        write_sysreg(S3_0_C2_C1_1, k[1]); // APIAKeyHi_EL1
        write_sysreg(S3_0_C2_C1_2, k[2]); // APIBKeyLo_EL1
        write_sysreg(S3_0_C2_C1_3, k[3]); // APIBKeyHi_EL1
        write_sysreg(S3_0_C2_C2_0, k[4]); // APDAKeyLo_EL1
        write_sysreg(S3_0_C2_C2_1, k[5]); // APDAKeyHi_EL1
        write_sysreg(S3_0_C2_C2_2, k[6]); // APDBKeyLo_EL1
        write_sysreg(S3_0_C2_C2_3, k[7]); // APDBKeyHi_EL1
        write_sysreg(S3_0_C2_C3_0, k[8]); // APGAKeyLo_EL1
        write_sysreg(S3_0_C2_C3_1, k[9]); // APGAKeyHi_EL1
    }
    cxv_fpsimd_restore(&m_fp);
    this_cpu().exit_fast = m_exit_fast_ok ? &m_exit_fast : nullptr;
    isb();
}

// Waiting in the guest. A WFI traps first (HCR_EL2.TWI): when the vCPU may wait here and nothing
// is pending for it, cxvisor notes the WFI's PC, clears TWI and re-enters the guest at the WFI
// itself, which now waits in the guest. Whatever ends that wait exits to EL2 (the guest's own
// interrupts are physical ones routed to EL2 or virtual ones cxvisor puts in a list register on
// an exit), so cxvisor sees every end: an exit at the WFI or just past it (ELR_EL2 = PC + 4,
// D1.16.2) with nothing pending for the guest was a host interrupt, and the guest goes back to the
// WFI, so it never sees a wake-up it could not have had on hardware with the CPU to itself; with
// something pending, or any other exit, the wait is over and TWI is set again. Saves the exit's
// round trip through the scheduler (block, idle, wake IPI, reload) on every guest idle period.
void Vcpu::set_idle_native(bool native) {
    // Takes effect at the ERET into the guest (a context synchronization event).
    write_sysreg(hcr_el2, native ? g_hcr[cpu_id()] & ~HCR_TWI : g_hcr[cpu_id()]);
}

void Vcpu::put() {
    // A wait in the guest does not move with the vCPU: it executes the WFI again (trapped) when it
    // next runs, or completes it at once if an interrupt is pending by then.
    m_idle.put(m_regs.pc);
    m_el1.sctlr = read_sysreg(sctlr_el1);
    m_el1.ttbr0 = read_sysreg(ttbr0_el1);
    m_el1.ttbr1 = read_sysreg(ttbr1_el1);
    m_el1.tcr = read_sysreg(tcr_el1);
    m_el1.esr = read_sysreg(esr_el1);
    m_el1.far = read_sysreg(far_el1);
    m_el1.afsr0 = read_sysreg(afsr0_el1);
    m_el1.afsr1 = read_sysreg(afsr1_el1);
    m_el1.mair = read_sysreg(mair_el1);
    m_el1.amair = read_sysreg(amair_el1);
    m_el1.contextidr = read_sysreg(contextidr_el1);
    m_el1.vbar = read_sysreg(vbar_el1);
    m_el1.tpidr_el0 = read_sysreg(tpidr_el0);
    m_el1.tpidrro_el0 = read_sysreg(tpidrro_el0);
    m_el1.tpidr_el1 = read_sysreg(tpidr_el1);
    m_el1.sp_el0 = read_sysreg(sp_el0);
    m_el1.sp_el1 = read_sysreg(sp_el1);
    m_el1.elr_el1 = read_sysreg(elr_el1);
    m_el1.spsr_el1 = read_sysreg(spsr_el1);
    m_el1.par = read_sysreg(par_el1);
    m_el1.cpacr = read_sysreg(cpacr_el1);
    m_el1.cntkctl = read_sysreg(cntkctl_el1);
    m_el1.csselr = read_sysreg(csselr_el1);
    m_el1.cntv_cval = read_sysreg(cntv_cval_el0);
    m_el1.cntv_ctl = read_sysreg(cntv_ctl_el0);
    // A descheduled vCPU's timer must not raise the physical virtual-timer interrupt here.
    write_sysreg(cntv_ctl_el0, 0);
    // Its forwarded timer interrupt may still be active (the guest has not deactivated it): the
    // model keeps that state, load() puts it back on whichever CPU runs the vCPU next, and this
    // CPU's PPI must be free for the next vCPU.
    if (m_vgic && ppi_active(g_vtimer_pintid)) ppi_set_active(g_vtimer_pintid, false);
    m_el1.ich_vmcr = read_sysreg(S3_4_C12_C11_7);
    m_el1.ich_ap0r[0] = read_sysreg(S3_4_C12_C8_0);
    m_el1.ich_ap1r[0] = read_sysreg(S3_4_C12_C9_0);
    if (g_ich_apr_count > 1) {
        m_el1.ich_ap0r[1] = read_sysreg(S3_4_C12_C8_1);
        m_el1.ich_ap1r[1] = read_sysreg(S3_4_C12_C9_1);
    }
    if (g_ich_apr_count > 2) {
        m_el1.ich_ap0r[2] = read_sysreg(S3_4_C12_C8_2);
        m_el1.ich_ap0r[3] = read_sysreg(S3_4_C12_C8_3);
        m_el1.ich_ap1r[2] = read_sysreg(S3_4_C12_C9_2);
        m_el1.ich_ap1r[3] = read_sysreg(S3_4_C12_C9_3);
    }
    if (g_has_pauth) {
        u64* k = m_el1.pauth_keys;
        k[0] = read_sysreg(S3_0_C2_C1_0);
        k[1] = read_sysreg(S3_0_C2_C1_1);
        k[2] = read_sysreg(S3_0_C2_C1_2);
        k[3] = read_sysreg(S3_0_C2_C1_3);
        k[4] = read_sysreg(S3_0_C2_C2_0);
        k[5] = read_sysreg(S3_0_C2_C2_1);
        k[6] = read_sysreg(S3_0_C2_C2_2);
        k[7] = read_sysreg(S3_0_C2_C2_3);
        k[8] = read_sysreg(S3_0_C2_C3_0);
        k[9] = read_sysreg(S3_0_C2_C3_1);
    }
    cxv_fpsimd_save(&m_fp);
    this_cpu().exit_fast = nullptr; // no vCPU loaded: the exit vector answers nothing
    isb();
}

u64 Vcpu::wake_deadline() const {
    // CNTV_CTL_EL0 (D13.8.15): ENABLE bit0, IMASK bit1. A timer that is enabled and not masked
    // will assert its interrupt at CVAL; that makes a WFI complete (D1.16.2 "Wait for Interrupt").
    if ((m_el1.cntv_ctl & 3) != 1) return ~0ull;
    // CVAL is in virtual counter ticks; the host's timers run on the physical count (D11.2.4).
    u64 now = counter(), deadline = m_el1.cntv_cval + m_cntvoff;
    if (deadline < m_cntvoff) return ~0ull; // beyond the end of the counter: never
    return deadline <= now ? 0 : deadline;
}

void virt_set_timer_intid(u32 intid) { g_vtimer_pintid = intid; }

u32 vintc_priority_bits() { return vgichw::host_vtr().pri_bits; }

void Vcpu::attach_vintc(Intc* intc, GuestPhysAddr dist_base) {
    m_vgic = intc;
    // The exit vector answers the distributor's identification registers (read-only, the same for
    // the VM's whole life) from the syndrome alone (boot.S, low64_sync). The model stays the one
    // source of their values: they are read from it here, once.
    m_exit_fast.gicd_hpfar = ~0ull;
    if (m_vgic && dist_base.value() % 0x10000 == 0) {
        auto typer = m_vgic->dist_read(gicv3::GICD_TYPER, 4), iidr = m_vgic->dist_read(gicv3::GICD_IIDR, 4);
        auto typer2 = m_vgic->dist_read(gicv3::GICD_TYPER2, 4), pidr2 = m_vgic->dist_read(gicv3::PIDR2, 4);
        if (typer.is_ok() && iidr.is_ok() && typer2.is_ok() && pidr2.is_ok()) {
            // HPFAR_EL2.FIPA [43:4] holds IPA[51:12] (DDI0487 K.a, HPFAR_EL2): the value a fault in
            // the distributor's first page leaves there.
            m_exit_fast.gicd_hpfar = (dist_base.value() >> 12) << 4;
            m_exit_fast.gicd_typer = u32(typer.value());
            m_exit_fast.gicd_iidr = u32(iidr.value());
            m_exit_fast.gicd_typer2 = u32(typer2.value());
            m_exit_fast.gicd_pidr2 = u32(pidr2.value());
        }
    }
    m_exit_fast_ok = m_exit_fast.gicd_hpfar != ~0ull || m_exit_fast.uart;
    // The virtual timer is hardware-linked: the guest's deactivation of INTID 27 deactivates the
    // host PPI the timer raised (vgic.hpp set_hw). Fails only for INTIDs the model rejects, which
    // these constants are not.
    if (m_vgic && g_vtimer_pintid)
        if (m_vgic->set_hw(GUEST_VTIMER_INTID, g_vtimer_pintid, u16(m_id)).is_error())
            panic("vgic: cannot link the virtual timer of vCPU %u", m_id);
}

void Vcpu::attach_uart_fast(GuestPhysAddr base, UartFastBlock* block) {
    // A window that is not page aligned would share its page with something else: full path.
    if (!block || base.value() % 0x1000) return;
    m_exit_fast.uart_hpfar = (base.value() >> 12) << 4; // HPFAR_EL2.FIPA, as for the distributor
    m_exit_fast.uart = block;
    m_exit_fast_ok = true;
}

vgic::VcpuSet Vcpu::present_queued() { return vgichw::flush(*m_vgic, u16(m_id), m_lrs).kick; }

vgic::VcpuSet Vcpu::collect_queued() {
    const vgic::VcpuSet kick = vgichw::sync(*m_vgic, u16(m_id), m_lrs);
    if (m_vtimer_raise) { // take_vtimer_irq() left it for after the fold; this vCPU only: no kick
        m_vtimer_raise = false;
        timer_interrupt();
    }
    return kick;
}

bool Vcpu::interrupt_pending() const {
    if (!m_vgic) return false;
    u8 priority = 0xFF;
    if (!m_vgic->has_pending(u16(m_id), &priority)) return false;
    // The virtual CPU interface signals an interrupt only past the guest's priority mask and with
    // a group enabled (IHI 0069H, "Priority masking"); a WFI waits for exactly that. The model
    // reports the best priority over both groups, so either enabled group admits it.
    const vgichw::Vmcr m = vgichw::decode_vmcr(m_el1.ich_vmcr);
    return (m.veng0 || m.veng1) && priority < m.vpmr;
}

bool Vcpu::timer_interrupt() {
    if (!m_vgic) return false;
    (void)m_vgic->raise(GUEST_VTIMER_INTID, u16(m_id)); // only this vCPU: its next flush shows it
    return true;
}

// The fast paths of a vCPU with a vGIC (vintc/vgic.hpp, raise_live): an interrupt for this vCPU
// alone goes straight into a free list register while the others stay live, when the model says
// the result is the one of its full path; else the full path runs, unchanged. Both are called
// from run(), on this vCPU's CPU between present_interrupts() and collect_interrupts() (the
// run loop's bracket: m_lrs.flushed), with the guest stopped and host interrupts masked.

// A physical IRQ exit: acknowledges the highest-priority interrupt. The virtual timer's PPI (the
// only interrupt this vCPU owns at EL2) is raised for the guest, live if the model allows, else
// queued as vmm_vcpu_timer_irq() would; it is priority-dropped but stays active until the guest
// deactivates the hardware-linked LR. Anything else is handled as handle_pending_irqs() does.
// True: re-enter the guest at once; false: return ExternalInterrupt to the run loop (which
// drains what else is pending and flushes what was queued).
bool Vcpu::take_vtimer_irq() {
    if (!m_lrs.flushed) return false; // not inside the bracket: the run loop decides
    const u32 intid = irq_acknowledge();
    if (!g_vtimer_pintid || intid != g_vtimer_pintid) {
        irq_handle_acknowledged(intid);
        return false;
    }
    const bool live = vgichw::raise_live(*m_vgic, u16(m_id), GUEST_VTIMER_INTID, m_lrs);
    // Not live: raised right after the run loop's fold (collect_queued), the order of the full
    // path before this fast path existed. Raised now, while the model still thinks the last
    // instance sits in its (finished) LR, the fold would consume it as that instance's latch, and
    // the physical PPI, acknowledged and left active, would never fire again.
    if (!live) m_vtimer_raise = true;
    write_sysreg(icc_eoir1_el1, intid); // priority drop only (IrqAction::Forwarded)
    // Back into the guest at once only if nothing else waits at the host GIC. All host interrupts
    // share one priority and the GIC takes the lowest INTID first, so SPIs (console input,
    // passthrough lines) come after PPI 27: a guest that keeps its timer firing would starve them
    // here, where handle_pending_irqs() drains everything. With one waiting, the run loop takes
    // over (the live LR is folded back as any other).
    return live && irq_highest_pending() >= 1020;
}

u64 Vcpu::mpidr_to_vcpu(u64 mpidr) {
    // Only Aff0 is used (vCPU index); Aff1..Aff3 must be zero.
    if (mpidr & 0xFF00FFFF00ull) return ~0ull;
    return mpidr & 0xFF;
}

ExitReason Vcpu::run() {
    // One ExitReason for the whole call, filled in place and returned from every path, so the
    // compiler builds it directly in the caller's slot (NRVO): copying it cost ~170 instructions per
    // exit on the MMIO path.
    ExitReason e;
    for (;;) {
        u64 kind = cxv_guest_enter(&m_regs);
#ifdef CXV_EXIT_STATS
        if (kind == 1 || kind == 2) ++m_stats.irq;
        else if (kind != 3) ++m_stats.ec[bits(read_sysreg(esr_el2), 31, 26)];
#endif
        if (kind == 1 || kind == 2) {
            // The virtual timer's own interrupt is answered here and the guest re-entered (level 1).
            // It ends a wait in the guest (it is the guest's interrupt).
            if (kind == 1 && m_vgic && take_vtimer_irq()) {
                m_idle.other_exit();
                continue;
            }
            // Another interrupt leaves a wait in the guest noted: IdleWait::resume decides.
            m_idle.host_interrupt(m_regs.pc);
            e.kind = ExitKind::ExternalInterrupt;
            return e;
        }
        m_idle.other_exit(); // the guest ran on past its WFI
        if (kind == 3) {
            e.kind = ExitKind::Fatal;
            e.reason = "SError (asynchronous abort) from the guest";
            e.detail = read_sysreg(esr_el2);
            return e;
        }
        handle_sync(read_sysreg(esr_el2), e);
        if (e.kind != ExitKind::Nothing) return e;
    }
}

void Vcpu::handle_sync(u64 esr, ExitReason& e) {
    m_esr = esr;
    u64 ec = bits(esr, 31, 26);
    u64 iss = bits(esr, 24, 0);
    switch (ec) {
    case EC_WFX:
        // ISS bit 0: TI, 1 = WFE. WFE is not trapped (HCR_EL2.TWE = 0) but be safe.
        if (!(iss & 1) && m_idle.allowed() && m_idle.begin(m_regs.pc, interrupt_pending())) {
            e.kind = ExitKind::Nothing; // wait in the guest, at the WFI itself ("Waiting in the guest")
            return;
        }
        skip_instruction();
        e.kind = (iss & 1) ? ExitKind::Nothing : ExitKind::Halt;
        return;
    case EC_HVC64:
        handle_smccc(e); // ELR already points after the HVC
        return;
    case EC_SMC64:
        skip_instruction(); // a trapped SMC returns to the SMC itself (D13.2.40, EC 0x17)
        handle_smccc(e);
        return;
    case EC_SYSREG:
        if (m_vgic) {
            // ICC_SGI1R/ASGI1R/SGI0R_EL1 writes trap (HCR_EL2.IMO/FMO): the model delivers the SGI.
            // Back to the run loop either way: a target may be this vCPU (its next flush shows it)
            // or others to kick.
            const vgichw::SgiTrap t = vgichw::decode_sgi_trap(esr);
            if (t.reg != vgichw::SgiReg::None) {
                if (!t.write) { // MRS of a write-only register (IHI 0069H): UNDEFINED
                    e.kind = ExitKind::Undefined;
                    e.reason = "read of a write-only SGI generation register";
                    e.detail = esr;
                    inject_undefined();
                    return;
                }
                if (vgichw::send_sgi_live(*m_vgic, u16(m_id), gpr(t.rt), t.group1, m_lrs)) {
                    // An SGI to itself alone, shown at once: back into the guest (level 1).
                    skip_instruction();
                    e.kind = ExitKind::Nothing;
                    return;
                }
                auto r = m_vgic->send_sgi(u16(m_id), gpr(t.rt), t.group1);
                skip_instruction();
                e.kind = ExitKind::Kick;
                e.args[0] = r.is_ok() ? r.value().bits() : 0;
                return;
            }
        }
        if (emulate_debug_sysreg(iss)) {
            skip_instruction();
            e.kind = ExitKind::Nothing;
            return;
        }
        e.kind = (iss & 1) ? ExitKind::SysRegRead : ExitKind::SysRegWrite;
        e.sysreg = sysreg_id_from_iss(iss);
        // The EL1 physical timer traps (CNTHCTL_EL2.EL1PCEN = 0) and is emulated by the VM layer
        // (vcpu/emulated_timer.hpp): CNTP_TVAL_EL0, CNTP_CTL_EL0, CNTP_CVAL_EL0 are op0 3, op1 3,
        // CRn 14, CRm 2, op2 0/1/2 (DDI0487 K.a, their register descriptions).
        if (e.sysreg == sysreg_id(3, 3, 14, 2, 0)) e.timer = u8(TimerReg::Countdown);
        else if (e.sysreg == sysreg_id(3, 3, 14, 2, 1)) e.timer = u8(TimerReg::Control);
        else if (e.sysreg == sysreg_id(3, 3, 14, 2, 2)) e.timer = u8(TimerReg::Compare);
        if (e.timer) e.timer_intid = GUEST_PTIMER_INTID;
        e.args[0] = bits(iss, 9, 5); // Rt
        e.value = gpr(unsigned(e.args[0]));
        return;
    case EC_DABT_LOW:
    case EC_IABT_LOW:
        handle_abort(esr, ec, e);
        return;
    default:
        // Anything else (AArch32, trapped FP, BRK/debug exceptions routed to us...) is not something
        // this backend emulates: the guest gets UNDEF, as it would on hardware without the feature.
        e.kind = ExitKind::Undefined;
        e.reason = "unhandled exception class";
        e.detail = ec;
        inject_undefined();
        return;
    }
}

void Vcpu::handle_abort(u64 esr, u64 ec, ExitReason& e) {
    using s2fault::Kind;
    const s2fault::Info f = s2fault::classify(esr);
    m_far = read_sysreg(far_el2);
    e.detail = esr;
    auto fatal = [&](const char* why) {
        e.kind = ExitKind::Fatal;
        e.reason = why;
    };
    // Retrying is only right while it makes progress (stage2_fault.hpp RepeatGuard).
    auto retry = [&](u64 addr) {
        if (m_fault_guard.note(m_regs.pc, esr, addr)) e.kind = ExitKind::Nothing;
        else fatal("the same stage-2 fault repeats without progress");
    };
    switch (f.kind) {
    case Kind::ExternalAbort:
        // An external abort or parity/ECC error reported at stage 2 (on a stage-2 walk of
        // cxvisor's tables, or a guest access the hardware routes here): the memory system is
        // broken for this VM; contained as a stop, never attributed to anyone else.
        return fatal(f.s1ptw ? "external abort on the guest's page-table walk" : "external abort at stage 2");
    case Kind::TlbConflict:
        // "TLB conflict aborts" (DDI0487 K.a chapter D8): break-before-make should prevent them; the architected
        // recovery is to invalidate the VMID's entries (it is the one in VTTBR_EL2) and retry.
        asm volatile("tlbi vmalls12e1\n dsb nsh\n isb" ::: "memory");
        return retry(m_far);
    case Kind::AtomicUpdate:
    case Kind::Other: return fatal("stage-2 abort with a fault status cxvisor does not handle");
    default: break;
    }
    u64 ipa;
    if (f.hpfar_valid) {
        // HPFAR_EL2.FIPA (register description) holds IPA[47:12]; the page offset comes from FAR_EL2.
        ipa = (bits(read_sysreg(hpfar_el2), 43, 4) << 12) | (m_far & 0xFFF);
    } else {
        // A stage-2 permission fault outside a walk: HPFAR_EL2 may be stale. The guest's stage-1
        // registers are live; AT S1E1R translates FAR (the access already passed stage 1, so the
        // read check suffices). PAR_EL1 is guest state: preserved.
        if (!f.far_valid) return retry(0);
        u64 saved_par = read_sysreg(par_el1);
        asm volatile("at s1e1r, %0" ::"r"(m_far));
        isb();
        u64 par = read_sysreg(par_el1);
        write_sysreg(par_el1, saved_par);
        if (par & 1) return retry(m_far); // the guest changed its tables meanwhile: run into it again
        ipa = (bits(par, 47, 12) << 12) | (m_far & 0xFFF);
    }
    if (!m_fault_guard.note(m_regs.pc, esr, ipa)) return fatal("the same stage-2 fault repeats without progress");
    e.kind = ExitKind::NestedPageFault;
    e.gpa = ipa;
    // A walk of the guest's stage-1 tables reads them, and writes them only for hardware
    // Access-flag/dirty updates (FEAT_HAFDBS), whatever the instruction itself did.
    e.stage1_walk = f.s1ptw;
    e.access = f.s1ptw ? (f.walk_write ? AccessKind::Write : AccessKind::Read)
             : ec == EC_IABT_LOW ? AccessKind::Fetch
             : (esr & bit(6)) ? AccessKind::Write : AccessKind::Read;
}

bool Vcpu::emulate_debug_sysreg(u64 iss) {
    u64 id = sysreg_id_from_iss(iss);
    bool is_read = iss & 1;
    unsigned rt = unsigned(bits(iss, 9, 5));
    // ID space (HCR_EL2.TID3): the sanitised table. Only reads trap; the registers are read-only.
    if (is_read && idregs::in_id_space(unsigned(bits(id, 15, 14)), unsigned(bits(id, 13, 11)),
                                       unsigned(bits(id, 10, 7)), unsigned(bits(id, 6, 3)))) {
        set_gpr(rt, g_guest_id[idregs::slot(unsigned(bits(id, 6, 3)), unsigned(bits(id, 2, 0)))]);
        return true;
    }
    // Debug registers (op0 = 2, D13.3): trapped by MDCR_EL2 because breakpoints and watchpoints are
    // shared hardware. Emulated as "no breakpoints, OS lock clear": RAZ/WI, except MDSCR_EL1, which
    // keeps its value per vCPU so a guest that saves/restores it reads what it wrote.
    if (bits(id, 15, 14) == 2 && bits(id, 13, 11) == 0) {
        if (id == sysreg_id(2, 0, 0, 2, 2)) { // MDSCR_EL1
            if (is_read) set_gpr(rt, m_el1.mdscr); else m_el1.mdscr = gpr(rt);
        } else if (id == sysreg_id(2, 0, 1, 1, 4)) { // OSLSR_EL1: OSLM = 0b10 (lock implemented), OSLK
            if (is_read) set_gpr(rt, 0x8 | (m_el1.oslk << 1));
        } else if (id == sysreg_id(2, 0, 1, 0, 4)) { // OSLAR_EL1: sets or clears the OS lock
            if (!is_read) m_el1.oslk = gpr(rt) & 1;
        } else if (is_read) {
            set_gpr(rt, 0);
        }
        return true;
    }
    if (id == sysreg_id(3, 0, 1, 0, 1)) { // ACTLR_EL1 (TACR): read the host's value, ignore writes
        if (is_read) set_gpr(rt, read_sysreg(actlr_el1));
        return true;
    }
    // DC ISW/CSW/CISW (op0 = 1, CRn = 7): performed as clean+invalidate by set/way, which never loses
    // data of another VM (D7.5.9). op1 = 0, op2 = 2, CRm = 6/10/14.
    if (bits(id, 15, 14) == 1 && bits(id, 10, 7) == 7 && bits(id, 2, 0) == 2 && bits(id, 13, 11) == 0) {
        u64 crm = bits(id, 6, 3);
        if (crm == 6 || crm == 10 || crm == 14) {
            asm volatile("dc cisw, %0" ::"r"(gpr(rt)) : "memory");
            return true;
        }
    }
    return false;
}

void Vcpu::handle_smccc(ExitReason& e) {
    using namespace cxv_abi;
    // SMCCC (DEN0028 section 2): only the low 32 bits of x0 carry the function id.
    u64 fid = m_regs.x[0] & 0xFFFFFFFF;
    e.kind = ExitKind::Nothing; // answered here unless a case below says otherwise
    for (int i = 0; i < 6; ++i) e.args[i] = m_regs.x[i + 1];
    if (fid >= HC_BASE && fid < HC_BASE + 0x10000) {
        e.kind = ExitKind::Hypercall;
        e.nr = fid - HC_BASE;
        e.detail = fid; // the id as the guest wrote it, for messages
        return;
    }
    switch (fid) {
    case PSCI_VERSION:
        set_hypercall_result(0x10001, m_regs.x[1], m_regs.x[2], m_regs.x[3]); // PSCI 1.1
        smccc_fast::publish<u32(PSCI_VERSION)>(m_regs.x[0]); // constant: the exit vector may answer it
        return;
    case PSCI_FEATURES: {
        u64 q = m_regs.x[1] & 0xFFFFFFFF;
        // CPU_SUSPEND's feature flags are 0: original power_state format, no OS-initiated mode.
        bool known = q == PSCI_VERSION || q == PSCI_CPU_OFF || q == PSCI_CPU_ON_32 || q == PSCI_CPU_ON_64 ||
                     q == PSCI_AFFINITY_INFO_32 || q == PSCI_AFFINITY_INFO_64 || q == PSCI_SYSTEM_OFF ||
                     q == PSCI_SYSTEM_RESET || q == PSCI_FEATURES || q == PSCI_MIGRATE_INFO_TYPE ||
                     q == PSCI_CPU_SUSPEND_32 || q == PSCI_CPU_SUSPEND_64 || q == SMCCC_VERSION;
        m_regs.x[0] = u64(known ? PSCI_SUCCESS : PSCI_NOT_SUPPORTED);
        return;
    }
    case PSCI_MIGRATE_INFO_TYPE:
        m_regs.x[0] = 2; // no Trusted OS that needs migration
        return;
    case PSCI_CPU_SUSPEND_32:
    case PSCI_CPU_SUSPEND_64:
        // Every power state is entered as standby: the vCPU waits like WFI and the call returns
        // SUCCESS when it wakes. PSCI lets any suspend return early on a wake-up event (DEN0022
        // 5.4.2), so powerdown requests are served correctly too, just never lose context.
        m_regs.x[0] = u64(PSCI_SUCCESS);
        e.kind = ExitKind::Halt;
        return;
    case PSCI_CPU_ON_32:
    case PSCI_CPU_ON_64: {
        // SMC32 calls use only the low 32 bits of each argument register (SMCCC 2.6).
        u64 mask = fid == PSCI_CPU_ON_32 ? 0xFFFFFFFF : ~0ull;
        e.kind = ExitKind::CpuUp;
        e.args[0] = mpidr_to_vcpu(m_regs.x[1] & mask);
        e.args[1] = m_regs.x[2] & mask;
        e.args[2] = m_regs.x[3] & mask;
        return;
    }
    case PSCI_CPU_OFF:
        e.kind = ExitKind::CpuDown;
        return;
    case PSCI_AFFINITY_INFO_32:
    case PSCI_AFFINITY_INFO_64: {
        u64 mask = fid == PSCI_AFFINITY_INFO_32 ? 0xFFFFFFFF : ~0ull; // SMC32: low halves only
        if ((m_regs.x[2] & mask) != 0) { // only level 0 (one vCPU) is meaningful here
            m_regs.x[0] = u64(PSCI_INVALID_PARAMETERS);
            return;
        }
        e.kind = ExitKind::CpuQuery;
        e.args[0] = mpidr_to_vcpu(m_regs.x[1] & mask);
        return;
    }
    case PSCI_SYSTEM_OFF:
        e.kind = ExitKind::SystemDown;
        e.reason = "PSCI SYSTEM_OFF";
        return;
    case PSCI_SYSTEM_RESET:
        e.kind = ExitKind::SystemReset;
        e.reason = "PSCI SYSTEM_RESET";
        return;
    case SMCCC_VERSION: // 1.1
        m_regs.x[0] = 0x10001;
        smccc_fast::publish<u32(SMCCC_VERSION)>(m_regs.x[0]); // constant: the exit vector may answer it
        return;
    case spectre::SMCCC_ARCH_FEATURES:
        m_regs.x[0] = u64(spectre::arch_features(u32(m_regs.x[1]), spectre::State(g_v2_state),
                                                 spectre::State(g_bhb_state)));
        return;
    case spectre::SMCCC_ARCH_WORKAROUND_1:
    case spectre::SMCCC_ARCH_WORKAROUND_3:
        // Offered ones are done on every exit (boot.S, guest_exit_common) before cxvisor runs an
        // indirect branch, so this call has already been served when it arrives here.
        m_regs.x[0] = u64(spectre::workaround_result(
            spectre::arch_features(u32(fid), spectre::State(g_v2_state), spectre::State(g_bhb_state))));
        return;
    default:
        // Unknown ids: NOT_SUPPORTED, as SMCCC requires. The guest keeps running.
        m_regs.x[0] = u64(i64(PSCI_NOT_SUPPORTED));
        return;
    }
}

void Vcpu::set_hypercall_result(u64 r0, u64 r1, u64 r2, u64 r3) {
    m_regs.x[0] = r0;
    m_regs.x[1] = r1;
    m_regs.x[2] = r2;
    m_regs.x[3] = r3;
}

void Vcpu::set_power_result(PowerResult r) {
    using namespace cxv_abi;
    i64 code = PSCI_SUCCESS;
    switch (r) {
    case PowerResult::Success: code = PSCI_SUCCESS; break;
    case PowerResult::InvalidParameters: code = PSCI_INVALID_PARAMETERS; break;
    case PowerResult::InvalidAddress: code = PSCI_INVALID_ADDRESS; break;
    case PowerResult::AlreadyOn: code = PSCI_ALREADY_ON; break;
    case PowerResult::Denied: code = PSCI_DENIED; break;
    case PowerResult::InternalFailure: code = PSCI_INTERNAL_FAILURE; break;
    }
    m_regs.x[0] = u64(code);
}

void Vcpu::set_power_state_result(CpuPowerState s) {
    using namespace cxv_abi;
    m_regs.x[0] = u64(s == CpuPowerState::On ? PSCI_AFF_ON : s == CpuPowerState::Off ? PSCI_AFF_OFF : PSCI_AFF_ON_PENDING);
}

Result<MmioAccess> Vcpu::decode_mmio(ExitReason& exit, GuestMemoryReader mem) {
    u64 esr = exit.detail;
    if (exit.access == AccessKind::Fetch) return Error::Unsupported; // executing from a device
    if (esr & bit(7)) return Error::Unsupported; // S1PTW: the guest's own page tables point at a device
    // CM: cache maintenance (DC CIVAC...) by VA on a device address. Devices are not cached: step
    // over it, as cache maintenance of emulated memory has nothing to do.
    if (esr & bit(8)) {
        MmioAccess skip{};
        skip.gpa = exit.gpa;
        return skip;
    }
    // ISV = 1: the syndrome describes the access (D17.2.40, ISS encoding for data aborts).
    if (esr & bit(24)) return to_access(exit.gpa, TRY(access_from_iss(decode_data_abort_iss(esr))));
    // ISV = 0 from AArch32 (EL0 of an AArch64 guest): the instruction is A32/T32, which this
    // decoder does not handle.
    if (guest_is_aarch32()) return Error::Unsupported;
    // ISV = 0: fetch and decode the instruction. The guest's stage-1 registers are live, so AT S1E1R
    // translates its PC to an IPA (C5.5.x AT); PAR_EL1 is guest state and is preserved.
    u64 saved_par = read_sysreg(par_el1);
    asm volatile("at s1e1r, %0" ::"r"(m_regs.pc));
    isb();
    u64 par = read_sysreg(par_el1);
    write_sysreg(par_el1, saved_par);
    if (par & 1) return Error::NotMapped;
    u64 ipa = (bits(par, 47, 12) << 12) | (m_regs.pc & 0xFFF);
    u32 insn = 0;
    TRY(mem.read(mem.ctx, GuestPhysAddr(ipa), &insn, sizeof insn));
    exit.detail = insn;
    return to_access(exit.gpa, TRY(decode_load_store(insn)));
}

u64 Vcpu::mmio_write_value(const MmioAccess& a) const {
    u64 v = gpr(a.insn.reg); // register 31 is XZR for the transfer register: gpr() returns 0
    if (a.width < 8) v &= (1ull << (a.width * 8)) - 1;
    return v;
}

void Vcpu::complete_mmio(const MmioAccess& a, u64 value) {
    if (a.width == 0) { // no data transfer (see MmioAccess::width)
        skip_instruction();
        return;
    }
    if (!a.is_write) {
        if (a.width < 8) {
            u64 mask = (1ull << (a.width * 8)) - 1;
            value &= mask;
            if (a.insn.sign_extend && (value & (1ull << (a.width * 8 - 1)))) value |= ~mask;
        }
        if (!a.insn.reg_is_64) value &= 0xFFFFFFFF;
        set_gpr(a.insn.reg, value);
    }
    if (a.insn.writeback) {
        // Base register 31 is SP here (C6.2 "Load/store addressing"): the guest runs at EL1 with
        // SP_EL1 selected (or SP_EL0 in EL1t/EL0), which is live in the CPU.
        if (a.insn.base_reg == 31) {
            bool spx = (m_regs.pstate & 0xF) == 0x5;
            if (spx) write_sysreg(sp_el1, read_sysreg(sp_el1) + u64(a.insn.writeback_delta));
            else write_sysreg(sp_el0, read_sysreg(sp_el0) + u64(a.insn.writeback_delta));
        } else {
            m_regs.x[a.insn.base_reg] += u64(a.insn.writeback_delta);
        }
    }
    skip_instruction();
}

void Vcpu::complete_sysreg(const ExitReason& exit, u64 value) {
    if (exit.kind == ExitKind::SysRegRead) set_gpr(unsigned(exit.args[0]), value);
    skip_instruction();
}

void Vcpu::inject_sync(u64 esr, u64 far, bool set_far) {
    // D1.10.2 "Exception vectors": the offset depends on where the guest was.
    u64 mode = m_regs.pstate & 0x1F;
    u64 offset = mode == 0x4 ? 0x000 : mode == 0x5 ? 0x200 : (mode & 0x10) ? 0x600 : 0x400;
    write_sysreg(elr_el1, m_regs.pc);
    write_sysreg(spsr_el1, m_regs.pstate);
    write_sysreg(esr_el1, esr);
    if (set_far) write_sysreg(far_el1, far);
    m_regs.pc = read_sysreg(vbar_el1) + offset;
    m_regs.pstate = el1_entry_pstate(m_regs.pstate, read_sysreg(sctlr_el1), g_pstate_features);
    m_fault_guard.progress(); // the guest's own handler runs next
}

void Vcpu::inject_external_abort(u64 gpa, AccessKind access) {
    bool from_el1 = (m_regs.pstate & 0xC) == 0x4;
    u64 va = m_far; // the guest sees its own virtual address, not the IPA
    (void)gpa;
    if (access == AccessKind::Fetch) {
        u64 ec = from_el1 ? EC_IABT_CUR : EC_IABT_LOW;
        inject_sync((ec << 26) | ESR_IL | 0x10, va, true); // IFSC 0x10: synchronous external abort
    } else {
        u64 ec = from_el1 ? EC_DABT_CUR : EC_DABT_LOW;
        u64 wnr = access == AccessKind::Write ? bit(6) : 0;
        inject_sync((ec << 26) | ESR_IL | wnr | 0x10, va, true); // DFSC 0x10
    }
}

void Vcpu::inject_undefined() { inject_sync((EC_UNKNOWN << 26) | ESR_IL, 0, false); }

} // namespace arch
