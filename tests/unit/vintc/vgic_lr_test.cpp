// Sources, target selection, the pending lists and list-register scheduling: what flush() puts in
// the LRs, and how fold() takes back what the hardware (the guest) left there.
#include "vgic_fixture.hpp"
#include <atomic>
#include <thread>
#include <vector>

using namespace vgic_test;

namespace {

struct Lrs {
    VgicLr lr[MaxLrs];
    VgicFlush f;
};

Lrs flush(Vgic& g, u16 vcpu, u32 nr) {
    Lrs l;
    l.f = g.flush(vcpu, l.lr, nr);
    return l;
}

std::vector<u32> intids(const Lrs& l) {
    std::vector<u32> v;
    for (u32 i = 0; i < l.f.used; ++i) v.push_back(l.lr[i].vintid);
    return v;
}

// What the guest did with the LRs: the new state of each, by index.
VcpuSet fold(Vgic& g, u16 vcpu, Lrs& l, std::initializer_list<LrState> states, u64 elrsr = 0,
             u32 eoicount = 0) {
    u32 i = 0;
    for (LrState s : states) l.lr[i++].state = s;
    return g.fold(vcpu, l.lr, elrsr, eoicount);
}

// The guest leaves everything as it was (an exit for an unrelated reason).
VcpuSet fold_unchanged(Vgic& g, u16 vcpu, Lrs& l) { return g.fold(vcpu, l.lr, 0, 0); }

// Edge SPIs 40 and 41 (priorities p40, p41) raised and taken by the guest (both active, nested);
// SPI 42 (priority 0x80) configured but idle.
void two_active_and_one_idle(Vgic& g, u8 p40, u8 p41) {
    setup_spi(g, 40, p40, Cfg::Edge);
    setup_spi(g, 41, p41, Cfg::Edge);
    setup_spi(g, 42, 0x80, Cfg::Edge);
    ASSERT_TRUE(g.raise(40).is_ok());
    ASSERT_TRUE(g.raise(41).is_ok());
    Lrs l = flush(g, 0, 2);
    ASSERT_EQ(l.f.used, 2u);
    fold(g, 0, l, {LrState::Active, LrState::Active});
}

} // namespace

TEST(VgicSources, RaiseReturnsTheVcpuToKick) {
    auto g = make(4, 32);
    setup_spi(*g, 40, 0x80, Cfg::Edge, 2);
    (void)g->take_kicks();
    auto k = g->raise(40);
    ASSERT_TRUE(k.is_ok());
    EXPECT_EQ(k.value(), VcpuSet::of(2));
    EXPECT_EQ(g->queued_count(2), 1u);
    // Not enabled: pending, but nobody to kick.
    auto k2 = g->raise(41);
    ASSERT_TRUE(k2.is_ok());
    EXPECT_TRUE(k2.value().empty());
    EXPECT_TRUE(state(*g, 41).pending_latch);
    // Private interrupts name their vCPU.
    setup_private(*g, 3, 27, 0x80);
    auto k3 = g->set_line(27, true, 3);
    ASSERT_TRUE(k3.is_ok());
    EXPECT_EQ(k3.value(), VcpuSet::of(3));
    EXPECT_EQ(g->raise(27, 4).error(), Error::OutOfRange);
    EXPECT_EQ(g->raise(64).error(), Error::OutOfRange); // only 32 SPIs
    EXPECT_EQ(g->set_line(1020, true).error(), Error::OutOfRange);
    EXPECT_EQ(g->set_hw(3, 40).error(), Error::OutOfRange); // SGIs cannot be HW-linked
    EXPECT_EQ(g->set_hw(40, 1020).error(), Error::OutOfRange);
}

