// Interrupt injection into a loongarch64 guest (src/arch/loongarch64/lvz_irq.hpp): which mechanism
// carries which ESTAT.IS line (LoongArch Reference Manual Vol. 1 v1.10, 7.4.5 ESTAT, 7.4.4
// ECFG.LIE), the GINTC value for the HWI lines (the virtualization volume's host-mode GINTC: HWIS
// [7:0]), and when a halted vCPU wakes (4.2.10.5 IDLE).
#include "arch/loongarch64/lvz_irq.hpp"
#include <gtest/gtest.h>

using namespace arch::lvz;

// HWI n is ESTAT.IS[2 + n]; GINTC carries it in HWIS [7:0] and nothing in HWIP/HWIC (cxvisor
// passes no host line through and clears none).
TEST(LaLvzIrq, HwiLinesGoToGintcHwis) {
    EXPECT_EQ(gintc_inject(0), 0u);
    EXPECT_EQ(gintc_inject(1), 1u);       // HWI0
    EXPECT_EQ(gintc_inject(0x80), 0x80u); // HWI7
    EXPECT_EQ(gintc_inject(0xFF) & ~0xFFull, 0u);
    EXPECT_EQ(hwi_as_estat(1), 1u << 2);
    EXPECT_EQ(hwi_as_estat(0x80), 1u << 9);
    EXPECT_EQ(hwi_as_estat(0xFF), IS_HWI);
}

// What the guest sees: its own timer and software bits kept, the HWI lines and the IPI bit exactly
// as cxvisor presents them now (set when raised, gone once the controller or the IPI block drops
// them: an acknowledged line is cleared, not left over from an earlier entry).
TEST(LaLvzIrq, PresentedLinesReplaceTheInjectedBitsOnly) {
    const u64 own = IS_TI | 0x2; // the guest's timer and SWI1
    EXPECT_EQ(presented_is(own, 0, false), own);
    EXPECT_EQ(presented_is(own, 0x3, true), own | (0x3u << 2) | IS_IPI);
    // Set on raise, cleared on ack: the saved ESTAT still has HWI0 and the IPI, now dropped.
    const u64 saved = own | (1u << 2) | IS_IPI;
    EXPECT_EQ(presented_is(saved, 0, false), own);
    // Only the IS field: Ecode/EsubCode [30:16] are no interrupt lines.
    EXPECT_EQ(presented_is(0x16ull << 16 | IS_TI, 0, false), IS_TI);
}

// IDLE ends on a pending line the guest enabled in ECFG.LIE, whatever CRMD.IE says; a line it did
// not enable does not end it.
TEST(LaLvzIrq, IdleEndsOnAnEnabledPendingLine) {
    EXPECT_FALSE(wakes_from_idle(0, 0, 0xFF, true, true));                 // nothing enabled
    EXPECT_TRUE(wakes_from_idle(IS_IPI, 0, 0, true, false));               // the IPI
    EXPECT_FALSE(wakes_from_idle(IS_IPI, IS_IPI, 0, false, false));        // an IPI the guest cleared
    EXPECT_TRUE(wakes_from_idle(1u << 4, 0, 0x4, false, false));           // HWI2
    EXPECT_FALSE(wakes_from_idle(1u << 4, 0, 0x8, false, false));          // HWI3, not enabled
    EXPECT_FALSE(wakes_from_idle(1u << 4, 1u << 4, 0, false, false));      // HWI2 dropped by the controller
    EXPECT_TRUE(wakes_from_idle(IS_TI, 0, 0, false, true));                // the timer's deadline passed
    EXPECT_TRUE(wakes_from_idle(IS_TI, IS_TI, 0, false, false));           // its bit already pending
    EXPECT_FALSE(wakes_from_idle(IS_TI | IS_IPI, 0, 0, false, false));
    EXPECT_TRUE(wakes_from_idle(0x1, 0x1, 0, false, false));               // SWI0 the guest set itself
}
