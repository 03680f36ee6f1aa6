// The level-1 fast path of the vGIC (Vgic::raise_live, send_sgi_live): an interrupt added to the
// live list registers must give exactly what the full path gives (the source, then fold of the
// hardware's LRs and a new flush), and the fast path must refuse, changing nothing, wherever that
// would not hold. Each test runs the same guest story on two Vgics: A takes the fast path where
// it applies, B always the full path; the LRs the guest sees and the model state must agree.
#include "vgic_fixture.hpp"
#include <algorithm>
#include <tuple>
#include <vector>

using namespace vgic_test;

namespace {

constexpr u32 SGI = 1, SGI_LOW = 2, VTIMER = 27, VTIMER_PINTID = 27;
constexpr u16 V0 = 0;

// The virtual CPU interface of the CPU running one vCPU, as arch/aarch64/vgic_hw.cpp drives it.
struct Cpu {
    Vgic& g;
    u16 vcpu;
    u32 nr;
    VgicLr lr[MaxLrs] = {};
    u32 used = 0;
    bool idle = false;

    void enter() { // vgichw::flush
        for (auto& l : lr) l = VgicLr{};
        used = 0;
        idle = g.idle(vcpu);
        if (idle) return;
        VgicFlush f = g.flush(vcpu, lr, nr);
        used = f.used;
    }
    void exit() { // vgichw::sync
        if (!idle) g.fold(vcpu, lr, elrsr(), 0);
        idle = false;
        used = 0;
    }
    // ICH_ELRSR_EL2: invalid and no EOI maintenance owed.
    u64 elrsr() const {
        u64 b = 0;
        for (u32 i = 0; i < used; ++i)
            if (lr[i].state == LrState::Invalid && !lr[i].eoi_maintenance) b |= 1ull << i;
        return b;
    }
    LiveLrs view() const { return LiveLrs{nr, idle ? 0 : elrsr(), idle}; }
    void commit(const LiveAdd& a) { // vgichw::live_commit
        lr[a.index] = a.lr;
        used = std::max(used, a.used);
        idle = false;
    }
    // The guest acknowledges and deactivates `intid` (EOImode 0): its LR becomes invalid; a level
    // software one with EOI = 1 would raise a maintenance interrupt (not in ELRSR).
    void guest_takes(u32 intid) {
        for (u32 i = 0; i < used; ++i)
            if (lr[i].vintid == intid && lr[i].state != LrState::Invalid) { lr[i].state = LrState::Invalid; return; }
        ADD_FAILURE() << "INTID " << intid << " not in an LR";
    }
    void guest_acks(u32 intid) { // acknowledged, still active
        for (u32 i = 0; i < used; ++i)
            if (lr[i].vintid == intid && lr[i].state == LrState::Pending) { lr[i].state = LrState::Active; return; }
        ADD_FAILURE() << "INTID " << intid << " not pending in an LR";
    }
    // What the guest can see: the valid LRs, in any order.
    std::vector<std::tuple<u32, u8, u8, bool, bool, u32, bool>> shown() const {
        std::vector<std::tuple<u32, u8, u8, bool, bool, u32, bool>> v;
        for (u32 i = 0; i < used; ++i)
            if (lr[i].state != LrState::Invalid)
                v.emplace_back(lr[i].vintid, u8(lr[i].state), lr[i].priority, lr[i].group1, lr[i].hw, lr[i].pintid,
                               lr[i].eoi_maintenance);
        std::sort(v.begin(), v.end());
        return v;
    }
};

// A vCPU 0 set up like bench-irq's guest (and Linux): SGIs 1 and 2, the HW-linked virtual timer
// as a level PPI, SPI 40 (edge) and 41 (level) routed to vCPU 0, all group 1.
void setup(Vgic& g) {
    setup_private(g, V0, SGI, 0x80);
    setup_private(g, V0, SGI_LOW, 0xa0);
    setup_private(g, V0, VTIMER, 0x80);
    rwr(g, V0, SGI_BASE + ICFGR + 4, 0); // PPIs level
    ASSERT_TRUE(g.set_hw(VTIMER, VTIMER_PINTID, V0).is_ok());
    setup_spi(g, 40, 0x60, Cfg::Edge, 0);
    setup_spi(g, 41, 0x90, Cfg::Level, 0);
    if (g.vcpu_count() > 1) setup_private(g, 1, SGI, 0x80);
}

u64 sgi_to(u32 intid, u16 target_list) { return (u64(intid) << 24) | target_list; }

// The two sides of one story.
struct Pair {
    VgicPtr a = nullptr, b = nullptr;
    Cpu ca, cb;
    Pair(u32 vcpus, u32 nr) : a(make(vcpus, 64)), b(make(vcpus, 64)), ca{*a, V0, nr}, cb{*b, V0, nr} {
        setup(*a);
        setup(*b);
        ca.enter();
        cb.enter();
    }
    // The full path on B; on A the fast path if it applies (returns whether it did), else the full
    // path too. The guest sees the same LRs either way.
    bool timer() {
        LiveAdd add;
        bool live = a->raise_live(VTIMER, V0, ca.view(), add);
        if (live) ca.commit(add);
        else timer_full(ca, *a);
        timer_full(cb, *b);
        expect_same();
        return live;
    }
    bool sgi(u64 value, bool group1 = true) {
        LiveAdd add;
        bool live = a->send_sgi_live(V0, value, group1, ca.view(), add);
        if (live) ca.commit(add);
        else full(ca, [&] { (void)a->send_sgi(V0, value, group1); });
        full(cb, [&] { (void)b->send_sgi(V0, value, group1); });
        expect_same();
        return live;
    }
    // The timer's full path in the order of the run loop (and of Vcpu's deferred raise): the
    // exit's fold first, then the raise, then the next entry's flush. Raising a level interrupt
    // before the fold of its finished LR would lose it: fold consumes the latch of a level LR the
    // guest took.
    static void timer_full(Cpu& c, Vgic& g) {
        c.exit();
        (void)g.raise(VTIMER, V0);
        c.enter();
    }
    template <typename F> static void full(Cpu& c, F source) {
        source();
        c.exit();
        c.enter();
    }
    void both(void (Cpu::*guest)(u32), u32 intid) {
        (ca.*guest)(intid);
        (cb.*guest)(intid);
    }
    void expect_same() {
        EXPECT_EQ(ca.shown(), cb.shown());
    }
    // Both fold, and the model's record of every interrupt must agree.
    void expect_same_model() {
        ca.exit();
        cb.exit();
        for (u32 intid : {SGI, SGI_LOW, VTIMER, 40u, 41u}) {
            VIrq x = state(*a, intid, V0), y = state(*b, intid, V0);
            EXPECT_EQ(x.pending(), y.pending()) << intid;
            EXPECT_EQ(x.pending_latch, y.pending_latch) << intid;
            EXPECT_EQ(x.active, y.active) << intid;
            EXPECT_EQ(x.queued_on, y.queued_on) << intid;
        }
        EXPECT_TRUE(a->lists_consistent());
        EXPECT_TRUE(b->lists_consistent());
        ca.enter();
        cb.enter();
        expect_same();
    }
};

} // namespace

