// Spectre-v2/BHB plans and SMCCC_ARCH_FEATURES answers (src/arch/aarch64/spectre.hpp).
#include "arch/aarch64/spectre.hpp"
#include <gtest/gtest.h>

using namespace arch::spectre;

namespace {
constexpr u64 A72 = 0x410FD083, A76 = 0x414FD0B1, A53 = 0x410FD034, A73 = 0x410FD092, QEMU_MAX = 0x000F0510;
constexpr u64 PFR0_CSV2_1 = 1ull << 56, PFR0_CSV2_3 = 3ull << 56, MMFR1_ECBHB = 1ull << 60, ISAR2_CLRBHB = 1ull << 28;
ExitPlan run(u64 midr, u64 pfr0 = 0, bool wa1 = false, bool wa3 = false, u64 mmfr1 = 0, u64 isar2 = 0) {
    return plan(Facts{midr, pfr0, mmfr1, isar2, wa1, wa3});
}
} // namespace

TEST(Spectre, Cortexa72WithoutFirmwareIsNotMitigableHere) {
    ExitPlan p = run(A72); // QEMU: no EL3, its PSCI answers no SMCCC_ARCH_FEATURES
    EXPECT_EQ(p.v2, State::Vulnerable);
    EXPECT_EQ(p.bhb, State::Vulnerable); // WORKAROUND_3 would promise Spectre-v2 as well
    EXPECT_EQ(p.bhb_loop_k, 8);          // the loop still runs: cheap, and the history is cleared
    EXPECT_EQ(p.fw_call, 0u);
    EXPECT_EQ(arch_features(SMCCC_ARCH_WORKAROUND_1, p.v2, p.bhb), NOT_SUPPORTED);
    EXPECT_EQ(arch_features(SMCCC_ARCH_WORKAROUND_3, p.v2, p.bhb), NOT_SUPPORTED);
}

TEST(Spectre, Cortexa72WithFirmwareCallsItOnEveryExit) {
    ExitPlan p = run(A72, 0, true, false);
    EXPECT_EQ(p.v2, State::Mitigated);
    EXPECT_EQ(p.bhb, State::Mitigated);
    EXPECT_EQ(p.fw_call, SMCCC_ARCH_WORKAROUND_1);
    EXPECT_EQ(p.bhb_loop_k, 8);
    p = run(A72, 0, true, true);
    EXPECT_EQ(p.fw_call, SMCCC_ARCH_WORKAROUND_3); // one call does both
    EXPECT_EQ(arch_features(SMCCC_ARCH_WORKAROUND_1, p.v2, p.bhb), SUCCESS);
    EXPECT_EQ(arch_features(SMCCC_ARCH_WORKAROUND_3, p.v2, p.bhb), SUCCESS);
}

TEST(Spectre, Cortexa76HasCsv2AndUsesTheLoopWithK24) {
    ExitPlan p = run(A76, PFR0_CSV2_1);
    EXPECT_EQ(p.v2, State::Unaffected);
    EXPECT_EQ(p.bhb, State::Mitigated);
    EXPECT_EQ(p.bhb_loop_k, 24);
    EXPECT_EQ(p.fw_call, 0u);
    EXPECT_EQ(arch_features(SMCCC_ARCH_WORKAROUND_1, p.v2, p.bhb), NOT_REQUIRED);
    EXPECT_EQ(arch_features(SMCCC_ARCH_WORKAROUND_3, p.v2, p.bhb), SUCCESS);
}

TEST(Spectre, UnaffectedCoresAndArchitecturalGuarantees) {
    for (ExitPlan p : {run(A53), run(A76, PFR0_CSV2_3), run(A76, PFR0_CSV2_1, false, false, MMFR1_ECBHB)}) {
        EXPECT_EQ(p.v2, State::Unaffected);
        EXPECT_EQ(p.bhb, State::Unaffected);
        EXPECT_EQ(p.bhb_loop_k, 0);
        EXPECT_FALSE(p.clrbhb);
        EXPECT_EQ(arch_features(SMCCC_ARCH_WORKAROUND_3, p.v2, p.bhb), NOT_REQUIRED);
    }
}

TEST(Spectre, ClrbhbWinsOverTheLoopAndFirmwareCoresNeedFirmware) {
    ExitPlan p = run(A76, PFR0_CSV2_1, false, false, 0, ISAR2_CLRBHB);
    EXPECT_TRUE(p.clrbhb);
    EXPECT_EQ(p.bhb_loop_k, 0);
    EXPECT_EQ(p.bhb, State::Mitigated);
    p = run(A73, PFR0_CSV2_1, false, true);
    EXPECT_EQ(p.bhb, State::Mitigated);
    EXPECT_EQ(p.fw_call, SMCCC_ARCH_WORKAROUND_3);
    p = run(A73, PFR0_CSV2_1);
    EXPECT_EQ(p.bhb, State::Vulnerable);
    p = run(QEMU_MAX, PFR0_CSV2_1); // unknown core with CSV2 but no BHB guarantee: cannot tell k
    EXPECT_EQ(p.v2, State::Unaffected);
    EXPECT_EQ(p.bhb, State::Vulnerable);
}

TEST(Spectre, OtherArchFeatures) {
    EXPECT_EQ(arch_features(SMCCC_VERSION, State::Vulnerable, State::Vulnerable), SUCCESS);
    EXPECT_EQ(arch_features(SMCCC_ARCH_FEATURES, State::Vulnerable, State::Vulnerable), SUCCESS);
    EXPECT_EQ(arch_features(SMCCC_ARCH_WORKAROUND_2, State::Unaffected, State::Unaffected), NOT_SUPPORTED);
    EXPECT_EQ(arch_features(SMCCC_ARCH_SOC_ID, State::Unaffected, State::Unaffected), NOT_SUPPORTED);
    EXPECT_EQ(workaround_result(NOT_REQUIRED), SUCCESS);
    EXPECT_EQ(workaround_result(SUCCESS), SUCCESS);
    EXPECT_EQ(workaround_result(NOT_SUPPORTED), NOT_SUPPORTED);
}
