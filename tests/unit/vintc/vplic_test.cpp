// The vPLIC model (src/vintc/vplic.*) against the RISC-V PLIC Specification 1.0.0 and the way
// Linux's irq-sifive-plic driver uses it, through the register window as a guest would.
#include "vintc/vplic.hpp"
#include <atomic>
#include <chrono>
#include <gtest/gtest.h>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace {
using namespace vplic;

// Offsets spelled out here (PLIC spec "Memory Map") so the tests do not share the model's constants.
constexpr u64 prio_reg(u32 s) { return 4ull * s; }
constexpr u64 pending_reg(u32 s) { return 0x1000 + 4ull * (s / 32); }
constexpr u64 enable_reg(u32 ctx, u32 s) { return 0x2000 + 0x80ull * ctx + 4ull * (s / 32); }
constexpr u64 threshold_reg(u32 ctx) { return 0x200000 + 0x1000ull * ctx; }
constexpr u64 claim_reg(u32 ctx) { return 0x200004 + 0x1000ull * ctx; }
constexpr u32 sctx(u32 vcpu) { return 2 * vcpu + 1; } // QEMU virt: 2h = M, 2h+1 = S
constexpr u32 mctx(u32 vcpu) { return 2 * vcpu; }

struct VplicDeleter {
    void operator()(Vplic* p) const { delete p; }
};
using VplicPtr = std::unique_ptr<Vplic, VplicDeleter>;

struct Kicks {
    std::vector<u32> sets;
    static void fn(void* ctx, VcpuSet v) { static_cast<Kicks*>(ctx)->sets.push_back(v.bits()); }
};

struct HwDone {
    std::vector<u32> psources;
    Vplic* reenter = nullptr; // when set, the callback calls back into the model (no lock held)
    static void fn(void* ctx, u32 ps) {
        auto* h = static_cast<HwDone*>(ctx);
        h->psources.push_back(ps);
        if (h->reenter) (void)h->reenter->raise(1);
    }
};

VplicConfig config(u32 vcpus, u32 sources, Kicks* k = nullptr, HwDone* h = nullptr) {
    VplicConfig c;
    c.vcpu_count = vcpus;
    c.sources = sources;
    c.priority_bits = 3;
    c.base = GuestPhysAddr{0xc000000};
    if (k) c.kick = Kicks::fn, c.kick_ctx = k;
    if (h) c.hw_complete = HwDone::fn, c.hw_complete_ctx = h;
    return c;
}

VplicPtr make(const VplicConfig& c) {
    auto r = Vplic::create(c);
    EXPECT_TRUE(r.is_ok());
    return VplicPtr(r.is_ok() ? r.value() : nullptr);
}

u64 rd(Vplic& p, u64 off) {
    auto r = p.window(0)->read(off, 4);
    EXPECT_TRUE(r.is_ok()) << "read at " << std::hex << off;
    return r.is_ok() ? r.value() : ~0ull;
}
void wr(Vplic& p, u64 off, u64 v) { EXPECT_TRUE(p.window(0)->write(off, 4, v).is_ok()) << "write at " << std::hex << off; }
u32 claim(Vplic& p, u32 vcpu) { return static_cast<u32>(rd(p, claim_reg(sctx(vcpu)))); }
void complete(Vplic& p, u32 vcpu, u32 s) { wr(p, claim_reg(sctx(vcpu)), s); }
void enable(Vplic& p, u32 vcpu, u32 s, bool on = true) {
    u64 off = enable_reg(sctx(vcpu), s);
    u64 v = rd(p, off);
    wr(p, off, on ? v | (1ull << (s % 32)) : v & ~(1ull << (s % 32)));
}
// Linux's setup of one source for one CPU: priority 1..7, enabled, threshold 0.
void route(Vplic& p, u32 vcpu, u32 s, u32 prio = 1) {
    wr(p, prio_reg(s), prio);
    enable(p, vcpu, s);
}
bool is_pending(Vplic& p, u32 s) { return (rd(p, pending_reg(s)) >> (s % 32)) & 1; }