TEST(VgicLive, SgiToSelfFromAnIdleEntryIsShownAtOnce) {
    Pair p(1, 4);
    EXPECT_TRUE(p.ca.idle);
    EXPECT_TRUE(p.sgi(sgi_to(SGI, 1)));
    EXPECT_FALSE(p.ca.idle);
    p.both(&Cpu::guest_takes, SGI);
    // The next SGI reuses the LR the guest finished with, round after round.
    for (int i = 0; i < 6; ++i) {
        EXPECT_TRUE(p.sgi(sgi_to(SGI, 1)));
        EXPECT_EQ(p.ca.used, 1u);
        p.both(&Cpu::guest_takes, SGI);
    }
    p.expect_same_model();
}

TEST(VgicLive, TimerRoundsOfTheHwLinkedLevelPpi) {
    Pair p(1, 4);
    for (int i = 0; i < 6; ++i) {
        EXPECT_TRUE(p.timer()) << i;
        p.both(&Cpu::guest_takes, VTIMER);
    }
    // Raised again before the guest took the last one: pending in its LR, the full path's job.
    EXPECT_TRUE(p.timer());
    EXPECT_FALSE(p.timer());
    p.expect_same_model();
}

TEST(VgicLive, AddsBesideOtherLiveInterrupts) {
    Pair p(1, 4);
    ASSERT_TRUE(p.timer());
    p.both(&Cpu::guest_acks, VTIMER);     // the timer handler runs (active) ...
    EXPECT_TRUE(p.sgi(sgi_to(SGI_LOW, 1))); // ... and sends itself a lower-priority SGI
    EXPECT_TRUE(p.sgi(sgi_to(SGI, 1)));
    EXPECT_EQ(p.ca.used, 3u);
    p.both(&Cpu::guest_takes, VTIMER);
    p.both(&Cpu::guest_takes, SGI);
    EXPECT_TRUE(p.sgi(sgi_to(SGI, 1))); // its own LR again
    EXPECT_EQ(p.ca.used, 3u);
    p.expect_same_model();
}

TEST(VgicLive, NotWhenSomethingIsLeftOutOfTheLrs) {
    Pair p(1, 2);
    // Three pending with two LRs: SPI 40 (0x60) and the level SPI 41 (0x90) are shown, SGI 2
    // (0xa0) waits for an LR.
    for (Vgic* g : {p.a.get(), p.b.get()}) {
        (void)g->raise(40);
        (void)g->set_line(41, true);
        (void)g->send_sgi(V0, sgi_to(SGI_LOW, 1));
    }
    Pair::full(p.ca, [] {});
    Pair::full(p.cb, [] {});
    p.both(&Cpu::guest_takes, 40); // an LR is free now, but SGI 2 comes first: not live
    EXPECT_FALSE(p.sgi(sgi_to(SGI, 1)));
    p.expect_same_model();
}