TEST(VgicSources, EnablingAPendingInterruptKicksItsTarget) {
    auto g = make(2, 32);
    setup_spi(*g, 40, 0x80, Cfg::Level, 1);
    wr(*g, word(ICENABLER, 40), mask(40));
    (void)g->take_kicks();
    ASSERT_TRUE(g->set_line(40, true).is_ok());
    EXPECT_EQ(g->queued_count(1), 0u);
    wr(*g, word(ISENABLER, 40), mask(40));
    EXPECT_EQ(g->take_kicks(), VcpuSet::of(1));
    EXPECT_TRUE(g->take_kicks().empty()); // drained
    EXPECT_EQ(g->queued_count(1), 1u);
    // Turning group 1 off in the distributor withholds it; on again delivers it.
    wr(*g, GICD_CTLR, 0x1);
    EXPECT_FALSE(g->has_pending(1));
    wr(*g, GICD_CTLR, 0x3);
    EXPECT_EQ(g->take_kicks(), VcpuSet::of(1));
    u8 prio = 0;
    EXPECT_TRUE(g->has_pending(1, &prio));
    EXPECT_EQ(prio, 0x80u);
}

TEST(VgicSources, EdgeLatchesOnRisingEdgesOnly) {
    auto g = make(1, 32);
    setup_spi(*g, 40, 0x80, Cfg::Edge);
    ASSERT_TRUE(g->set_line(40, true).is_ok());
    EXPECT_TRUE(state(*g, 40).pending_latch);
    ASSERT_TRUE(g->set_line(40, false).is_ok());
    EXPECT_TRUE(state(*g, 40).pending()); // the edge stays latched after the line drops
    Lrs l = flush(*g, 0, 4);
    ASSERT_EQ(l.f.used, 1u);
    fold(*g, 0, l, {LrState::Active});
    ASSERT_TRUE(g->set_line(40, false).is_ok()); // no edge: nothing new
    EXPECT_FALSE(state(*g, 40).pending());
}

TEST(VgicFlush, PicksHighestPriorityFirstAndAsksForMaintenanceWhenOverflowing) {
    auto g = make(1, 64);
    const u8 prios[] = {0x90, 0x20, 0xa0, 0x20, 0x60, 0x10}; // INTIDs 40..45
    for (u32 i = 0; i < 6; ++i) {
        setup_spi(*g, 40 + i, prios[i], Cfg::Edge);
        ASSERT_TRUE(g->raise(40 + i).is_ok());
    }
    Lrs l = flush(*g, 0, 4);
    EXPECT_EQ(intids(l), (std::vector<u32>{45, 41, 43, 44})); // 0x10, 0x20 (lower INTID first), 0x20, 0x60
    EXPECT_EQ(l.f.used, 4u);
    EXPECT_TRUE(l.f.npie); // pending interrupts left out: exit when the guest took these
    EXPECT_TRUE(l.f.uie);
    EXPECT_FALSE(l.f.lrenpie);
    for (u32 i = 0; i < 4; ++i) {
        EXPECT_EQ(l.lr[i].state, LrState::Pending);
        EXPECT_TRUE(l.lr[i].group1);
        EXPECT_FALSE(l.lr[i].eoi_maintenance); // edge
        EXPECT_FALSE(l.lr[i].hw);
    }
    EXPECT_EQ(l.lr[0].priority, 0x10u);
    // The guest took and finished all four; the next entry presents the rest.
    fold(*g, 0, l, {LrState::Invalid, LrState::Invalid, LrState::Invalid, LrState::Invalid});
    Lrs l2 = flush(*g, 0, 4);
    EXPECT_EQ(intids(l2), (std::vector<u32>{40, 42}));
    EXPECT_FALSE(l2.f.npie || l2.f.uie || l2.f.lrenpie); // everything fits
    fold(*g, 0, l2, {LrState::Invalid, LrState::Invalid});
    EXPECT_EQ(g->queued_count(0), 0u);
}