TEST(Vplic, CreateRejectsBadConfigs) {
    EXPECT_TRUE(Vplic::create(config(0, 96)).is_error());
    EXPECT_TRUE(Vplic::create(config(MaxVcpus + 1, 96)).is_error());
    EXPECT_TRUE(Vplic::create(config(1, 0)).is_error());
    EXPECT_TRUE(Vplic::create(config(1, MaxSources + 1)).is_error());
    VplicConfig c = config(1, 96);
    c.priority_bits = 0;
    EXPECT_TRUE(Vplic::create(c).is_error());
    c.priority_bits = MaxPriorityBits + 1;
    EXPECT_TRUE(Vplic::create(c).is_error());
    auto p = make(config(MaxVcpus, MaxSources));
    ASSERT_TRUE(p);
    EXPECT_EQ(p->window_count(), 1u);
    EXPECT_EQ(p->window(1), nullptr);
    EXPECT_EQ(p->window(0)->base().value(), 0xc000000u);
    EXPECT_EQ(p->window(0)->size(), 0x200000u + 0x1000u * 2 * MaxVcpus);
}

TEST(Vplic, PriorityAndThresholdAreWarlOfTheConfiguredBits) {
    auto p = make(config(1, 96));
    wr(*p, prio_reg(5), 0xffffffff);
    EXPECT_EQ(rd(*p, prio_reg(5)), 7u); // 3 bits, as QEMU virt
    wr(*p, prio_reg(5), 9);
    EXPECT_EQ(rd(*p, prio_reg(5)), 1u);
    wr(*p, threshold_reg(sctx(0)), 0xff);
    EXPECT_EQ(rd(*p, threshold_reg(sctx(0))), 7u);
    // Enable bits of the non-existent source 0 and of sources above `sources` are hardwired 0.
    wr(*p, enable_reg(sctx(0), 0), 0xffffffff);
    EXPECT_EQ(rd(*p, enable_reg(sctx(0), 0)), 0xfffffffeu);
    wr(*p, enable_reg(sctx(0), 64), 0xffffffff);
    EXPECT_EQ(rd(*p, enable_reg(sctx(0), 64)), 0xffffffffu); // sources 64..95
    auto q = make(config(1, 40));
    wr(*q, enable_reg(sctx(0), 32), 0xffffffff);
    EXPECT_EQ(rd(*q, enable_reg(sctx(0), 32)), 0x1ffu); // sources 32..40
}

TEST(Vplic, ClaimTakesTheHighestPriorityThenTheLowestId) {
    auto p = make(config(1, 96));
    route(*p, 0, 10, 2);
    route(*p, 0, 3, 2);
    route(*p, 0, 40, 5);
    route(*p, 0, 7, 2);
    for (u32 s : {10u, 3u, 40u, 7u}) ASSERT_TRUE(p->raise(s).is_ok());
    EXPECT_TRUE(p->external_pending(0));
    EXPECT_EQ(claim(*p, 0), 40u); // highest priority
    EXPECT_EQ(claim(*p, 0), 3u);  // then ties by lowest ID
    EXPECT_EQ(claim(*p, 0), 7u);
    EXPECT_EQ(claim(*p, 0), 10u);
    EXPECT_FALSE(p->external_pending(0));
    EXPECT_EQ(claim(*p, 0), 0u); // none left
    EXPECT_FALSE(is_pending(*p, 3));
}

