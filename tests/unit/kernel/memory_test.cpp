// Frame allocator and heap. The kernel treats physical addresses as virtual ones, so "RAM" is an
// aligned host buffer and its host addresses are the physical addresses.
#include "kernel/frames.hpp"
#include "kernel/heap.hpp"
#include <gtest/gtest.h>
#include <cstdlib>
#include <cstring>
#include <set>
#include <vector>

namespace {

constexpr u64 BUF = 16 * MiB;
u8* ram() {
    static u8* mem = static_cast<u8*>(std::aligned_alloc(2 * MiB, BUF));
    return mem;
}
u64 pa(u64 off) { return u64(ram()) + off; }

// Two RAM ranges (12 MiB + 4 MiB) with 64 KiB "in use at boot" at +1 MiB.
struct FramesTest : testing::Test {
    PhysRange ranges[2] = {{HostPhysAddr(pa(0)), 12 * MiB}, {HostPhysAddr(pa(12 * MiB)), 4 * MiB}};
    PhysRange used[1] = {{HostPhysAddr(pa(1 * MiB)), 64 * KiB}};
    void SetUp() override {
        memset(ram(), 0xAA, BUF); // stale data that allocations must never show
        ASSERT_TRUE(frames_init(ranges, 2, used, 1).is_ok());
    }
    static bool in_used(u64 p) { return p >= pa(1 * MiB) && p < pa(1 * MiB + 64 * KiB); }
};

} // namespace

TEST_F(FramesTest, InitCountsRamMinusUsedAndBitmap) {
    EXPECT_EQ(frames_total_count(), BUF / FRAME_SIZE);
    // The bitmaps (4096 bits + padding) take one frame at the top of the largest range.
    EXPECT_EQ(frames_free_count(), BUF / FRAME_SIZE - 16 - 1);
    PhysRange none[1];
    EXPECT_EQ(frames_init(ranges, 0, none, 0).error(), Error::InvalidArgument);
}

// A small machine where the loader put the DTB in the last page of RAM: the bitmap goes below
// it instead of failing (before: frames_init returned NoMemory and cxvisor could not boot).
TEST(FramesPlacement, BitmapAvoidsAUsedRangeAtTheTopOfRam) {
    PhysRange range{HostPhysAddr(pa(0)), 6 * MiB};
    PhysRange used[2] = {{HostPhysAddr(pa(2 * MiB)), 2 * MiB + 100}, {HostPhysAddr(pa(6 * MiB - 8 * KiB)), 8 * KiB}};
    ASSERT_TRUE(frames_init(&range, 1, used, 2).is_ok());
    // Everything but the used ranges (512 + 1 + 2 frames) and the one bitmap frame is handed out,
    // never a frame of a used range.
    EXPECT_EQ(frames_free_count(), 6 * MiB / FRAME_SIZE - 513 - 2 - 1);
    usize n = frames_free_count();
    std::vector<HostPhysAddr> got;
    for (usize i = 0; i < n; ++i) {
        auto f = frames_alloc(1, FRAME_SIZE);
        ASSERT_TRUE(f.is_ok());
        for (const PhysRange& u : used) EXPECT_FALSE(u.overlaps(f.value(), FRAME_SIZE)) << std::hex << f.value().value();
        got.push_back(f.value());
    }
    EXPECT_EQ(frames_alloc(1, FRAME_SIZE).error(), Error::NoMemory);
    for (HostPhysAddr p : got) frames_free(p, 1);
    // No room anywhere: RAM that is all in use.
    PhysRange all{HostPhysAddr(pa(0)), 6 * MiB};
    EXPECT_EQ(frames_init(&range, 1, &all, 1).error(), Error::NoMemory);
}

TEST_F(FramesTest, ContiguousAlignedZeroedAllocation) {
    usize before = frames_free_count();
    auto block = frames_alloc(512, 2 * MiB);
    ASSERT_TRUE(block.is_ok());
    EXPECT_TRUE(block.value().is_aligned(2 * MiB));
    // First 2 MiB-aligned block holds the used range, so the allocator skips it.
    EXPECT_EQ(block.value().value(), pa(2 * MiB));
    const u8* p = reinterpret_cast<const u8*>(block.value().value());
    for (u64 i = 0; i < 2 * MiB; ++i) ASSERT_EQ(p[i], 0) << i;
    EXPECT_EQ(frames_free_count(), before - 512);
    frames_free(block.value(), 512);
    EXPECT_EQ(frames_free_count(), before);
    EXPECT_EQ(frames_alloc(0, FRAME_SIZE).error(), Error::InvalidArgument);
    EXPECT_EQ(frames_alloc(4 * 1024, FRAME_SIZE).error(), Error::NoMemory); // more than is free
}