TEST(VgicFlush, PendingBeatsActiveAndHwWinsTies) {
    auto g = make(1, 64);
    setup_spi(*g, 40, 0x10, Cfg::Edge); // will be active, high priority
    setup_spi(*g, 41, 0x80, Cfg::Edge); // pending, low priority
    setup_spi(*g, 50, 0x40, Cfg::Level);
    setup_spi(*g, 45, 0x40, Cfg::Level);
    ASSERT_TRUE(g->set_hw(50, 50).is_ok());
    ASSERT_TRUE(g->raise(40).is_ok());
    Lrs a = flush(*g, 0, 4);
    fold(*g, 0, a, {LrState::Active});
    ASSERT_TRUE(g->raise(41).is_ok());
    Lrs l = flush(*g, 0, 1);
    EXPECT_EQ(intids(l), std::vector<u32>{41}); // pending-not-active first, despite priority
    EXPECT_TRUE(l.f.lrenpie);                    // active 40 left out
    EXPECT_FALSE(l.f.npie);                      // nothing pending left out
    EXPECT_FALSE(l.f.uie);                       // one LR: underflow would fire at once
    fold_unchanged(*g, 0, l);
    ASSERT_TRUE(g->set_line(45, true).is_ok());
    ASSERT_TRUE(g->set_line(50, true).is_ok());
    Lrs l2 = flush(*g, 0, 2);
    EXPECT_EQ(intids(l2), (std::vector<u32>{50, 45})); // equal priority 0x40: HW first
    EXPECT_TRUE(l2.lr[0].hw);
    EXPECT_EQ(l2.lr[0].pintid, 50u);
    EXPECT_FALSE(l2.lr[0].eoi_maintenance); // HW: the physical deactivation does the work
    EXPECT_TRUE(l2.lr[1].eoi_maintenance);  // level, software: re-sample at EOI
    EXPECT_TRUE(l2.f.npie && l2.f.uie && l2.f.lrenpie);
    fold_unchanged(*g, 0, l2);
}

TEST(VgicFold, EdgeLatchIsKeptWhileTheGuestHasNotTakenIt) {
    auto g = make(1, 32);
    setup_spi(*g, 40, 0x80, Cfg::Edge);
    ASSERT_TRUE(g->raise(40).is_ok());
    Lrs l = flush(*g, 0, 4);
    ASSERT_EQ(l.f.used, 1u);
    EXPECT_EQ(l.lr[0].state, LrState::Pending);
    EXPECT_FALSE(state(*g, 40).pending_latch); // the LR holds the edge now
    fold(*g, 0, l, {LrState::Pending});        // exit before the guest took it
    EXPECT_TRUE(state(*g, 40).pending_latch);
    Lrs l2 = flush(*g, 0, 4);
    ASSERT_EQ(l2.f.used, 1u);
    EXPECT_EQ(l2.lr[0].state, LrState::Pending);
    fold(*g, 0, l2, {LrState::Invalid}); // taken and finished
    EXPECT_FALSE(state(*g, 40).pending());
    EXPECT_EQ(g->queued_count(0), 0u);
}

TEST(VgicFold, EdgeRaisedAgainWhileActiveIsShownPendingActive) {
    auto g = make(1, 32);
    setup_spi(*g, 40, 0x80, Cfg::Edge);
    ASSERT_TRUE(g->raise(40).is_ok());
    Lrs l = flush(*g, 0, 4);
    auto k = g->raise(40); // a second edge while the vCPU runs with it in an LR
    ASSERT_TRUE(k.is_ok());
    EXPECT_EQ(k.value(), VcpuSet::of(0)); // its vCPU is kicked to pick it up
    fold(*g, 0, l, {LrState::Active});    // the guest acknowledged the first one
    VIrq s = state(*g, 40);
    EXPECT_TRUE(s.active && s.pending_latch);
    Lrs l2 = flush(*g, 0, 4);
    ASSERT_EQ(l2.f.used, 1u);
    EXPECT_EQ(l2.lr[0].state, LrState::PendingActive);
    fold(*g, 0, l2, {LrState::Pending}); // deactivated the first, second not yet taken
    s = state(*g, 40);
    EXPECT_TRUE(!s.active && s.pending_latch);
}