TEST(Vplic, ThresholdMasksTheNotificationButNotTheClaim) {
    auto p = make(config(1, 96));
    route(*p, 0, 9, 3);
    wr(*p, threshold_reg(sctx(0)), 3);
    ASSERT_TRUE(p->raise(9).is_ok());
    EXPECT_FALSE(p->external_pending(0)); // priority must exceed the threshold
    Kicks k;
    auto q = make(config(1, 96, &k));
    route(*q, 0, 9, 3);
    wr(*q, threshold_reg(sctx(0)), 3);
    ASSERT_TRUE(q->raise(9).is_ok());
    wr(*q, threshold_reg(sctx(0)), 2); // lowering the threshold notifies, and the window kicks
    EXPECT_TRUE(q->external_pending(0));
    ASSERT_EQ(k.sets.size(), 1u);
    EXPECT_EQ(k.sets[0], 1u);
    // "The claim operation is not affected by the setting of the priority threshold register".
    EXPECT_EQ(claim(*p, 0), 9u);
}

TEST(Vplic, PriorityZeroNeverDelivers) {
    auto p = make(config(1, 96));
    enable(*p, 0, 4); // priority stays 0 (reset)
    ASSERT_TRUE(p->raise(4).is_ok());
    EXPECT_TRUE(is_pending(*p, 4));
    EXPECT_FALSE(p->external_pending(0));
    EXPECT_EQ(claim(*p, 0), 0u);
    EXPECT_TRUE(is_pending(*p, 4)); // still there: Linux unmasks by writing priority 1
    wr(*p, prio_reg(4), 1);
    EXPECT_TRUE(p->external_pending(0));
    wr(*p, prio_reg(4), 0); // Linux masks by writing 0
    EXPECT_FALSE(p->external_pending(0));
}

TEST(Vplic, LevelSourceStillHighRependsAtCompletion) {
    auto p = make(config(1, 96));
    route(*p, 0, 10);
    ASSERT_TRUE(p->set_line(10, true).is_ok());
    EXPECT_EQ(claim(*p, 0), 10u);
    EXPECT_FALSE(p->external_pending(0)); // in service: no second request from the gateway
    ASSERT_TRUE(p->set_line(10, true).is_ok());
    EXPECT_FALSE(p->external_pending(0));
    complete(*p, 0, 10); // the handler left the device asserting: a new request
    EXPECT_TRUE(p->external_pending(0));
    EXPECT_EQ(claim(*p, 0), 10u);
    ASSERT_TRUE(p->set_line(10, false).is_ok());
    complete(*p, 0, 10);
    EXPECT_FALSE(p->external_pending(0));
    EXPECT_FALSE(is_pending(*p, 10));
    EXPECT_EQ(claim(*p, 0), 0u);
}

TEST(Vplic, LevelDroppedBeforeTheClaimIsNotRetracted) {
    auto p = make(config(1, 96));
    route(*p, 0, 10);
    ASSERT_TRUE(p->set_line(10, true).is_ok());
    ASSERT_TRUE(p->set_line(10, false).is_ok());
    // PLIC spec "Interrupt Gateways": the request stays in IP and is serviced.
    EXPECT_TRUE(p->external_pending(0));
    EXPECT_EQ(claim(*p, 0), 10u);
    complete(*p, 0, 10);
    EXPECT_EQ(claim(*p, 0), 0u);
}

TEST(Vplic, EdgeDuringServiceIsNotLost) {
    auto p = make(config(1, 96));
    route(*p, 0, 1);
    ASSERT_TRUE(p->raise(1).is_ok());
    ASSERT_TRUE(p->raise(1).is_ok()); // covered by the pending request
    EXPECT_EQ(claim(*p, 0), 1u);
    ASSERT_TRUE(p->raise(1).is_ok()); // arrives while the handler runs
    EXPECT_FALSE(p->external_pending(0));
    complete(*p, 0, 1);
    EXPECT_TRUE(p->external_pending(0));
    EXPECT_EQ(claim(*p, 0), 1u);
    complete(*p, 0, 1);
    EXPECT_EQ(claim(*p, 0), 0u); // one request per service, not one per edge
}