TEST_F(FramesTest, ExhaustionFreeAndRealloc) {
    const usize n = frames_free_count();
    std::set<u64> got;
    for (usize i = 0; i < n; ++i) {
        auto f = frames_alloc(1, FRAME_SIZE);
        ASSERT_TRUE(f.is_ok()) << i;
        ASSERT_FALSE(in_used(f.value().value()));
        ASSERT_TRUE(got.insert(f.value().value()).second);
    }
    EXPECT_EQ(frames_alloc(1, FRAME_SIZE).error(), Error::NoMemory);
    EXPECT_EQ(frames_free_count(), 0u);
    // Never handed out: the used range and the bitmap frame at the top of the 12 MiB range.
    EXPECT_EQ(got.count(pa(12 * MiB - FRAME_SIZE)), 0u);
    frames_free(HostPhysAddr(pa(13 * MiB)), 1);
    auto again = frames_alloc(1, FRAME_SIZE);
    ASSERT_TRUE(again.is_ok());
    EXPECT_EQ(again.value().value(), pa(13 * MiB));
}

TEST_F(FramesTest, Reserve) {
    usize before = frames_free_count();
    EXPECT_TRUE(frames_reserve(HostPhysAddr(pa(4 * MiB)), 16).is_ok());
    EXPECT_EQ(frames_free_count(), before - 16);
    EXPECT_EQ(frames_reserve(HostPhysAddr(pa(4 * MiB + 15 * FRAME_SIZE)), 2).error(), Error::Busy);
    EXPECT_EQ(frames_reserve(HostPhysAddr(pa(1 * MiB)), 1).error(), Error::Busy); // used at boot
    EXPECT_EQ(frames_reserve(HostPhysAddr(pa(BUF)), 1).error(), Error::OutOfRange);
    EXPECT_EQ(frames_reserve(HostPhysAddr(pa(12 * MiB - FRAME_SIZE)), 2).error(), Error::OutOfRange); // spans zones
    auto f = frames_alloc(512, 2 * MiB); // [0, 2M) holds the used range
    auto g = frames_alloc(512, 2 * MiB); // [4M, 6M) holds the reserved frames
    ASSERT_TRUE(f.is_ok() && g.is_ok());
    EXPECT_EQ(f.value().value(), pa(2 * MiB));
    EXPECT_EQ(g.value().value(), pa(6 * MiB));
}

TEST_F(FramesTest, DoubleFreeAndFreeOfNonRamPanic) {
    auto f = frames_alloc(2, FRAME_SIZE);
    ASSERT_TRUE(f.is_ok());
    frames_free(f.value(), 2);
    EXPECT_DEATH(frames_free(f.value(), 1), "panic: frames_free: frame [0-9a-f]+ is not allocated");
    EXPECT_DEATH(frames_free(HostPhysAddr(pa(BUF)), 1), "is not RAM");
}

namespace {
struct HeapTest : FramesTest {
    static constexpr usize SIZE = 64 * KiB;
    void SetUp() override {
        FramesTest::SetUp();
        ASSERT_TRUE(heap_init(SIZE).is_ok());
    }
};
} // namespace

TEST_F(HeapTest, AllocAlignedAndAccounted) {
    EXPECT_EQ(heap_free_bytes(), SIZE);
    void* a = kmalloc(100);
    void* b = kmalloc(1);
    ASSERT_TRUE(a && b);
    EXPECT_EQ(uptr(a) % 16, 0u);
    EXPECT_EQ(uptr(b) % 16, 0u);
    EXPECT_EQ(heap_free_bytes(), SIZE - 128 - 32); // 16-byte header, 16-byte granules
    memset(a, 0x5A, 100);
    memset(b, 0x5A, 1);
    kfree(a);
    kfree(b);
    kfree(nullptr);
    EXPECT_EQ(heap_free_bytes(), SIZE);
}