TEST(VgicFold, LevelIsClearedAtAckAndRequeuedWhileTheLineIsHigh) {
    auto g = make(1, 32);
    setup_spi(*g, 40, 0x80, Cfg::Level);
    ASSERT_TRUE(g->set_line(40, true).is_ok());
    Lrs l = flush(*g, 0, 4);
    ASSERT_EQ(l.f.used, 1u);
    EXPECT_EQ(l.lr[0].state, LrState::Pending);
    EXPECT_TRUE(l.lr[0].eoi_maintenance);
    fold(*g, 0, l, {LrState::Active}); // acknowledged, line still high
    Lrs l2 = flush(*g, 0, 4);
    ASSERT_EQ(l2.f.used, 1u);
    EXPECT_EQ(l2.lr[0].state, LrState::Active); // never pending+active for a level interrupt
    // The guest deactivates; the LR goes invalid with an EOI maintenance interrupt (not free).
    fold(*g, 0, l2, {LrState::Invalid});
    Lrs l3 = flush(*g, 0, 4); // line still high: re-sampled pending
    ASSERT_EQ(l3.f.used, 1u);
    EXPECT_EQ(l3.lr[0].state, LrState::Pending);
    fold(*g, 0, l3, {LrState::Active});
    ASSERT_TRUE(g->set_line(40, false).is_ok()); // device quietened by the handler
    Lrs l4 = flush(*g, 0, 4);
    ASSERT_EQ(l4.f.used, 1u);
    EXPECT_EQ(l4.lr[0].state, LrState::Active);
    fold(*g, 0, l4, {LrState::Invalid});
    EXPECT_EQ(g->queued_count(0), 0u);
    EXPECT_EQ(flush(*g, 0, 4).f.used, 0u);
}

TEST(VgicFold, SoftwarePendOfALevelInterruptIsConsumedByTheAck) {
    auto g = make(1, 32);
    setup_spi(*g, 40, 0x80, Cfg::Level);
    wr(*g, word(ISPENDR, 40), mask(40)); // Linux retrigger: GICD_ISPENDR
    Lrs l = flush(*g, 0, 4);
    ASSERT_EQ(l.f.used, 1u);
    fold(*g, 0, l, {LrState::Active});
    EXPECT_FALSE(state(*g, 40).pending());
    Lrs l2 = flush(*g, 0, 4);
    fold(*g, 0, l2, {LrState::Invalid});
    EXPECT_EQ(g->queued_count(0), 0u);
}

TEST(VgicFold, HwInterruptIsNeverPendingActive) {
    auto g = make(1, 32);
    setup_spi(*g, 40, 0x80, Cfg::Edge);
    ASSERT_TRUE(g->set_hw(40, 42).is_ok());
    ASSERT_TRUE(g->raise(40).is_ok());
    Lrs l = flush(*g, 0, 4);
    ASSERT_EQ(l.f.used, 1u);
    EXPECT_TRUE(l.lr[0].hw);
    EXPECT_EQ(l.lr[0].pintid, 42u);
    EXPECT_FALSE(l.lr[0].eoi_maintenance);
    ASSERT_TRUE(g->raise(40).is_ok());
    fold(*g, 0, l, {LrState::Active});
    Lrs l2 = flush(*g, 0, 4);
    ASSERT_EQ(l2.f.used, 1u);
    EXPECT_EQ(l2.lr[0].state, LrState::Active);
    EXPECT_TRUE(state(*g, 40).pending_latch); // kept for after the deactivation
    // The guest deactivated it (and with it the physical interrupt): the LR is free (ELRSR).
    // Its stale contents must not matter.
    l2.lr[0].state = LrState::Active;
    g->fold(0, l2.lr, 0x1, 0);
    EXPECT_FALSE(state(*g, 40).active);
    Lrs l3 = flush(*g, 0, 4);
    ASSERT_EQ(l3.f.used, 1u);
    EXPECT_EQ(l3.lr[0].state, LrState::Pending);
    fold(*g, 0, l3, {LrState::Invalid});
}