TEST(Vplic, TwoInterruptsWithoutLoss) {
    auto p = make(config(1, 96));
    route(*p, 0, 5);
    route(*p, 0, 6);
    ASSERT_TRUE(p->set_line(5, true).is_ok());
    EXPECT_EQ(claim(*p, 0), 5u);
    ASSERT_TRUE(p->set_line(6, true).is_ok());
    EXPECT_TRUE(p->external_pending(0)); // 6 notifies while 5 is in service
    ASSERT_TRUE(p->set_line(5, false).is_ok());
    complete(*p, 0, 5); // completing 5 must not hide 6 (hvisor #129)
    EXPECT_TRUE(p->external_pending(0));
    EXPECT_EQ(claim(*p, 0), 6u);
    ASSERT_TRUE(p->set_line(6, false).is_ok());
    complete(*p, 0, 6);
    EXPECT_FALSE(p->external_pending(0));
}

TEST(Vplic, EnablesArePerContext) {
    auto p = make(config(2, 96));
    wr(*p, prio_reg(33), 1);
    enable(*p, 1, 33);
    ASSERT_TRUE(p->raise(33).is_ok());
    EXPECT_FALSE(p->external_pending(0));
    EXPECT_TRUE(p->external_pending(1));
    EXPECT_EQ(claim(*p, 0), 0u);
    EXPECT_EQ(rd(*p, enable_reg(sctx(0), 33)), 0u);
    EXPECT_EQ(rd(*p, enable_reg(sctx(1), 33)), 2u);
    EXPECT_EQ(claim(*p, 1), 33u);
}

TEST(Vplic, MulticastNotifiesEveryEnabledContextAndTheFirstClaimWins) {
    auto p = make(config(2, 96));
    route(*p, 0, 8);
    enable(*p, 1, 8);
    auto r = p->raise(8);
    ASSERT_TRUE(r.is_ok());
    EXPECT_EQ(r.value().bits(), 3u);
    EXPECT_EQ(claim(*p, 1), 8u);
    EXPECT_FALSE(p->external_pending(0));
    EXPECT_EQ(claim(*p, 0), 0u);
    complete(*p, 1, 8);
}

TEST(Vplic, MModeContextsReadAsZeroAndIgnoreWrites) {
    auto p = make(config(2, 96));
    route(*p, 1, 8);
    ASSERT_TRUE(p->raise(8).is_ok());
    for (u32 v = 0; v < 2; ++v) {
        wr(*p, enable_reg(mctx(v), 8), 0xffffffff);
        EXPECT_EQ(rd(*p, enable_reg(mctx(v), 8)), 0u);
        wr(*p, threshold_reg(mctx(v)), 5);
        EXPECT_EQ(rd(*p, threshold_reg(mctx(v))), 0u);
        EXPECT_EQ(rd(*p, claim_reg(mctx(v))), 0u); // no claim
        wr(*p, claim_reg(mctx(v)), 8);             // no completion
    }
    EXPECT_FALSE(p->external_pending(0));
    EXPECT_TRUE(is_pending(*p, 8));
    EXPECT_EQ(claim(*p, 1), 8u);
    EXPECT_EQ(p->bad_accesses(), 0u);
}

TEST(Vplic, CompletionIgnoredUnlessClaimedAndEnabledOnThatContext) {
    auto p = make(config(2, 96));
    route(*p, 0, 12);
    ASSERT_TRUE(p->set_line(12, true).is_ok());
    complete(*p, 0, 12); // pending, not claimed: ignored
    EXPECT_EQ(claim(*p, 0), 12u);
    complete(*p, 1, 12); // not enabled on vCPU 1's context: ignored
    complete(*p, 0, 0);  // no source
    complete(*p, 0, 500); // no such source
    EXPECT_FALSE(p->external_pending(0)); // still in service: the line does not re-pend
    enable(*p, 0, 12, false);
    complete(*p, 0, 12); // disabled here now: ignored too (Linux enables it around the write)
    EXPECT_FALSE(is_pending(*p, 12));
    enable(*p, 0, 12);
    complete(*p, 0, 12);
    EXPECT_TRUE(p->external_pending(0));
    EXPECT_EQ(p->bad_accesses(), 0u);
}