TEST(VgicLive, NotWithoutAFreeLr) {
    Pair p(1, 2);
    EXPECT_TRUE(p.sgi(sgi_to(SGI, 1)));
    EXPECT_TRUE(p.sgi(sgi_to(SGI_LOW, 1)));
    EXPECT_FALSE(p.timer()); // both LRs still pending
    p.expect_same_model();
}

TEST(VgicLive, NotForAnSgiToAnotherVcpuOrToSeveral) {
    Pair p(2, 4);
    EXPECT_FALSE(p.sgi(sgi_to(SGI, 0b10)));
    EXPECT_FALSE(p.sgi(sgi_to(SGI, 0b11)));
    EXPECT_FALSE(p.sgi(sgi_to(SGI, 1) | (1ull << 40))); // IRM: everyone but the sender
    p.expect_same_model();
    EXPECT_TRUE(state(*p.a, SGI, 1).pending());
}

TEST(VgicLive, NotForAGroupZeroRequestOfAGroupOneSgi) {
    Pair p(1, 4);
    EXPECT_FALSE(p.sgi(sgi_to(SGI, 1), false));
    EXPECT_TRUE(p.ca.shown().empty());
    p.expect_same_model();
}

TEST(VgicLive, NotForALevelLineThatIsStillHigh) {
    Pair p(1, 4);
    // The timer PPI's line driven high (a level source, not the raise of the HW path).
    (void)p.a->set_line(VTIMER, true, V0);
    (void)p.b->set_line(VTIMER, true, V0);
    Pair::full(p.ca, [] {});
    Pair::full(p.cb, [] {});
    p.both(&Cpu::guest_takes, VTIMER);
    EXPECT_FALSE(p.timer()); // fold must re-sample the line
    p.expect_same_model();
}

TEST(VgicLive, NotAfterASourceOrARegisterWriteSinceTheFlush) {
    Pair p(1, 4);
    EXPECT_TRUE(p.sgi(sgi_to(SGI, 1)));
    p.both(&Cpu::guest_takes, SGI);
    // Another CPU raises SPI 40 for this vCPU while it runs: queued, not yet in an LR.
    (void)p.a->raise(40);
    (void)p.b->raise(40);
    EXPECT_FALSE(p.sgi(sgi_to(SGI, 1)));
    p.both(&Cpu::guest_takes, 40);
    p.both(&Cpu::guest_takes, SGI);
    EXPECT_TRUE(p.sgi(sgi_to(SGI, 1))); // the full path's flush made the LRs exact again
    p.both(&Cpu::guest_takes, SGI);
    // A register write (here: the SGI's priority) since the flush: the LRs may be stale.
    rwr(*p.a, V0, SGI_BASE + IPRIORITYR + SGI, 0x40, 1);
    rwr(*p.b, V0, SGI_BASE + IPRIORITYR + SGI, 0x40, 1);
    EXPECT_FALSE(p.sgi(sgi_to(SGI, 1)));
    p.expect_same_model();
}

TEST(VgicLive, NotForADisabledInterrupt) {
    Pair p(1, 4);
    rwr(*p.a, V0, SGI_BASE + ICENABLER, mask(SGI));
    rwr(*p.b, V0, SGI_BASE + ICENABLER, mask(SGI));
    Pair::full(p.ca, [] {});
    Pair::full(p.cb, [] {});
    EXPECT_FALSE(p.sgi(sgi_to(SGI, 1)));
    EXPECT_TRUE(p.ca.shown().empty());
    p.expect_same_model();
}

TEST(VgicLive, NotForALevelSoftwareLrThatOwesItsEoiMaintenance) {
    Pair p(1, 4);
    // A level PPI that is not HW-linked: its LR asks for EOI maintenance, so a finished one is
    // not free in ELRSR (the maintenance interrupt must reach the full path's fold).
    ASSERT_TRUE(p.a->clear_hw(VTIMER, V0).is_ok());
    ASSERT_TRUE(p.b->clear_hw(VTIMER, V0).is_ok());
    Pair::full(p.ca, [] {});
    Pair::full(p.cb, [] {});
    EXPECT_TRUE(p.timer());
    p.both(&Cpu::guest_takes, VTIMER);
    EXPECT_EQ(p.ca.elrsr(), 0u);
    EXPECT_FALSE(p.timer());
    p.expect_same_model();
}

TEST(VgicLive, RefusalChangesNothing) {
    auto g = make(2, 64);
    setup(*g);
    Cpu c{*g, V0, 4};
    c.enter();
    VIrq before = state(*g, SGI, 1);
    LiveAdd add;
    EXPECT_FALSE(g->send_sgi_live(V0, sgi_to(SGI, 0b10), true, c.view(), add));
    VIrq after = state(*g, SGI, 1);
    EXPECT_EQ(before.pending(), after.pending());
    EXPECT_EQ(before.queued_on, after.queued_on);
    EXPECT_EQ(g->queued_count(V0) + g->queued_count(1), 0u);
    EXPECT_FALSE(g->raise_live(40, V0, c.view(), add)); // not a private interrupt
    EXPECT_FALSE(g->raise_live(SGI, 7, c.view(), add)); // not a vCPU of this VM
    EXPECT_TRUE(g->lists_consistent());
}