TEST(VgicFold, DisabledWhileActiveStaysTrackedUntilDeactivated) {
    auto g = make(1, 32);
    setup_spi(*g, 40, 0x80, Cfg::Level);
    ASSERT_TRUE(g->set_hw(40, 40).is_ok());
    ASSERT_TRUE(g->set_line(40, true).is_ok());
    Lrs l = flush(*g, 0, 4);
    fold(*g, 0, l, {LrState::Active});
    wr(*g, word(ICENABLER, 40), mask(40)); // Bao #371: this dropped the active HW interrupt
    EXPECT_EQ(g->queued_count(0), 1u);
    EXPECT_FALSE(g->has_pending(0));
    Lrs l2 = flush(*g, 0, 4);
    ASSERT_EQ(l2.f.used, 1u);
    EXPECT_EQ(l2.lr[0].vintid, 40u);
    EXPECT_EQ(l2.lr[0].state, LrState::Active);
    EXPECT_TRUE(l2.lr[0].hw); // so the guest's deactivation reaches the physical interrupt
    fold(*g, 0, l2, {LrState::Invalid});
    EXPECT_EQ(g->queued_count(0), 0u); // disabled and inactive: dropped, line still high
    EXPECT_EQ(flush(*g, 0, 4).f.used, 0u);
}

TEST(VgicFold, EoiCountDeactivatesTheHighestPriorityActiveLeftOut) {
    auto g = make(1, 64);
    two_active_and_one_idle(*g, 0x60, 0x40);
    ASSERT_TRUE(g->raise(42).is_ok());
    Lrs l2 = flush(*g, 0, 1);
    EXPECT_EQ(intids(l2), std::vector<u32>{42});
    EXPECT_TRUE(l2.f.lrenpie);
    // The guest EOIs one interrupt that is in no LR: it is 41, the higher priority of the two.
    fold(*g, 0, l2, {LrState::Pending}, 0, 1);
    EXPECT_FALSE(state(*g, 41).active);
    EXPECT_TRUE(state(*g, 40).active);
    EXPECT_EQ(g->queued_count(0), 2u); // 40 (active) and 42 (pending)
}

TEST(VgicFlush, NoPendingRequestOnlyWhenAnLrIsPending) {
    auto g = make(1, 64);
    two_active_and_one_idle(*g, 0x10, 0x20);
    ASSERT_TRUE(g->raise(40).is_ok()); // now pending+active
    ASSERT_TRUE(g->raise(42).is_ok()); // pending
    // One LR: 42 (pending only) goes first. With two: 42 then 40 (P+A, priority 0x10).
    Lrs l2 = flush(*g, 0, 2);
    EXPECT_EQ(intids(l2), (std::vector<u32>{42, 40}));
    EXPECT_EQ(l2.lr[1].state, LrState::PendingActive);
    EXPECT_FALSE(l2.f.npie); // only the active 41 is left out
    EXPECT_TRUE(l2.f.uie && l2.f.lrenpie);
    fold_unchanged(*g, 0, l2);
}