TEST(Vplic, BadWidthsAndOffsetsAreErrorsAndCounted) {
    auto p = make(config(2, 40));
    MmioDevice& w = *p->window(0);
    struct Bad { u64 off; unsigned width; Error e; };
    const Bad bad[] = {
        {prio_reg(1), 1, Error::InvalidArgument}, {prio_reg(1), 2, Error::InvalidArgument},
        {prio_reg(1), 8, Error::InvalidArgument}, {prio_reg(1) + 2, 4, Error::InvalidArgument},
        {prio_reg(0), 4, Error::OutOfRange},      {prio_reg(41), 4, Error::OutOfRange},
        {0x1008, 4, Error::OutOfRange},           // pending word of sources 64..95
        {0x1ffc, 4, Error::OutOfRange},           // reserved
        {enable_reg(sctx(0), 64), 4, Error::OutOfRange},
        {enable_reg(4, 1), 4, Error::OutOfRange}, // context 4: the VM has 2 vCPUs
        {threshold_reg(4), 4, Error::OutOfRange},
        {threshold_reg(1) + 8, 4, Error::OutOfRange},
        {0x1f0000, 4, Error::OutOfRange},
    };
    u64 n = 0;
    for (const Bad& b : bad) {
        auto r = w.read(b.off, b.width);
        ASSERT_TRUE(r.is_error()) << std::hex << b.off;
        EXPECT_EQ(r.error(), b.e) << std::hex << b.off;
        auto wres = w.write(b.off, b.width, 1);
        ASSERT_TRUE(wres.is_error()) << std::hex << b.off;
        EXPECT_EQ(wres.error(), b.e);
        n += 2;
        EXPECT_EQ(p->bad_accesses(), n);
        EXPECT_EQ(p->last_bad_offset(), b.off);
    }
    // Sources and vCPUs outside the config.
    EXPECT_TRUE(p->raise(0).is_error());
    EXPECT_TRUE(p->raise(41).is_error());
    EXPECT_TRUE(p->set_line(41, true).is_error());
    EXPECT_FALSE(p->external_pending(7));
    EXPECT_FALSE(p->is_shared_line(0));
    EXPECT_TRUE(p->is_shared_line(40));
    EXPECT_FALSE(p->is_shared_line(41));
}

TEST(Vplic, PendingBitsAreReadOnly) {
    auto p = make(config(1, 96));
    wr(*p, pending_reg(3), 0xffffffff);
    EXPECT_EQ(rd(*p, pending_reg(3)), 0u);
    ASSERT_TRUE(p->raise(3).is_ok());
    wr(*p, pending_reg(3), 0);
    EXPECT_EQ(rd(*p, pending_reg(3)), 1u << 3);
}

TEST(Vplic, ResetReturnsToPowerOnAndKeepsWiring) {
    auto p = make(config(2, 96));
    route(*p, 0, 10, 4);
    route(*p, 1, 11, 4);
    wr(*p, threshold_reg(sctx(1)), 2);
    ASSERT_TRUE(p->set_line(10, true).is_ok());
    ASSERT_TRUE(p->raise(11).is_ok());
    EXPECT_EQ(claim(*p, 1), 11u);
    p->reset();
    EXPECT_FALSE(p->external_pending(0));
    EXPECT_FALSE(p->external_pending(1));
    EXPECT_EQ(rd(*p, prio_reg(10)), 0u);
    EXPECT_EQ(rd(*p, enable_reg(sctx(0), 10)), 0u);
    EXPECT_EQ(rd(*p, threshold_reg(sctx(1))), 0u);
    EXPECT_FALSE(is_pending(*p, 11)); // the edge is gone, and 11 is no longer in service:
    route(*p, 1, 11);
    ASSERT_TRUE(p->raise(11).is_ok()); // a new edge is taken at once
    EXPECT_EQ(claim(*p, 1), 11u);
    // Line 10 is still asserted by its device: the idle gateway forwards it again.
    EXPECT_TRUE(is_pending(*p, 10));
    route(*p, 0, 10);
    EXPECT_EQ(claim(*p, 0), 10u);
}

