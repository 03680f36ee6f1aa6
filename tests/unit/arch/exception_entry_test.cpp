// PSTATE on an exception cxvisor injects at EL1 (src/arch/aarch64/exception_entry.hpp), rule by
// rule of AArch64.TakeException (Arm ARM DDI0487 K.a). The old code set 0x3C5 always.
#include "arch/aarch64/exception_entry.hpp"
#include <gtest/gtest.h>

using namespace arch;
using namespace arch::pstate;

namespace {
constexpr u64 EL0T = 0x0, EL1H = 0x5, A32_USR = 0x10;
constexpr PstateFeatures NONE{}, PAN_ONLY{true, false, false}, ALL{true, true, true};
} // namespace

TEST(ExceptionEntry, Armv80CoreMasksAndEntersEl1h) {
    EXPECT_EQ(el1_entry_pstate(EL0T, 0, NONE), 0x3C5u);
    EXPECT_EQ(el1_entry_pstate(EL1H | PAN | SS | IL | BTYPE | UAO, 0, NONE), 0x3C5u); // no PAN on v8.0
    EXPECT_EQ(el1_entry_pstate(EL1H | NZCV, 0, NONE), 0x3C5u | NZCV);                  // flags kept
}

TEST(ExceptionEntry, SpanZeroSetsPanOnFeatPanCores) {
    EXPECT_EQ(el1_entry_pstate(EL0T, 0, PAN_ONLY) & PAN, PAN);              // SCTLR_EL1.SPAN == 0
    EXPECT_EQ(el1_entry_pstate(EL0T, SCTLR_SPAN, PAN_ONLY) & PAN, 0u);      // SPAN == 1: unchanged (0)
    EXPECT_EQ(el1_entry_pstate(EL1H | PAN, SCTLR_SPAN, PAN_ONLY) & PAN, PAN); // SPAN == 1: unchanged (1)
    EXPECT_EQ(el1_entry_pstate(A32_USR, 0, PAN_ONLY) & PAN, PAN);            // from AArch32 EL0 too
}

TEST(ExceptionEntry, SsbsDitTcoUaoBtypeSsIl) {
    const u64 old = EL1H | DIT | UAO | BTYPE | SS | IL | SSBS;
    const u64 p = el1_entry_pstate(old, SCTLR_SPAN, ALL);
    EXPECT_EQ(p & DIT, DIT);   // unchanged by exception entry
    EXPECT_EQ(p & UAO, 0u);    // cleared
    EXPECT_EQ(p & BTYPE, 0u);  // cleared
    EXPECT_EQ(p & SS, 0u);     // cleared
    EXPECT_EQ(p & IL, 0u);     // cleared
    EXPECT_EQ(p & SSBS, 0u);   // SCTLR_EL1.DSSBS == 0
    EXPECT_EQ(p & TCO, TCO);   // FEAT_MTE: tag checks off in the handler
    EXPECT_EQ(el1_entry_pstate(EL1H, SCTLR_SPAN | SCTLR_DSSBS, ALL) & SSBS, SSBS);
    EXPECT_EQ(p & (DAIF | 0x1F), DAIF | EL1H);
}