// The heap's pool is not zeroed up front (frames_alloc_unzeroed): only what cxvisor allocates is
// ever written, so a host that backs RAM on first touch (QEMU) backs only that. Each allocation is
// zeroed instead, the first and a reused one alike.
TEST_F(HeapTest, PoolIsWrittenOnlyWhereAllocated) {
    void* a = kmalloc(100);
    ASSERT_NE(a, nullptr);
    const u8* p = static_cast<const u8*>(a);
    for (usize i = 0; i < 100; ++i) ASSERT_EQ(p[i], 0) << i;
    // Beyond the allocation and the free block's header after it, the pool still holds what the
    // RAM held before (SetUp's 0xAA).
    const u8* after = p + 112 + 16;
    for (usize i = 0; i < 4096; ++i) ASSERT_EQ(after[i], 0xAA) << i;
    memset(a, 0x5A, 100);
    kfree(a);
    void* again = kmalloc(100);
    ASSERT_EQ(again, a);
    for (usize i = 0; i < 100; ++i) ASSERT_EQ(p[i], 0) << "reused byte " << i;
    kfree(again);
}

TEST_F(FramesTest, UnzeroedAllocationLeavesTheFramesAsTheyWere) {
    auto f = frames_alloc_unzeroed(2, FRAME_SIZE);
    ASSERT_TRUE(f.is_ok());
    const u8* p = reinterpret_cast<const u8*>(f.value().value());
    for (u64 i = 0; i < 2 * FRAME_SIZE; ++i) ASSERT_EQ(p[i], 0xAA) << i;
    frames_free(f.value(), 2);
    auto z = frames_alloc(2, FRAME_SIZE); // the same frames, zeroed by the ordinary call
    ASSERT_EQ(z.value().value(), f.value().value());
    for (u64 i = 0; i < 2 * FRAME_SIZE; ++i) ASSERT_EQ(p[i], 0) << i;
    frames_free(z.value(), 2);
}

TEST_F(HeapTest, FreedNeighboursCoalesce) {
    void* p[4];
    for (void*& x : p) ASSERT_NE(x = kmalloc(SIZE / 4 - 16), nullptr);
    EXPECT_EQ(heap_free_bytes(), 0u);
    EXPECT_EQ(kmalloc(1), nullptr);
    // Free in an order that needs merging with the next block, the previous block, and both.
    kfree(p[0]);
    kfree(p[2]);
    EXPECT_EQ(kmalloc(SIZE / 2 - 16), nullptr); // two separate quarters
    kfree(p[1]);                                 // joins 0, 1 and 2
    void* half = kmalloc(SIZE * 3 / 4 - 16);
    EXPECT_EQ(half, p[0]);
    kfree(half);
    kfree(p[3]);
    EXPECT_EQ(heap_free_bytes(), SIZE);
    void* all = kmalloc(SIZE - 16); // the whole pool is one block again
    EXPECT_EQ(all, p[0]);
    kfree(all);
}

TEST_F(HeapTest, SmallRemaindersAreNotSplitOff) {
    void* a = kmalloc(SIZE - 16 - 48); // the 48 bytes left are below the split minimum
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(heap_free_bytes(), 0u);
    EXPECT_EQ(kmalloc(1), nullptr);
    kfree(a);
    EXPECT_EQ(heap_free_bytes(), SIZE);
}

TEST_F(FramesTest, FreeRunningPastTheEndOfItsRangePanics) {
    // Zones in the other order: the 4 MiB zone's bitmap (exactly 16 words) is directly followed
    // by the 12 MiB zone's, so an unchecked overrun would clear another zone's bits.
    PhysRange swapped[2] = {ranges[1], ranges[0]};
    ASSERT_TRUE(frames_init(swapped, 2, used, 1).is_ok());
    ASSERT_TRUE(frames_reserve(HostPhysAddr(pa(BUF - FRAME_SIZE)), 1).is_ok()); // last frame of zone 0
    ASSERT_TRUE(frames_reserve(HostPhysAddr(pa(0)), 1).is_ok());                // first frame of zone 1
    EXPECT_DEATH(frames_free(HostPhysAddr(pa(BUF - FRAME_SIZE)), 2), "runs past the end of its RAM range");
}