TEST(Vplic, SourcesAndWritesReportTheVcpusToKick) {
    Kicks k;
    auto p = make(config(3, 96, &k));
    route(*p, 2, 20);
    auto bits = [](Result<VcpuSet> r) {
        EXPECT_TRUE(r.is_ok());
        return r.is_ok() ? r.value().bits() : ~0u;
    };
    EXPECT_EQ(bits(p->raise(20)), 1u << 2);
    EXPECT_EQ(bits(p->raise(21)), 0u);         // not enabled anywhere
    EXPECT_EQ(bits(p->set_line(22, true)), 0u);
    EXPECT_EQ(bits(p->raise(20)), 0u);         // already notified: nothing changes to true
    EXPECT_TRUE(k.sets.empty());
    route(*p, 0, 21); // the enable write makes 21 deliverable to vCPU 0: the window kicks it
    ASSERT_EQ(k.sets.size(), 1u);
    EXPECT_EQ(k.sets.back(), 1u);
    route(*p, 1, 22);
    ASSERT_EQ(k.sets.size(), 2u);
    EXPECT_EQ(k.sets.back(), 2u);
    EXPECT_EQ(claim(*p, 0), 21u); // reads never kick
    EXPECT_EQ(k.sets.size(), 2u);
    // Direct register-model calls report what the window would kick.
    EXPECT_EQ(bits(p->mmio_write(prio_reg(40), 4, 1)), 0u);
    route(*p, 2, 40);
    EXPECT_EQ(bits(p->raise(40)), 0u); // vCPU 2 is notified already (source 20)
}

TEST(Vplic, PassthroughCompletionCallsTheHostOutsideTheLock) {
    HwDone h;
    auto p = make(config(1, 96, nullptr, &h));
    ASSERT_TRUE(p->set_hw(1, 77).is_ok());
    EXPECT_TRUE(p->set_hw(0, 77).is_error());
    EXPECT_TRUE(p->set_hw(1, 0).is_error());
    EXPECT_TRUE(p->set_hw(1, 1024).is_error());
    route(*p, 0, 1);
    route(*p, 0, 2);
    ASSERT_TRUE(p->raise(1).is_ok()); // the host claimed physical 77 and forwards it
    EXPECT_EQ(claim(*p, 0), 1u);
    EXPECT_TRUE(h.psources.empty());
    h.reenter = p.get(); // the host's next physical interrupt arrives from inside the callback
    complete(*p, 0, 1);
    ASSERT_EQ(h.psources.size(), 1u);
    EXPECT_EQ(h.psources[0], 77u);
    h.reenter = nullptr;
    EXPECT_TRUE(p->external_pending(0)); // the re-raise from the callback was taken
    EXPECT_EQ(claim(*p, 0), 1u);
    complete(*p, 0, 1);
    EXPECT_EQ(h.psources.size(), 2u);
    // A software source never calls the host, and ignored completions do not either.
    ASSERT_TRUE(p->raise(2).is_ok());
    EXPECT_EQ(claim(*p, 0), 2u);
    complete(*p, 0, 2);
    complete(*p, 0, 1);
    EXPECT_EQ(h.psources.size(), 2u);
    // Without a callback there is no way to complete the physical source: refused.
    auto q = make(config(1, 96));
    EXPECT_EQ(q->set_hw(1, 77).error(), Error::InvalidArgument);
}

