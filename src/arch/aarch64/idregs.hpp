// The ID registers a guest sees: a table of fields and the value or limit each VM gets.
//
// Arm ARM DDI0487 K.a, "Principles of the ID scheme for fields in ID registers" and the register
// descriptions of ID_AA64*_EL1, ID_PFR*/ID_DFR*/ID_ISAR*/ID_MMFR*/MVFR*_EL1.
// HCR_EL2.TID3 traps EL1 reads of the whole ID space op0 = 3, op1 = 0, CRn = 0, CRm = 1..7,
// op2 = 0..7 (including its reserved encodings, which read as zero on hardware); cxvisor answers
// each read with sanitise(slot, host value).
//
// Rule: a guest is never told about a feature cxvisor traps, does not switch per vCPU, or does
// not support. AArch64 registers are allow-lists (fields not named here read as 0); the AArch32
// views are deny-lists (fields not named pass through: they describe AArch32 EL0 instruction sets
// and memory models, which work as on the host).
//
// Pure constexpr, no registers touched: the host unit test (tests/unit/arch) checks it against
// sample host values, and the test guests (idregs, chaos) include it to check what they read.
#pragma once
#include "base/types.hpp"

namespace arch::idregs {

// Slot of an ID-space encoding op0 = 3, op1 = 0, CRn = 0, CRm, op2 (CRm 1..7).
constexpr unsigned SLOTS = 56;
constexpr unsigned slot(unsigned crm, unsigned op2) { return (crm - 1) * 8 + op2; }
constexpr bool in_id_space(unsigned op0, unsigned op1, unsigned crn, unsigned crm) {
    return op0 == 3 && op1 == 0 && crn == 0 && crm >= 1 && crm <= 7;
}

enum : u8 {
    ID_PFR0 = slot(1, 0), ID_PFR1 = slot(1, 1), ID_DFR0 = slot(1, 2), ID_AFR0 = slot(1, 3),
    ID_MMFR0 = slot(1, 4), ID_MMFR1 = slot(1, 5), ID_MMFR2 = slot(1, 6), ID_MMFR3 = slot(1, 7),
    ID_ISAR0 = slot(2, 0), ID_ISAR1 = slot(2, 1), ID_ISAR2 = slot(2, 2), ID_ISAR3 = slot(2, 3),
    ID_ISAR4 = slot(2, 4), ID_ISAR5 = slot(2, 5), ID_MMFR4 = slot(2, 6), ID_ISAR6 = slot(2, 7),
    MVFR0 = slot(3, 0), MVFR1 = slot(3, 1), MVFR2 = slot(3, 2), ID_PFR2 = slot(3, 4),
    ID_DFR1 = slot(3, 5), ID_MMFR5 = slot(3, 6),
    AA64PFR0 = slot(4, 0), AA64PFR1 = slot(4, 1), AA64PFR2 = slot(4, 2), AA64ZFR0 = slot(4, 4),
    AA64SMFR0 = slot(4, 5), AA64FPFR0 = slot(4, 7),
    AA64DFR0 = slot(5, 0), AA64DFR1 = slot(5, 1), AA64DFR2 = slot(5, 2), AA64AFR0 = slot(5, 4),
    AA64AFR1 = slot(5, 5),
    AA64ISAR0 = slot(6, 0), AA64ISAR1 = slot(6, 1), AA64ISAR2 = slot(6, 2), AA64ISAR3 = slot(6, 3),
    AA64MMFR0 = slot(7, 0), AA64MMFR1 = slot(7, 1), AA64MMFR2 = slot(7, 2), AA64MMFR3 = slot(7, 3),
    AA64MMFR4 = slot(7, 4),
};

// What the fields not listed in FIELDS become.
enum class Rest : u8 { Zero, Pass };
struct RegInfo {
    u8 slot;
    const char* name;
    Rest rest;
};
// Every named register of the space. Slots not listed (reserved encodings) read as zero.
inline constexpr RegInfo REGS[] = {
    {ID_PFR0, "ID_PFR0_EL1", Rest::Pass},     {ID_PFR1, "ID_PFR1_EL1", Rest::Pass},
    {ID_DFR0, "ID_DFR0_EL1", Rest::Pass},     {ID_AFR0, "ID_AFR0_EL1", Rest::Zero},
    {ID_MMFR0, "ID_MMFR0_EL1", Rest::Pass},   {ID_MMFR1, "ID_MMFR1_EL1", Rest::Pass},
    {ID_MMFR2, "ID_MMFR2_EL1", Rest::Pass},   {ID_MMFR3, "ID_MMFR3_EL1", Rest::Pass},
    {ID_ISAR0, "ID_ISAR0_EL1", Rest::Pass},   {ID_ISAR1, "ID_ISAR1_EL1", Rest::Pass},
    {ID_ISAR2, "ID_ISAR2_EL1", Rest::Pass},   {ID_ISAR3, "ID_ISAR3_EL1", Rest::Pass},
    {ID_ISAR4, "ID_ISAR4_EL1", Rest::Pass},   {ID_ISAR5, "ID_ISAR5_EL1", Rest::Pass},
    {ID_MMFR4, "ID_MMFR4_EL1", Rest::Pass},   {ID_ISAR6, "ID_ISAR6_EL1", Rest::Pass},
    {MVFR0, "MVFR0_EL1", Rest::Pass},         {MVFR1, "MVFR1_EL1", Rest::Pass},
    {MVFR2, "MVFR2_EL1", Rest::Pass},         {ID_PFR2, "ID_PFR2_EL1", Rest::Pass},
    {ID_DFR1, "ID_DFR1_EL1", Rest::Zero},     {ID_MMFR5, "ID_MMFR5_EL1", Rest::Pass},
    {AA64PFR0, "ID_AA64PFR0_EL1", Rest::Zero}, {AA64PFR1, "ID_AA64PFR1_EL1", Rest::Zero},
    {AA64PFR2, "ID_AA64PFR2_EL1", Rest::Zero}, {AA64ZFR0, "ID_AA64ZFR0_EL1", Rest::Zero},
    {AA64SMFR0, "ID_AA64SMFR0_EL1", Rest::Zero}, {AA64FPFR0, "ID_AA64FPFR0_EL1", Rest::Zero},
    {AA64DFR0, "ID_AA64DFR0_EL1", Rest::Zero}, {AA64DFR1, "ID_AA64DFR1_EL1", Rest::Zero},
    {AA64DFR2, "ID_AA64DFR2_EL1", Rest::Zero}, {AA64AFR0, "ID_AA64AFR0_EL1", Rest::Zero},
    {AA64AFR1, "ID_AA64AFR1_EL1", Rest::Zero}, {AA64ISAR0, "ID_AA64ISAR0_EL1", Rest::Zero},
    {AA64ISAR1, "ID_AA64ISAR1_EL1", Rest::Zero}, {AA64ISAR2, "ID_AA64ISAR2_EL1", Rest::Zero},
    {AA64ISAR3, "ID_AA64ISAR3_EL1", Rest::Zero}, {AA64MMFR0, "ID_AA64MMFR0_EL1", Rest::Zero},
    {AA64MMFR1, "ID_AA64MMFR1_EL1", Rest::Zero}, {AA64MMFR2, "ID_AA64MMFR2_EL1", Rest::Zero},
    {AA64MMFR3, "ID_AA64MMFR3_EL1", Rest::Zero}, {AA64MMFR4, "ID_AA64MMFR4_EL1", Rest::Zero},
};

// Pass: the host's value. Max: min(host, value) (unsigned fields only). Set: exactly value.
// MaxIpa: min(host, the PARange encoding of the guest-physical size cxvisor's stage 2 gives).
enum class Rule : u8 { Pass, Max, Set, MaxIpa };
struct Field {
    u8 slot;
    u8 shift; // every field here is 4 bits wide
    Rule rule;
    u8 value;
    const char* name;
};

// The table. Fields of AArch64 registers not listed read as 0; fields of AArch32 registers listed
// with Set 0 are hidden, the rest pass. "why" comments name the trap or the missing switch.
inline constexpr Field FIELDS[] = {
    // ID_AA64PFR0_EL1
    {AA64PFR0, 0, Rule::Pass, 0, "EL0"},
    {AA64PFR0, 4, Rule::Max, 1, "EL1"},      // HCR_EL2.RW = 1: EL1 is AArch64 only
    {AA64PFR0, 8, Rule::Pass, 0, "EL2"},     // HVC reaches cxvisor, as on any CPU with EL2 (no
                                             // nested virtualization: the guest never runs at EL2)
    {AA64PFR0, 12, Rule::Pass, 0, "EL3"},    // SMC is trapped and answered (HCR_EL2.TSC)
    {AA64PFR0, 16, Rule::Pass, 0, "FP"},     // switched with the vCPU
    {AA64PFR0, 20, Rule::Pass, 0, "AdvSIMD"},
    {AA64PFR0, 24, Rule::Pass, 0, "GIC"},    // ICC_* reach the virtual CPU interface (ICH_*)
    // RAS [31:28] = 0: error records are not virtualized (HCR_EL2.TERR traps them)
    // SVE [35:32] = 0: CPTR_EL2.TZ traps it; Z/P registers are not switched
    // SEL2, MPAM, AMU (CPTR_EL2.TAM), RME = 0
    {AA64PFR0, 48, Rule::Pass, 0, "DIT"},    // PSTATE.DIT is saved in SPSR_EL2
    {AA64PFR0, 56, Rule::Pass, 0, "CSV2"},   // what the CPU guarantees about branch prediction
    {AA64PFR0, 60, Rule::Pass, 0, "CSV3"},
    // ID_AA64PFR1_EL1
    {AA64PFR1, 0, Rule::Pass, 0, "BT"},      // PSTATE.BTYPE and SCTLR_EL1.BTx are switched
    {AA64PFR1, 4, Rule::Pass, 0, "SSBS"},    // PSTATE.SSBS is saved in SPSR_EL2
    // MTE [11:8] = 0 (tags and TFSR* are not switched), RAS_frac, MPAM_frac, SME (CPTR_EL2.TSM),
    // RNDR_trap, NMI, GCS and newer = 0
    {AA64PFR1, 32, Rule::Pass, 0, "CSV2_frac"},
    // ID_AA64DFR0_EL1: debug registers are emulated RAZ/WI with MDSCR_EL1 and the OS lock kept
    // per vCPU (MDCR_EL2.TDA/TDOSA/TDRA): the architectural minimum, nothing more.
    {AA64DFR0, 0, Rule::Set, 6, "DebugVer"}, // Armv8.0 debug
    // TraceVer [7:4] = 0 (CPTR_EL2.TTA), PMUVer [11:8] = 0 (MDCR_EL2.TPM: PMU accesses UNDEF)
    {AA64DFR0, 12, Rule::Max, 1, "BRPs"},    // 2 breakpoints, the minimum (RAZ/WI)
    {AA64DFR0, 20, Rule::Max, 1, "WRPs"},    // 2 watchpoints, the minimum (RAZ/WI)
    {AA64DFR0, 28, Rule::Max, 1, "CTX_CMPs"},
    // PMSVer (SPE, MDCR_EL2.TPMS) = 0
    {AA64DFR0, 36, Rule::Pass, 0, "DoubleLock"}, // OSDLR_EL1 reads 0 (never locked)
    // TraceFilt (MDCR_EL2.TTRF), TraceBuffer (MDCR_EL2.E2TB), MTPMU, BRBE, HPMN0 = 0
    // ID_AA64ISAR0_EL1: instructions that need no hypervisor support
    {AA64ISAR0, 4, Rule::Pass, 0, "AES"},     {AA64ISAR0, 8, Rule::Pass, 0, "SHA1"},
    {AA64ISAR0, 12, Rule::Pass, 0, "SHA2"},   {AA64ISAR0, 16, Rule::Pass, 0, "CRC32"},
    {AA64ISAR0, 20, Rule::Pass, 0, "Atomic"}, // TME [27:24] = 0
    {AA64ISAR0, 28, Rule::Pass, 0, "RDM"},    {AA64ISAR0, 32, Rule::Pass, 0, "SHA3"},
    {AA64ISAR0, 36, Rule::Pass, 0, "SM3"},    {AA64ISAR0, 40, Rule::Pass, 0, "SM4"},
    {AA64ISAR0, 44, Rule::Pass, 0, "DP"},     {AA64ISAR0, 48, Rule::Pass, 0, "FHM"},
    {AA64ISAR0, 52, Rule::Pass, 0, "TS"},     {AA64ISAR0, 56, Rule::Pass, 0, "TLB"},
    {AA64ISAR0, 60, Rule::Pass, 0, "RNDR"},
    // ID_AA64ISAR1_EL1 (pointer authentication: keys switched where the CPU has it)
    {AA64ISAR1, 0, Rule::Pass, 0, "DPB"},     {AA64ISAR1, 4, Rule::Pass, 0, "APA"},
    {AA64ISAR1, 8, Rule::Pass, 0, "API"},     {AA64ISAR1, 12, Rule::Pass, 0, "JSCVT"},
    {AA64ISAR1, 16, Rule::Pass, 0, "FCMA"},   {AA64ISAR1, 20, Rule::Pass, 0, "LRCPC"},
    {AA64ISAR1, 24, Rule::Pass, 0, "GPA"},    {AA64ISAR1, 28, Rule::Pass, 0, "GPI"},
    {AA64ISAR1, 32, Rule::Pass, 0, "FRINTTS"}, {AA64ISAR1, 36, Rule::Pass, 0, "SB"},
    {AA64ISAR1, 40, Rule::Pass, 0, "SPECRES"}, {AA64ISAR1, 44, Rule::Pass, 0, "BF16"},
    {AA64ISAR1, 48, Rule::Pass, 0, "DGH"},    {AA64ISAR1, 52, Rule::Pass, 0, "I8MM"},
    // XS, LS64 (needs HCRX_EL2) = 0
    // ID_AA64ISAR2_EL1: WFxT (WFIT's timeout is not honoured by the WFI trap), MOPS (HCRX_EL2) = 0
    {AA64ISAR2, 4, Rule::Pass, 0, "RPRES"},   {AA64ISAR2, 8, Rule::Pass, 0, "GPA3"},
    {AA64ISAR2, 12, Rule::Pass, 0, "APA3"},   {AA64ISAR2, 20, Rule::Pass, 0, "BC"},
    {AA64ISAR2, 24, Rule::Pass, 0, "PAC_frac"}, {AA64ISAR2, 28, Rule::Pass, 0, "CLRBHB"},
    // ID_AA64MMFR0_EL1
    {AA64MMFR0, 0, Rule::MaxIpa, 0, "PARange"}, // the guest-physical size stage 2 covers
    {AA64MMFR0, 4, Rule::Pass, 0, "ASIDBits"},  {AA64MMFR0, 8, Rule::Pass, 0, "BigEnd"},
    {AA64MMFR0, 16, Rule::Pass, 0, "BigEndEL0"}, {AA64MMFR0, 20, Rule::Pass, 0, "TGran16"},
    {AA64MMFR0, 24, Rule::Pass, 0, "TGran64"},  {AA64MMFR0, 28, Rule::Pass, 0, "TGran4"},
    // SNSMem, TGran*_2 (stage 2), FGT, ECV = 0
    {AA64MMFR0, 44, Rule::Pass, 0, "ExS"},
    // ID_AA64MMFR1_EL1: VMIDBits, VH, XNX, TWED, HCX (EL2 features) = 0; LO = 0 (HCR_EL2.TLOR)
    {AA64MMFR1, 0, Rule::Pass, 0, "HAFDBS"},  {AA64MMFR1, 12, Rule::Pass, 0, "HPDS"},
    {AA64MMFR1, 20, Rule::Pass, 0, "PAN"},    {AA64MMFR1, 24, Rule::Pass, 0, "SpecSEI"},
    {AA64MMFR1, 36, Rule::Pass, 0, "ETS"},    {AA64MMFR1, 44, Rule::Pass, 0, "AFP"},
    {AA64MMFR1, 48, Rule::Pass, 0, "nTLBPA"}, {AA64MMFR1, 56, Rule::Pass, 0, "CMOW"},
    {AA64MMFR1, 60, Rule::Pass, 0, "ECBHB"},
    // ID_AA64MMFR2_EL1: NV, FWB, EVT (EL2 features) = 0
    {AA64MMFR2, 0, Rule::Pass, 0, "CnP"},     {AA64MMFR2, 4, Rule::Pass, 0, "UAO"},
    {AA64MMFR2, 8, Rule::Pass, 0, "LSM"},     {AA64MMFR2, 12, Rule::Pass, 0, "IESB"},
    {AA64MMFR2, 16, Rule::Pass, 0, "VARange"}, {AA64MMFR2, 20, Rule::Pass, 0, "CCIDX"},
    {AA64MMFR2, 28, Rule::Pass, 0, "ST"},     {AA64MMFR2, 32, Rule::Pass, 0, "AT"},
    {AA64MMFR2, 36, Rule::Pass, 0, "IDS"},    {AA64MMFR2, 48, Rule::Pass, 0, "TTL"},
    {AA64MMFR2, 52, Rule::Pass, 0, "BBM"},    {AA64MMFR2, 60, Rule::Pass, 0, "E0PD"},
    // AArch32 views (deny-list)
    {ID_PFR0, 20, Rule::Set, 0, "AMU"},       {ID_PFR0, 28, Rule::Set, 0, "RAS"},
    {ID_PFR1, 12, Rule::Set, 0, "Virtualization"}, {ID_PFR1, 24, Rule::Set, 0, "Virt_frac"},
    {ID_PFR2, 8, Rule::Set, 0, "RAS_frac"},
    {ID_DFR0, 0, Rule::Max, 6, "CopDbg"},     {ID_DFR0, 12, Rule::Set, 0, "CopTrc"},
    {ID_DFR0, 16, Rule::Set, 0, "MMapTrc"},   {ID_DFR0, 24, Rule::Set, 0, "PerfMon"},
    {ID_DFR0, 28, Rule::Set, 0, "TraceFilt"},
};

// Values that depend on this machine's cxvisor configuration, not on the host register.
struct Limits {
    u8 ipa_parange; // PARange encoding of the stage-2 input size (ID_AA64MMFR0_EL1.PARange)
};

constexpr const RegInfo* reg_info(unsigned s) {
    for (const RegInfo& r : REGS)
        if (r.slot == s) return &r;
    return nullptr;
}

// The value a guest reads from ID-space slot s when the host register holds `host`.
constexpr u64 sanitise(unsigned s, u64 host, Limits lim) {
    const RegInfo* r = reg_info(s);
    if (!r) return 0; // reserved encoding: RAZ
    u64 out = r->rest == Rest::Pass ? host : 0;
    for (const Field& f : FIELDS) {
        if (f.slot != s) continue;
        const u64 h = (host >> f.shift) & 0xF;
        u64 v = h;
        switch (f.rule) {
        case Rule::Pass: break;
        case Rule::Max: v = h < f.value ? h : f.value; break;
        case Rule::Set: v = f.value; break;
        case Rule::MaxIpa: v = h < lim.ipa_parange ? h : lim.ipa_parange; break;
        }
        out = (out & ~(0xFull << f.shift)) | (v << f.shift);
    }
    return out;
}

// True if v is what sanitise() can produce, for a guest that knows only what it read: every
// value sanitise() returns is a fixed point of it.
constexpr bool is_sanitised(unsigned s, u64 v) { return sanitise(s, v, Limits{15}) == v; }

constexpr unsigned field(u64 v, unsigned shift) { return unsigned((v >> shift) & 0xF); }

} // namespace arch::idregs
