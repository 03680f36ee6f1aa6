// PSTATE after an exception is taken to EL1, for exceptions cxvisor injects into a guest.
// Arm ARM DDI0487 K.a, the pseudocode function AArch64.TakeException() and PSTATE: the
// hardware does exactly this when it takes an exception to EL1 itself, so a guest must not be able
// to tell an injected exception from a real one.
// Pure: no registers are read here, so the host unit test (tests/unit/arch) checks every rule.
#pragma once
#include "base/types.hpp"

namespace arch {

// Features of the CPU that change PSTATE on exception entry (from its ID registers: what the
// hardware implements, whatever the guest is shown).
struct PstateFeatures {
    bool pan = false;  // FEAT_PAN (ID_AA64MMFR1_EL1.PAN)
    bool ssbs = false; // FEAT_SSBS (ID_AA64PFR1_EL1.SSBS)
    bool mte = false;  // FEAT_MTE (ID_AA64PFR1_EL1.MTE)
};

// SPSR_ELx / PSTATE bit positions (SPSR_EL1 register description), AArch64 format. For
// an exception from AArch32, the bits kept here (NZCV, DIT at 24, PAN at 22) sit at the same
// positions in the AArch32 SPSR format.
namespace pstate {
constexpr u64 NZCV = 0xFull << 28, TCO = 1ull << 25, DIT = 1ull << 24, UAO = 1ull << 23, PAN = 1ull << 22,
              SS = 1ull << 21, IL = 1ull << 20, SSBS = 1ull << 12, BTYPE = 3ull << 10, DAIF = 0xFull << 6,
              M_EL1H = 0x5;
} // namespace pstate
// SCTLR_EL1 bits read on exception entry (SCTLR_EL1 register description).
constexpr u64 SCTLR_SPAN = 1ull << 23, SCTLR_DSSBS = 1ull << 44;

// PSTATE on entry to EL1h from `old` (the interrupted PSTATE, as SPSR holds it).
constexpr u64 el1_entry_pstate(u64 old, u64 sctlr_el1, PstateFeatures f) {
    using namespace pstate;
    // Kept: the condition flags, DIT (unchanged by exception entry), PAN (unless set below).
    // Cleared: SS, IL, BTYPE, UAO, and everything AArch32-only (IT, T, GE, Q, E).
    u64 p = (old & (NZCV | DIT)) | DAIF | M_EL1H;
    if (f.pan) {
        p |= old & PAN;                              // kept, from AArch64 and AArch32 alike...
        if (!(sctlr_el1 & SCTLR_SPAN)) p |= PAN;    // ...and set when SCTLR_EL1.SPAN == 0
    }
    if (f.ssbs && (sctlr_el1 & SCTLR_DSSBS)) p |= SSBS; // SSBS takes SCTLR_EL1.DSSBS
    if (f.mte) p |= TCO;                                // tag checks off in the handler
    // UAO (FEAT_UAO) and BTYPE (FEAT_BTI) are cleared on entry: never copied from `old`.
    return p;
}

} // namespace arch
