// Spectre-v2 (CVE-2017-5715) and Spectre-BHB (CVE-2022-23960) on this CPU: whether it is
// affected, how cxvisor clears branch state when a guest exits, and what SMCCC_ARCH_FEATURES says
// about SMCCC_ARCH_WORKAROUND_1/_3 (SMCCC DEN0028 F, "Arm Architecture Calls":
// SMCCC_ARCH_FEATURES, SMCCC_ARCH_WORKAROUND_1, SMCCC_ARCH_WORKAROUND_3).
//
// Facts used (Arm's security advisories for both CVEs, and the CPU tables that Linux's
// arch/arm64/kernel/proton-pack.c and Xen keep; written here as our own table):
// - ID_AA64PFR0_EL1.CSV2 >= 1: branch targets trained in one context cannot steer another, so
//   Spectre-v2 does not apply; CSV2 >= 3 (FEAT_CSV2_3) also rules out branch-history attacks.
// - ID_AA64MMFR1_EL1.ECBHB = 1: exception entry clears the branch history (no BHB attack).
// - ID_AA64ISAR2_EL1.CLRBHB = 1: the CLRBHB instruction clears it.
// - Cores without CSV2 that still cannot be attacked (in-order or tiny predictors): A35, A53, A55,
//   A510, A520, Brahma-B53, Kryo 2xx/3xx/4xx "silver".
// - Cores whose branch history is flushed by k taken branches ("BHB loop"): k = 8 for A57 and A72,
//   k = 11 for AmpereOne, k = 24 for A76, A77, N1, k = 32 for A78/A78AE/A78C, X1, X2, A710, N2, V1.
// - A73 and A75 need firmware (EL3) to do it: SMCCC_ARCH_WORKAROUND_3.
// - Spectre-v2 on cores without CSV2 (A57, A72, A73, A75...) needs firmware at EL3 (it invalidates
//   the branch predictor through IMPLEMENTATION DEFINED controls): SMCCC_ARCH_WORKAROUND_1.
// - SMCCC_ARCH_WORKAROUND_3 also covers Spectre-v2, so a guest may use it in place of _1; like
//   Linux, cxvisor does not offer it where Spectre-v2 itself stays unmitigated.
#pragma once
#include "base/types.hpp"

