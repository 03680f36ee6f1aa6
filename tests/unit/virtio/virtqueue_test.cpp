// Split virtqueue (virtio spec v1.2, 2.7): the device side against a driver played in fake RAM.
// Happy paths first, then every hostile input the brief lists; each hostile case checks the
// specific QueueFault and that no access left the fake RAM.
#include "ring_builder.hpp"

#include <gtest/gtest.h>
#include <vector>

using namespace virtio;

namespace {

constexpr u16 kR = kDescFWrite; // shorthand: device-writable
constexpr u16 kN = kDescFNext;
constexpr u16 kI = kDescFIndirect;
constexpr u64 kBuf = RingBuilder::kBuffers;
constexpr u64 kTable = RingBuilder::kRamBase + 0x20000; // an indirect table

struct VirtqueueTest : ::testing::Test {
    RingBuilder rb{8};
    SplitQueue q{rb.mem, 256};
    Chain chain;

    void activate(bool event_idx = false, bool indirect = true) {
        ASSERT_TRUE(q.activate(rb.config(event_idx, indirect)).is_ok());
    }
    // Pop expecting a malformed ring: the distinct error, the queue broken with `fault`, and no
    // access outside RAM attempted.
    void expect_fault(QueueFault fault) {
        auto r = q.pop(chain);
        ASSERT_TRUE(r.is_error());
        EXPECT_EQ(r.error(), Error::BadFormat);
        EXPECT_EQ(q.fault(), fault) << queue_fault_name(q.fault());
        EXPECT_TRUE(q.broken());
        EXPECT_EQ(rb.mem.refused, 0u);
        EXPECT_EQ(rb.mem.unbacked, 0u);
    }
    bool pop_ok() {
        auto r = q.pop(chain);
        EXPECT_TRUE(r.is_ok()) << (r.is_error() ? error_name(r.error()) : "") << " fault "
                               << queue_fault_name(q.fault());
        return r.is_ok() && r.value();
    }
};

// ---- configuration (2.7: size, alignment; rings in RAM) ----

TEST_F(VirtqueueTest, ActivatesValidConfig) {
    activate();
    EXPECT_TRUE(q.ready());
    EXPECT_FALSE(q.broken());
}

TEST_F(VirtqueueTest, RejectsSizeNotPowerOfTwoZeroOrAboveMax) {
    for (u16 size : {u16{0}, u16{3}, u16{12}, u16{512}}) {
        QueueConfig cfg = rb.config();
        cfg.size = size;
        auto r = q.activate(cfg);
        ASSERT_TRUE(r.is_error()) << size;
        EXPECT_EQ(r.error(), Error::BadFormat);
        EXPECT_EQ(q.fault(), QueueFault::BadSize) << size;
        EXPECT_FALSE(q.ready());
    }
}

TEST_F(VirtqueueTest, MaxSizeIsClampedToImplementationLimit) {
    SplitQueue big{rb.mem, 0xffff};
    EXPECT_EQ(big.max_size(), kMaxQueueSize);
}

TEST_F(VirtqueueTest, RejectsMisalignedRings) {
    const u64 bad[][3] = {{RingBuilder::kDesc + 8, RingBuilder::kAvail, RingBuilder::kUsed},
                          {RingBuilder::kDesc, RingBuilder::kAvail + 1, RingBuilder::kUsed},
                          {RingBuilder::kDesc, RingBuilder::kAvail, RingBuilder::kUsed + 2}};
    for (const auto& b : bad) {
        QueueConfig cfg = rb.config();
        cfg.desc = b[0];
        cfg.driver = b[1];
        cfg.device = b[2];
        ASSERT_TRUE(q.activate(cfg).is_error());
        EXPECT_EQ(q.fault(), QueueFault::BadRingAddress);
    }
}

TEST_F(VirtqueueTest, RejectsRingsInHoleAcrossEndOfRamOrWrapping) {
    QueueConfig cfg = rb.config();
    cfg.desc = 0x1000'0000; // a hole (device MMIO on a real board)
    ASSERT_TRUE(q.activate(cfg).is_error());
    EXPECT_EQ(q.fault(), QueueFault::RingOutsideRam);

    cfg = rb.config();
    cfg.device = RingBuilder::kRamBase + RingBuilder::kRamSize - 8; // starts in RAM, ends past it
    ASSERT_TRUE(q.activate(cfg).is_error());
    EXPECT_EQ(q.fault(), QueueFault::RingOutsideRam);

    cfg = rb.config();
    cfg.driver = ~0ull - 7; // 6 + 2 * 8 bytes from here wrap 2^64
    ASSERT_TRUE(q.activate(cfg).is_error());
    EXPECT_EQ(q.fault(), QueueFault::BadRingAddress);
    EXPECT_EQ(rb.mem.refused, 0u);
}

TEST_F(VirtqueueTest, OperationsBeforeActivateAreCallerErrors) {
    auto r = q.pop(chain);
    ASSERT_TRUE(r.is_error());
    EXPECT_EQ(r.error(), Error::InvalidArgument);
    EXPECT_FALSE(q.broken());
    EXPECT_EQ(q.needs_notify().error(), Error::InvalidArgument);
    EXPECT_EQ(q.set_driver_notifications(true).error(), Error::InvalidArgument);
}

// ---- happy paths ----

TEST_F(VirtqueueTest, EmptyRingPopsNothing) {
    activate();
    auto r = q.pop(chain);
    ASSERT_TRUE(r.is_ok());
    EXPECT_FALSE(r.value());
}

TEST_F(VirtqueueTest, PopsDirectChainReadableThenWritable) {
    activate();
    rb.desc(3, kBuf, 16, kN, 5);
    rb.desc(5, kBuf + 0x100, 512, kN | kR, 1);
    rb.desc(1, kBuf + 0x400, 1, kR);
    rb.offer(3);
    ASSERT_TRUE(pop_ok());
    EXPECT_EQ(chain.head, 3);
    ASSERT_EQ(chain.segments.size(), 3u);
    EXPECT_EQ(chain.segments[0].gpa, kBuf);
    EXPECT_EQ(chain.segments[0].len, 16u);
    EXPECT_FALSE(chain.segments[0].writable);
    EXPECT_EQ(chain.segments[1].gpa, kBuf + 0x100);
    EXPECT_TRUE(chain.segments[1].writable);
    EXPECT_EQ(chain.segments[2].len, 1u);
    EXPECT_EQ(chain.readable_len, 16u);
    EXPECT_EQ(chain.writable_len, 513u);
    EXPECT_FALSE(q.pop(chain).value()); // consumed
}

TEST_F(VirtqueueTest, PushWritesUsedElementThenIndex) {
    activate();
    rb.desc(2, kBuf, 64, kR);
    rb.offer(2);
    ASSERT_TRUE(pop_ok());
    ASSERT_TRUE(q.push(chain, 40).is_ok());
    EXPECT_EQ(rb.used_idx(), 1);
    EXPECT_EQ(rb.used_id(0), 2u);
    EXPECT_EQ(rb.used_len(0), 40u);
    EXPECT_EQ(q.used_idx(), 1);
}

TEST_F(VirtqueueTest, PopsSeveralChainsInRingOrder) {
    activate();
    for (u16 i = 0; i < 8; ++i) rb.desc(i, kBuf + 0x100ull * i, 8, 0);
    for (u16 head : {u16{6}, u16{0}, u16{7}}) rb.offer(head);
    for (u16 head : {u16{6}, u16{0}, u16{7}}) {
        ASSERT_TRUE(pop_ok());
        EXPECT_EQ(chain.head, head);
    }
    EXPECT_FALSE(q.pop(chain).value());
}

TEST_F(VirtqueueTest, PopsIndirectTable) {
    activate();
    rb.desc(0, kTable, 3 * 16, kI | kR); // WRITE on the indirect descriptor is ignored (2.7.5.3.2)
    rb.desc_at(kTable, 0, kBuf, 16, kN, 2);
    rb.desc_at(kTable, 2, kBuf + 0x10, 4096, kN | kR, 1);
    rb.desc_at(kTable, 1, kBuf + 0x2000, 1, kR);
    rb.offer(0);
    ASSERT_TRUE(pop_ok());
    EXPECT_EQ(chain.head, 0);
    ASSERT_EQ(chain.segments.size(), 3u);
    EXPECT_FALSE(chain.segments[0].writable);
    EXPECT_EQ(chain.segments[1].len, 4096u);
    EXPECT_EQ(chain.segments[2].gpa, kBuf + 0x2000);
    EXPECT_EQ(chain.readable_len, 16u);
    EXPECT_EQ(chain.writable_len, 4097u);
}

TEST_F(VirtqueueTest, PopsDirectChainEndingInIndirectTable) {
    // 2.7.5.3.2: zero or more chained descriptors followed by one indirect descriptor.
    activate();
    rb.desc(4, kBuf, 16, kN, 6);
    rb.desc(6, kTable, 2 * 16, kI);
    rb.desc_at(kTable, 0, kBuf + 0x100, 32, kN, 1);
    rb.desc_at(kTable, 1, kBuf + 0x200, 8, kR);
    rb.offer(4);
    ASSERT_TRUE(pop_ok());
    ASSERT_EQ(chain.segments.size(), 3u);
    EXPECT_EQ(chain.segments[1].gpa, kBuf + 0x100);
    EXPECT_EQ(chain.readable_len, 48u);
    EXPECT_EQ(chain.writable_len, 8u);
}

TEST_F(VirtqueueTest, IndirectTableMayBeLongerThanQueue) {
    // Linux builds indirect tables with more entries than the queue size when it has the feature.
    activate();
    rb.desc(0, kTable, 20 * 16, kI);
    for (u16 i = 0; i < 20; ++i) rb.desc_at(kTable, i, kBuf + i, 1, i + 1 < 20 ? kN : 0, i + 1);
    rb.offer(0);
    ASSERT_TRUE(pop_ok());
    EXPECT_EQ(chain.segments.size(), 20u);
}

TEST_F(VirtqueueTest, ChainAsLongAsQueueIsAccepted) {
    activate();
    for (u16 i = 0; i < 8; ++i) rb.desc(i, kBuf + i, 1, i < 7 ? kN : 0, i + 1);
    rb.offer(0);
    ASSERT_TRUE(pop_ok());
    EXPECT_EQ(chain.segments.size(), 8u);
}

TEST_F(VirtqueueTest, ZeroLengthDescriptorsCarryNothing) {
    // A zero-length buffer has no bytes to check or transfer, even with a bogus address.
    activate();
    rb.desc(0, kBuf, 16, kN, 1);
    rb.desc(1, 0xdead'0000'0000, 0, kN | kR, 2);
    rb.desc(2, kBuf + 0x100, 0, kN, 3); // readable, but empty: not out of order either
    rb.desc(3, kBuf + 0x200, 4, kR);
    rb.offer(0);
    ASSERT_TRUE(pop_ok());
    ASSERT_EQ(chain.segments.size(), 2u);
    EXPECT_EQ(chain.readable_len, 16u);
    EXPECT_EQ(chain.writable_len, 4u);
}

TEST_F(VirtqueueTest, SixteenBitIndicesWrap) {
    // 2.7.6 / 2.7.8: idx fields count modulo 2^16; run past 65535 twice round a small ring.
    RingBuilder small{4};
    SplitQueue sq{small.mem, 4};
    ASSERT_TRUE(sq.activate(small.config()).is_ok());
    for (u16 i = 0; i < 4; ++i) small.desc(i, kBuf + 0x10ull * i, 16, kR);
    for (u32 n = 0; n < 70000; ++n) {
        const u16 head = static_cast<u16>(n % 4);
        small.offer(head);
        auto r = sq.pop(chain);
        ASSERT_TRUE(r.is_ok() && r.value()) << n;
        ASSERT_EQ(chain.head, head);
        ASSERT_TRUE(sq.push(chain, static_cast<u32>(n % 17)).is_ok());
        ASSERT_EQ(small.used_idx(), static_cast<u16>(n + 1));
        ASSERT_EQ(small.used_id(static_cast<u16>(n)), head);
        ASSERT_EQ(small.used_len(static_cast<u16>(n)), n % 17);
    }
    EXPECT_EQ(sq.last_avail(), static_cast<u16>(70000));
}

TEST_F(VirtqueueTest, FullRingOfOutstandingChains) {
    activate();
    for (u16 i = 0; i < 8; ++i) {
        rb.desc(i, kBuf + i, 1, 0);
        rb.offer(i);
    }
    for (u16 i = 0; i < 8; ++i) ASSERT_TRUE(pop_ok());
    EXPECT_FALSE(q.pop(chain).value());
}

// ---- notification suppression (2.7.7, 2.7.10) ----

TEST_F(VirtqueueTest, NoInterruptFlagWithoutEventIdx) {
    activate(false);
    rb.desc(0, kBuf, 8, kR);
    rb.offer(0);
    ASSERT_TRUE(pop_ok());
    ASSERT_TRUE(q.push(chain, 8).is_ok());
    EXPECT_TRUE(q.needs_notify().value());
    rb.set_avail_flags(kAvailFNoInterrupt);
    EXPECT_FALSE(q.needs_notify().value());
}

TEST_F(VirtqueueTest, UsedEventDecidesInterruptWithEventIdx) {
    activate(true);
    for (u16 i = 0; i < 8; ++i) rb.desc(i, kBuf + i, 1, kR);
    auto complete = [&](u16 head) {
        rb.offer(head);
        ASSERT_TRUE(pop_ok());
        ASSERT_TRUE(q.push(chain, 1).is_ok());
    };
    rb.set_used_event(0);
    complete(0); // used idx 0 -> 1: crosses used_event 0
    EXPECT_TRUE(q.needs_notify().value());
    complete(1); // 1 -> 2: used_event still 0, already signalled past it
    EXPECT_FALSE(q.needs_notify().value());
    rb.set_used_event(3); // driver wants an interrupt once the entry at 3 is used
    complete(2);          // 2 -> 3
    EXPECT_FALSE(q.needs_notify().value());
    complete(3); // 3 -> 4: crosses 3
    EXPECT_TRUE(q.needs_notify().value());
    EXPECT_FALSE(q.needs_notify().value()); // nothing new since
    // Several completions in one batch still interrupt once when they cross the event.
    rb.set_used_event(5);
    complete(4);
    complete(5);
    complete(6);
    EXPECT_TRUE(q.needs_notify().value());
}

TEST_F(VirtqueueTest, UsedEventComparisonWrapsAt16Bits) {
    RingBuilder small{2};
    SplitQueue sq{small.mem, 2};
    ASSERT_TRUE(sq.activate(small.config(true)).is_ok());
    small.desc(0, kBuf, 1, kR);
    for (u32 n = 0; n < 65535; ++n) {
        small.offer(0);
        ASSERT_TRUE(sq.pop(chain).value());
        ASSERT_TRUE(sq.push(chain, 1).is_ok());
    }
    small.set_used_event(65535);
    ASSERT_TRUE(sq.needs_notify().is_ok()); // first decision: always true, sets the baseline
    small.offer(0);
    ASSERT_TRUE(sq.pop(chain).value());
    ASSERT_TRUE(sq.push(chain, 1).is_ok()); // 65535 -> 0 crosses used_event 65535
    EXPECT_EQ(sq.used_idx(), 0);
    EXPECT_TRUE(sq.needs_notify().value());
}

TEST_F(VirtqueueTest, DriverNotificationSuppression) {
    activate(false);
    ASSERT_TRUE(q.set_driver_notifications(false).is_ok());
    EXPECT_EQ(rb.used_flags(), kUsedFNoNotify);
    ASSERT_TRUE(q.set_driver_notifications(true).is_ok());
    EXPECT_EQ(rb.used_flags(), 0);

    RingBuilder ev{8};
    SplitQueue eq{ev.mem, 8};
    ASSERT_TRUE(eq.activate(ev.config(true)).is_ok());
    ev.desc(0, kBuf, 1, 0);
    ev.desc(1, kBuf, 1, 0);
    ev.offer(0);
    ev.offer(1);
    ASSERT_TRUE(eq.pop(chain).value());
    ASSERT_TRUE(eq.set_driver_notifications(true).is_ok());
    EXPECT_EQ(ev.avail_event(), 2); // seen avail idx 2: notify when entry 2 is added
    EXPECT_EQ(ev.used_flags(), 0);  // flags untouched with EVENT_IDX
}

// ---- hostile rings ----

// One-chain rings that each break one rule: (descriptors, head offered, the fault expected).
struct DescSpec {
    u16 index;
    u64 addr;
    u32 len;
    u16 flags;
    u16 next;
};
struct HostileChain {
    const char* what;
    std::vector<DescSpec> descs;
    u16 head;
    QueueFault fault;
};

TEST_F(VirtqueueTest, HostileDirectChains) {
    const u64 ram_end = RingBuilder::kRamBase + RingBuilder::kRamSize;
    const HostileChain cases[] = {
        {"loop 0 -> 1 -> 0", {{0, kBuf, 1, kN, 1}, {1, kBuf, 1, kN, 0}}, 0, QueueFault::Loop},
        {"self loop", {{5, kBuf, 1, kN, 5}}, 5, QueueFault::Loop},
        // No buffer is collected, so only the visited set can end this one.
        {"loop of zero-length descriptors", {{2, kBuf, 0, kN, 3}, {3, kBuf, 0, kN | kR, 2}}, 2,
         QueueFault::Loop},
        {"next = size", {{0, kBuf, 1, kN, 8}}, 0, QueueFault::NextOutOfRange},
        {"next = 0xffff", {{0, kBuf, 1, kN, 0xffff}}, 0, QueueFault::NextOutOfRange},
        {"head = size", {}, 8, QueueFault::HeadOutOfRange},
        {"buffer in a hole (UART)", {{0, 0x0900'0000, 16, 0, 0}}, 0, QueueFault::BufferOutsideRam},
        {"buffer across the end of RAM", {{0, ram_end - 8, 16, kR, 0}}, 0, QueueFault::BufferOutsideRam},
        {"buffer wrapping 2^64", {{0, ~0ull - 3, 16, 0, 0}}, 0, QueueFault::BufferWraps},
        {"readable after writable", {{0, kBuf, 8, kN | kR, 1}, {1, kBuf, 8, 0, 0}}, 0,
         QueueFault::ReadableAfterWritable},
        {"indirect with next", {{0, kTable, 16, kI | kN, 1}}, 0, QueueFault::IndirectWithNext},
    };
    for (const HostileChain& c : cases) {
        SCOPED_TRACE(c.what);
        RingBuilder r{8};
        SplitQueue sq{r.mem, 8};
        ASSERT_TRUE(sq.activate(r.config()).is_ok());
        for (const DescSpec& d : c.descs) r.desc(d.index, d.addr, d.len, d.flags, d.next);
        r.offer(c.head);
        auto res = sq.pop(chain);
        ASSERT_TRUE(res.is_error());
        EXPECT_EQ(res.error(), Error::BadFormat);
        EXPECT_EQ(sq.fault(), c.fault) << queue_fault_name(sq.fault());
        EXPECT_TRUE(sq.broken());
        EXPECT_EQ(r.mem.refused, 0u);
    }
}

TEST_F(VirtqueueTest, ChainLongerThanQueueIsRejected) {
    // Every descriptor chained into a ring: the chain would be endless; it is cut at the
    // (size + 1)-th descriptor, which must be a revisit.
    activate();
    for (u16 i = 0; i < 8; ++i) rb.desc(i, kBuf + i, 1, kN, static_cast<u16>((i + 1) % 8));
    rb.offer(0);
    const unsigned reads_before = rb.mem.reads;
    const u64 bytes_before = rb.mem.read_bytes;
    expect_fault(QueueFault::Loop);
    // avail idx, avail entry, then the 8 descriptors in one block read: bounded by the queue size.
    EXPECT_EQ(rb.mem.reads - reads_before, 2u + 1u);
    EXPECT_EQ(rb.mem.read_bytes - bytes_before, 2u + 2u + 8u * 16u);
}

// One GuestMemory::read per block of 32 descriptors, not one per descriptor: a 256-entry indirect
// table in order is 8 reads; each descriptor is still checked (the chain is exact).
TEST_F(VirtqueueTest, DescriptorsAreReadABlockAtATime) {
    RingBuilder big{8};
    SplitQueue bq{big.mem, 8};
    ASSERT_TRUE(bq.activate(big.config()).is_ok());
    constexpr u16 n = 256;
    for (u16 i = 0; i < n; ++i) big.desc_at(kTable, i, kBuf + 16u * i, 16, i + 1 < n ? kN : 0, u16(i + 1));
    big.desc(0, kTable, n * 16, kI);
    big.offer(0);
    const unsigned reads_before = big.mem.reads;
    auto r = bq.pop(chain);
    ASSERT_TRUE(r.is_ok() && r.value());
    ASSERT_EQ(chain.segments.size(), n);
    for (u16 i = 0; i < n; ++i) ASSERT_EQ(chain.segments[i].gpa, kBuf + 16u * i) << i;
    // avail idx, avail entry, the ring's descriptor 0 (one block of the 8-entry ring), 8 blocks.
    EXPECT_EQ(big.mem.reads - reads_before, 2u + 1u + 8u);
}

TEST_F(VirtqueueTest, HeadOfferedAgainWhileInFlight) {
    activate();
    rb.desc(0, kBuf, 1, 0);
    rb.offer(0);
    rb.offer(0);
    ASSERT_TRUE(pop_ok());
    expect_fault(QueueFault::HeadInFlight);
}

TEST_F(VirtqueueTest, HeadMayBeReofferedAfterPush) {
    activate();
    rb.desc(0, kBuf, 1, 0);
    rb.offer(0);
    rb.offer(0);
    ASSERT_TRUE(pop_ok());
    ASSERT_TRUE(q.push(chain, 0).is_ok());
    ASSERT_TRUE(pop_ok());
}

TEST_F(VirtqueueTest, AvailIdxJumpingMoreThanQueueSize) {
    activate();
    rb.set_avail_idx(9);
    expect_fault(QueueFault::AvailIdxJump);
}

TEST_F(VirtqueueTest, AvailIdxMovingBackwards) {
    activate();
    rb.desc(0, kBuf, 1, 0);
    rb.offer(0);
    ASSERT_TRUE(pop_ok());
    ASSERT_TRUE(q.push(chain, 0).is_ok());
    rb.set_avail_idx(0);
    expect_fault(QueueFault::AvailIdxJump);
}

TEST_F(VirtqueueTest, AvailIdxExactlyQueueSizeAheadIsValid) {
    activate();
    for (u16 i = 0; i < 8; ++i) rb.desc(i, kBuf, 1, 0);
    for (u16 i = 0; i < 8; ++i) rb.offer(i);
    for (u16 i = 0; i < 8; ++i) ASSERT_TRUE(pop_ok());
}

TEST_F(VirtqueueTest, BufferEndingExactlyAtEndOfRamIsValid) {
    activate();
    rb.desc(0, RingBuilder::kRamBase + RingBuilder::kRamSize - 16, 16, kR);
    rb.offer(0);
    ASSERT_TRUE(pop_ok());
}

TEST_F(VirtqueueTest, ReadableAfterWritableAcrossIndirectTable) {
    activate();
    rb.desc(0, kBuf, 8, kN | kR, 1);
    rb.desc(1, kTable, 16, kI);
    rb.desc_at(kTable, 0, kBuf, 8, 0);
    rb.offer(0);
    expect_fault(QueueFault::ReadableAfterWritable);
}

TEST_F(VirtqueueTest, TotalLengthAbove4GiB) {
    rb.mem.add_unbacked_ram(0x1'0000'0000, 8 * GiB);
    activate();
    rb.desc(0, 0x1'0000'0000, 0x8000'0000, kN, 1);
    rb.desc(1, 0x1'8000'0000, 0x7fff'ffff, kN | kR, 2); // total 2^32 - 1: still fine
    rb.desc(2, 0x2'0000'0000, 1, kR);
    rb.offer(0);
    expect_fault(QueueFault::TotalLengthOverflow);
}

TEST_F(VirtqueueTest, TotalLengthOf4GiBMinusOneIsValid) {
    rb.mem.add_unbacked_ram(0x1'0000'0000, 8 * GiB);
    activate();
    rb.desc(0, 0x1'0000'0000, 0x8000'0000, kN, 1);
    rb.desc(1, 0x1'8000'0000, 0x7fff'ffff, kR);
    rb.offer(0);
    ASSERT_TRUE(pop_ok());
    EXPECT_EQ(chain.readable_len + u64{chain.writable_len}, 0xffff'ffffull);
    EXPECT_EQ(rb.mem.unbacked, 0u);
}

TEST_F(VirtqueueTest, TooManySegments) {
    RingBuilder big{512}; // a direct chain longer than kMaxChainSegments needs a queue this large
    SplitQueue bq{big.mem, 512};
    ASSERT_TRUE(bq.activate(big.config()).is_ok());
    const u16 n = kMaxChainSegments + 1;
    for (u16 i = 0; i < n; ++i) big.desc(i, kBuf + i, 1, i + 1 < n ? kN : 0, i + 1);
    big.offer(0);
    auto r = bq.pop(chain);
    ASSERT_TRUE(r.is_error());
    EXPECT_EQ(bq.fault(), QueueFault::TooManySegments);
}

TEST_F(VirtqueueTest, IndirectWithoutFeature) {
    activate(false, false);
    rb.desc(0, kTable, 16, kI);
    rb.offer(0);
    expect_fault(QueueFault::IndirectNotNegotiated);
}

TEST_F(VirtqueueTest, NestedIndirect) {
    activate();
    rb.desc(0, kTable, 32, kI);
    rb.desc_at(kTable, 0, kBuf, 8, kN, 1);
    rb.desc_at(kTable, 1, kTable, 32, kI);
    rb.offer(0);
    expect_fault(QueueFault::NestedIndirect);
}

TEST_F(VirtqueueTest, IndirectTableBadLengths) {
    for (u32 len : {0u, 17u, 24u, (kMaxQueueSize + 1u) * 16u}) {
        RingBuilder r{8};
        SplitQueue sq{r.mem, 8};
        ASSERT_TRUE(sq.activate(r.config()).is_ok());
        r.desc(0, kTable, len, kI);
        r.offer(0);
        ASSERT_TRUE(sq.pop(chain).is_error()) << len;
        EXPECT_EQ(sq.fault(), QueueFault::IndirectBadLength) << len;
    }
}

TEST_F(VirtqueueTest, IndirectTableInHoleAcrossEndOrWrapping) {
    const u64 addrs[] = {0x0800'0000, RingBuilder::kRamBase + RingBuilder::kRamSize - 16, ~0ull - 15};
    for (u64 addr : addrs) {
        RingBuilder r{8};
        SplitQueue sq{r.mem, 8};
        ASSERT_TRUE(sq.activate(r.config()).is_ok());
        r.desc(0, addr, 32, kI);
        r.offer(0);
        ASSERT_TRUE(sq.pop(chain).is_error());
        EXPECT_EQ(sq.fault(), QueueFault::IndirectOutsideRam);
        EXPECT_EQ(r.mem.refused, 0u);
    }
}

TEST_F(VirtqueueTest, IndirectNextOutOfTable) {
    activate();
    rb.desc(0, kTable, 2 * 16, kI);
    rb.desc_at(kTable, 0, kBuf, 8, kN, 2); // the table has entries 0 and 1 only
    rb.offer(0);
    expect_fault(QueueFault::NextOutOfRange);
}

TEST_F(VirtqueueTest, LoopInsideIndirectTable) {
    activate();
    rb.desc(0, kTable, 3 * 16, kI);
    rb.desc_at(kTable, 0, kBuf, 8, kN, 1);
    rb.desc_at(kTable, 1, kBuf, 8, kN, 2);
    rb.desc_at(kTable, 2, kBuf, 8, kN, 1);
    rb.offer(0);
    expect_fault(QueueFault::Loop);
}

// ---- a broken queue stays broken until reset; device-side misuse does not break it ----

TEST_F(VirtqueueTest, BrokenQueueRefusesEverythingUntilReset) {
    activate();
    rb.offer(9);
    expect_fault(QueueFault::HeadOutOfRange);
    rb.desc(0, kBuf, 8, 0);
    rb.offer(0);
    EXPECT_EQ(q.pop(chain).error(), Error::BadFormat);
    EXPECT_EQ(q.needs_notify().error(), Error::BadFormat);
    EXPECT_EQ(q.fault(), QueueFault::HeadOutOfRange); // the first fault is kept

    q.reset();
    EXPECT_FALSE(q.broken());
    EXPECT_FALSE(q.ready());
    // The driver re-initialises the rings after a reset (3.1.1).
    RingBuilder fresh{8};
    SplitQueue fq{fresh.mem, 8};
    ASSERT_TRUE(fq.activate(fresh.config()).is_ok());
    fresh.desc(0, kBuf, 8, 0);
    fresh.offer(0);
    EXPECT_TRUE(fq.pop(chain).value());
    rb.set_avail_idx(0);
    ASSERT_TRUE(q.activate(rb.config()).is_ok());
    EXPECT_FALSE(q.pop(chain).value());
}

TEST_F(VirtqueueTest, PushOfChainNotPoppedIsDeviceError) {
    activate();
    rb.desc(0, kBuf, 8, kR);
    rb.offer(0);
    ASSERT_TRUE(pop_ok());
    Chain other;
    other.head = 1;
    EXPECT_EQ(q.push(other, 0).error(), Error::InvalidArgument);
    EXPECT_EQ(q.push(chain, 9).error(), Error::InvalidArgument); // more than its writable 8
    ASSERT_TRUE(q.push(chain, 8).is_ok());
    EXPECT_EQ(q.push(chain, 8).error(), Error::InvalidArgument); // already returned
    EXPECT_FALSE(q.broken());
    EXPECT_EQ(rb.used_idx(), 1);
}

TEST(QueueFaultName, EveryFaultHasAName) {
    for (u8 f = 0; f <= static_cast<u8>(QueueFault::IndirectOutsideRam); ++f)
        EXPECT_STRNE(queue_fault_name(static_cast<QueueFault>(f)), "unknown queue fault");
}

} // namespace