TEST(VgicRouting, RetargetMovesAQueuedInterruptAndKicksTheNewTarget) {
    auto g = make(2, 32);
    setup_spi(*g, 40, 0x80, Cfg::Level, 0);
    ASSERT_TRUE(g->set_line(40, true).is_ok());
    EXPECT_EQ(g->queued_count(0), 1u);
    (void)g->take_kicks();
    wr(*g, IROUTER + 8 * 40, 1, 8); // not in an LR: moves at once
    EXPECT_EQ(g->take_kicks(), VcpuSet::of(1));
    EXPECT_EQ(g->queued_count(0), 0u);
    EXPECT_EQ(g->queued_count(1), 1u);
    // In an LR of running vCPU 1: only vCPU 1 may move it, at its next exit.
    Lrs l = flush(*g, 1, 4);
    ASSERT_EQ(l.f.used, 1u);
    wr(*g, IROUTER + 8 * 40, 0, 8);
    EXPECT_EQ(g->take_kicks(), VcpuSet::of(1));
    EXPECT_EQ(g->queued_count(1), 1u);
    VcpuSet k = fold(*g, 1, l, {LrState::Pending}); // not taken yet
    EXPECT_EQ(k, VcpuSet::of(0));
    EXPECT_EQ(g->queued_count(0), 1u);
    Lrs l0 = flush(*g, 0, 4);
    EXPECT_EQ(intids(l0), std::vector<u32>{40});
    // Once active it stays with the vCPU that took it, even when retargeted.
    fold(*g, 0, l0, {LrState::Active});
    wr(*g, IROUTER + 8 * 40, 1, 8);
    EXPECT_EQ(g->queued_count(0), 1u);
    Lrs l1 = flush(*g, 0, 4);
    EXPECT_EQ(intids(l1), std::vector<u32>{40});
    EXPECT_EQ(l1.lr[0].state, LrState::Active);
    VcpuSet k2 = fold(*g, 0, l1, {LrState::Invalid}); // deactivated; line still high
    EXPECT_EQ(k2, VcpuSet::of(1));
    EXPECT_EQ(g->queued_count(1), 1u);
}

TEST(VgicRouting, UnroutableSpiStaysPendingInTheDistributor) {
    auto g = make(2, 32);
    setup_spi(*g, 40, 0x80, Cfg::Edge, 0x5); // Aff0 = 5: no such vCPU
    auto k = g->raise(40);
    ASSERT_TRUE(k.is_ok());
    EXPECT_TRUE(k.value().empty());
    EXPECT_EQ(g->queued_count(0) + g->queued_count(1), 0u);
    wr(*g, IROUTER + 8 * 40, 1, 8);
    EXPECT_EQ(g->take_kicks(), VcpuSet::of(1));
    EXPECT_TRUE(g->has_pending(1));
}

TEST(VgicFlush, FlushWithoutFoldIsACxvisorBug) {
    auto g = make(1, 32);
    setup_spi(*g, 40, 0x80, Cfg::Edge);
    ASSERT_TRUE(g->raise(40).is_ok());
    Lrs l = flush(*g, 0, 4);
    EXPECT_DEATH(flush(*g, 0, 4), "not folded");
    fold_unchanged(*g, 0, l);
}