namespace arch::spectre {

enum class State : u8 { Unaffected, Mitigated, Vulnerable }; // ordered: the worst CPU wins

// MIDR_EL1 (DDI0487 K.a register description): Implementer [31:24], PartNum [15:4].
constexpr u32 midr_part(u64 midr) { return u32(((midr >> 24) & 0xFF) << 12 | ((midr >> 4) & 0xFFF)); }
constexpr u32 part(u32 implementer, u32 partnum) { return implementer << 12 | partnum; }
constexpr u32 ARM = 0x41, BROADCOM = 0x42, QCOM = 0x51, AMPERE = 0xC0;

inline constexpr u32 V2_SAFE[] = {
    part(ARM, 0xD04), part(ARM, 0xD03), part(ARM, 0xD05), part(ARM, 0xD46), part(ARM, 0xD80), // A35 A53 A55 A510 A520
    part(BROADCOM, 0x100),                                                                   // Brahma-B53
    part(QCOM, 0x801), part(QCOM, 0x803), part(QCOM, 0x805),                                 // Kryo 2xx/3xx/4xx silver
};
struct LoopK {
    u32 part;
    u8 k;
};
inline constexpr LoopK BHB_LOOP[] = {
    {part(ARM, 0xD07), 8},  {part(ARM, 0xD08), 8},                            // A57, A72
    {part(AMPERE, 0xAC3), 11},                                                 // AmpereOne
    {part(ARM, 0xD0B), 24}, {part(ARM, 0xD0D), 24}, {part(ARM, 0xD0C), 24},    // A76, A77, N1
    {part(ARM, 0xD41), 32}, {part(ARM, 0xD42), 32}, {part(ARM, 0xD4B), 32},    // A78, A78AE, A78C
    {part(ARM, 0xD44), 32}, {part(ARM, 0xD48), 32}, {part(ARM, 0xD47), 32},    // X1, X2, A710
    {part(ARM, 0xD49), 32}, {part(ARM, 0xD40), 32},                            // N2, V1
};
inline constexpr u32 BHB_FIRMWARE[] = {part(ARM, 0xD09), part(ARM, 0xD0A)}; // A73, A75

template <typename T, usize N> constexpr bool contains(const T (&list)[N], u32 p) {
    for (const T& e : list)
        if (e == p) return true;
    return false;
}

struct Facts {
    u64 midr, pfr0, mmfr1, isar2;
    bool fw_wa1, fw_wa3; // firmware answers SMCCC_ARCH_FEATURES(WORKAROUND_1/_3) with SUCCESS
};

// What the guest-exit path does before cxvisor runs an indirect branch.
struct ExitPlan {
    u8 bhb_loop_k = 0;     // run the BHB loop with this k
    bool clrbhb = false;   // execute CLRBHB
    u32 fw_call = 0;       // call firmware with this function id (0: none)
    State v2 = State::Unaffected;
    State bhb = State::Unaffected;
};

constexpr unsigned csv2(u64 pfr0) { return unsigned((pfr0 >> 56) & 0xF); }

constexpr ExitPlan plan(const Facts& f) {
    ExitPlan p;
    const u32 id = midr_part(f.midr);
    const bool v2_safe = csv2(f.pfr0) >= 1 || contains(V2_SAFE, id);
    if (!v2_safe) p.v2 = f.fw_wa1 || f.fw_wa3 ? State::Mitigated : State::Vulnerable;

    u8 k = 0;
    for (const LoopK& e : BHB_LOOP)
        if (e.part == id) k = e.k;
    const bool bhb_safe = contains(V2_SAFE, id) || csv2(f.pfr0) >= 3 || ((f.mmfr1 >> 60) & 0xF) >= 1;
    const bool has_clrbhb = ((f.isar2 >> 28) & 0xF) >= 1;
    if (!bhb_safe) {
        if (has_clrbhb) p.clrbhb = true, p.bhb = State::Mitigated;
        else if (k) p.bhb_loop_k = k, p.bhb = State::Mitigated;
        else if (contains(BHB_FIRMWARE, id) && f.fw_wa3) p.bhb = State::Mitigated;
        else p.bhb = State::Vulnerable; // unknown core or no firmware: nothing cxvisor can do
    }
    // Firmware on exit: WORKAROUND_3 does both jobs where it exists; else _1 for Spectre-v2.
    const bool need_fw_v2 = p.v2 == State::Mitigated;
    const bool need_fw_bhb = p.bhb == State::Mitigated && !p.clrbhb && !p.bhb_loop_k;
    if (need_fw_bhb || (need_fw_v2 && f.fw_wa3)) p.fw_call = 0x80003FFF;
    else if (need_fw_v2) p.fw_call = 0x80008000;
    // No point in offering a branch-history workaround while Spectre-v2 stays open (WORKAROUND_3
    // promises both).
    if (p.v2 == State::Vulnerable) p.bhb = State::Vulnerable;
    return p;
}

// SMCCC function ids (DEN0028 F, "Arm Architecture Calls").
constexpr u32 SMCCC_VERSION = 0x80000000, SMCCC_ARCH_FEATURES = 0x80000001, SMCCC_ARCH_SOC_ID = 0x80000002;
constexpr u32 SMCCC_ARCH_WORKAROUND_1 = 0x80008000, SMCCC_ARCH_WORKAROUND_2 = 0x80007FFF,
              SMCCC_ARCH_WORKAROUND_3 = 0x80003FFF;
constexpr i64 SUCCESS = 0, NOT_SUPPORTED = -1, NOT_REQUIRED = 1; // DEN0028 F, SMCCC_ARCH_FEATURES results

constexpr i64 answer(State s) {
    return s == State::Unaffected ? NOT_REQUIRED : s == State::Mitigated ? SUCCESS : NOT_SUPPORTED;
}
// SMCCC_ARCH_FEATURES(fid) for a guest, given the worst state over the CPUs it may run on.
constexpr i64 arch_features(u32 fid, State v2, State bhb) {
    switch (fid) {
    case SMCCC_VERSION:
    case SMCCC_ARCH_FEATURES: return SUCCESS;
    case SMCCC_ARCH_WORKAROUND_1: return answer(v2);
    case SMCCC_ARCH_WORKAROUND_3: return answer(bhb);
    default: return NOT_SUPPORTED; // _2 (SSBD) needs firmware on affected cores; SOC_ID: none
    }
}
// The result of calling SMCCC_ARCH_WORKAROUND_1/_3 itself (x0): the work is done on every exit,
// so a call the features query offered just returns.
constexpr i64 workaround_result(i64 features_answer) { return features_answer == NOT_SUPPORTED ? NOT_SUPPORTED : SUCCESS; }

} // namespace arch::spectre