TEST(Vplic, ResetCompletesPhysicalSourcesInFlight) {
    HwDone h;
    auto p = make(config(1, 96, nullptr, &h));
    ASSERT_TRUE(p->set_hw(1, 70).is_ok());
    ASSERT_TRUE(p->set_hw(2, 71).is_ok());
    ASSERT_TRUE(p->set_hw(3, 72).is_ok());
    route(*p, 0, 1);
    route(*p, 0, 2);
    ASSERT_TRUE(p->raise(1).is_ok()); // pending
    ASSERT_TRUE(p->raise(2).is_ok());
    EXPECT_EQ(claim(*p, 0), 1u); // 1 in service, 2 pending, 3 idle
    p->reset();
    std::vector<u32> want{70, 71};
    EXPECT_EQ(h.psources, want);
    // The link survives the reset.
    route(*p, 0, 3);
    ASSERT_TRUE(p->raise(3).is_ok());
    EXPECT_EQ(claim(*p, 0), 3u);
    complete(*p, 0, 3);
    want.push_back(72);
    EXPECT_EQ(h.psources, want);
}

// Three threads: devices raising edges and driving a level line while the guest's handler claims and
// completes on another. Each device waits until its event was handled before the next one, so
// its next edge or assertion lands anywhere in the handler's claim..complete window, and a lost
// request shows as an event that is never handled (a timeout), not as a rare miscount.
TEST(Vplic, StressTwoThreadsLoseNothing) {
    auto p = make(config(2, 96));
    route(*p, 0, 3);
    route(*p, 0, 4);
    std::atomic<u64> edge_events{0}, level_events{0};
    std::mutex level_dev; // the level device's own lock: status and line change together
    constexpr u64 Rounds = 1000;
    std::atomic<bool> done{false}, lost{false};

    auto wait_handled = [&](std::atomic<u64>& events) {
        // Generous: the machine is shared; a lost request never gets handled at all.
        auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        while (events.load() != 0) {
            if (std::chrono::steady_clock::now() > until) return false;
            std::this_thread::yield();
        }
        return true;
    };
    // One thread per device, so each raises again as soon as its own event was taken.
    std::atomic<u32> running{2};
    auto device = [&](std::atomic<u64>& events, auto signal) {
        return std::thread([&, signal] {
            for (u64 i = 0; i < Rounds && !lost; ++i) {
                signal(); // records the event and interrupts, as the device does
                if (!wait_handled(events)) lost = true;
            }
            if (--running == 0) done = true;
        });
    };
    std::thread edge_device = device(edge_events, [&] {
        edge_events.fetch_add(1);
        EXPECT_TRUE(p->raise(3).is_ok());
    });
    std::thread level_device = device(level_events, [&] {
        std::lock_guard<std::mutex> g(level_dev);
        level_events.fetch_add(1);
        EXPECT_TRUE(p->set_line(4, true).is_ok());
    });
    u64 handled_edge = 0, handled_level = 0;
    auto handle = [&](u32 s) {
        if (s == 3) handled_edge += edge_events.exchange(0);
        if (s == 4) {
            std::lock_guard<std::mutex> g(level_dev);
            handled_level += level_events.exchange(0);
            EXPECT_TRUE(p->set_line(4, false).is_ok());
        }
        std::this_thread::yield(); // widen the window in which the device raises again
        EXPECT_TRUE(p->mmio_write(claim_reg(sctx(0)), 4, s).is_ok());
    };
    while (!done.load()) {
        auto r = p->mmio_read(claim_reg(sctx(0)), 4);
        ASSERT_TRUE(r.is_ok());
        if (r.value()) handle(static_cast<u32>(r.value()));
        else std::this_thread::yield();
    }
    edge_device.join();
    level_device.join();
    EXPECT_FALSE(lost.load()) << "an event was never signalled after " << handled_edge << " edges";
    EXPECT_EQ(handled_edge, Rounds);
    EXPECT_EQ(handled_level, Rounds);
    EXPECT_FALSE(p->external_pending(0));
    EXPECT_EQ(p->bad_accesses(), 0u);
}

} // namespace