// The lock covers every entry point: sources, register writes and two vCPUs flushing/folding in
// parallel never corrupt the pending lists (ASan/UBSan watch), and once the sources stop and the
// guest finishes everything, no interrupt is left behind.
TEST(VgicConcurrency, SourcesRegistersAndVcpusInParallel) {
    auto g = make(2, 64);
    for (u32 i = 32; i < 96; ++i) setup_spi(*g, i, static_cast<u8>(i * 8), i % 2 ? Cfg::Edge : Cfg::Level, i % 2);
    for (u16 v = 0; v < 2; ++v)
        for (u32 s = 0; s < 16; ++s) setup_private(*g, v, s, 0x40);

    // What a guest does with its LRs between two exits: take pending ones, finish active ones.
    auto guest = [](Lrs& l) {
        for (u32 i = 0; i < l.f.used; ++i) {
            LrState& s = l.lr[i].state;
            s = s == LrState::Pending ? LrState::Active
                : s == LrState::PendingActive ? LrState::Pending
                                              : LrState::Invalid;
        }
    };
    std::atomic<bool> go{false}, stop{false};
    auto vcpu_loop = [&](u16 v) {
        while (!go.load()) std::this_thread::yield();
        while (!stop.load()) {
            Lrs l = flush(*g, v, 4);
            guest(l);
            g->fold(v, l.lr, 0, 0);
            u8 prio;
            (void)g->has_pending(v, &prio);
            if (!g->lists_consistent()) {
                ADD_FAILURE() << "pending lists corrupted";
                break;
            }
        }
    };
    std::thread v0(vcpu_loop, 0), v1(vcpu_loop, 1);
    std::thread sources([&] {
        while (!go.load()) std::this_thread::yield();
        for (u32 n = 0; n < 200000; ++n) {
            u32 i = 32 + n % 64;
            if (i % 2) EXPECT_TRUE(g->raise(i).is_ok());
            else EXPECT_TRUE(g->set_line(i, n % 3 == 0).is_ok());
        }
    });
    std::thread regs([&] {
        while (!go.load()) std::this_thread::yield();
        for (u32 n = 0; n < 40000; ++n) {
            u32 i = 32 + n % 64;
            EXPECT_TRUE(g->dist_write(IROUTER + 8 * i, 8, n % 2).is_ok());
            EXPECT_TRUE(g->dist_write(word(n % 5 ? ISENABLER : ICENABLER, i), 4, mask(i)).is_ok());
            EXPECT_TRUE(g->send_sgi(static_cast<u16>(n % 2), (u64(n % 16) << 24) | 0x3).is_ok());
            (void)g->take_kicks();
        }
    });
    go = true;
    sources.join();
    regs.join();
    stop = true;
    v0.join();
    v1.join();

    // Quiesce: every line low, then let the guest finish whatever is left.
    for (u32 i = 32; i < 96; i += 2) ASSERT_TRUE(g->set_line(i, false).is_ok());
    for (u32 round = 0; round < 64 && g->queued_count(0) + g->queued_count(1); ++round)
        for (u16 v = 0; v < 2; ++v) {
            Lrs l = flush(*g, v, 4);
            guest(l);
            g->fold(v, l.lr, 0, 0);
        }
    EXPECT_TRUE(g->lists_consistent());
    EXPECT_EQ(g->queued_count(0) + g->queued_count(1), 0u);
    EXPECT_FALSE(g->has_pending(0) || g->has_pending(1));
}

TEST(VgicRouting, GroupZeroUsesItsOwnEnableAndLrGroup) {
    auto g = make(1, 32);
    setup_spi(*g, 40, 0x80, Cfg::Edge);
    wr(*g, word(IGROUPR, 40), 0); // back to group 0
    wr(*g, GICD_CTLR, 0x2);       // only group 1 enabled
    ASSERT_TRUE(g->raise(40).is_ok());
    EXPECT_FALSE(g->has_pending(0));
    wr(*g, GICD_CTLR, 0x1); // group 0 on
    EXPECT_EQ(g->take_kicks(), VcpuSet::of(0));
    Lrs l = flush(*g, 0, 4);
    ASSERT_EQ(l.f.used, 1u);
    EXPECT_FALSE(l.lr[0].group1);
    fold(*g, 0, l, {LrState::Invalid});
}

TEST(VgicRouting, IrouterMatchesAllAffinityLevels) {
    VgicConfig c = config(3, 32);
    c.mpidr[0] = 0x000;
    c.mpidr[1] = 0x100;                 // Aff1 = 1, Aff0 = 0
    c.mpidr[2] = (1ull << 32) | 0x100;  // Aff3 = 1, Aff1 = 1
    auto g = make(c);
    wr(*g, IROUTER + 8 * 40, 0x100, 8);
    EXPECT_EQ(state(*g, 40).target, 1u);
    wr(*g, IROUTER + 8 * 40, (1ull << 32) | 0x100, 8);
    EXPECT_EQ(state(*g, 40).target, 2u);
    wr(*g, IROUTER + 8 * 40, 0x10100, 8); // Aff2 = 1: nobody
    EXPECT_EQ(state(*g, 40).target, NoVcpu);
    wr(*g, IROUTER + 8 * 40, 0, 8);
    EXPECT_EQ(state(*g, 40).target, 0u);
}
