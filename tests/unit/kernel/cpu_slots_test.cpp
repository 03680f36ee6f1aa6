// CpuSlots (kernel/cpu_slots.hpp): which of the CPUs a firmware lists cxvisor runs on when there
// are more than it supports. The parsers' tests (dt_platform_test, rv_dt_platform_test) check the
// same on real descriptions; these check the rule on its own, with hardware ids unlike slot numbers.
#include "kernel/cpu_slots.hpp"
#include <vector>
#include <gtest/gtest.h>

namespace {

// The ids the slots end up holding when `listed` come in order.
std::vector<u64> fill(u32 max, u64 boot, const std::vector<u64>& listed, CpuSlots* out = nullptr) {
    CpuSlots slots(max, boot);
    std::vector<u64> ids(max, ~0ull);
    for (u64 id : listed)
        if (u32 slot = max; slots.take(id, slot)) {
            EXPECT_LT(slot, max);
            ids[slot] = id;
        }
    ids.resize(slots.count());
    if (out) *out = slots;
    return ids;
}

} // namespace

TEST(CpuSlots, RoomForAllTakesThemInOrder) {
    CpuSlots s(0, 0);
    EXPECT_EQ(fill(4, 0x102, {0x100, 0x101, 0x102}, &s), (std::vector<u64>{0x100, 0x101, 0x102}));
    EXPECT_FALSE(s.truncated());
}

TEST(CpuSlots, BootCpuAmongTheFirstChangesNothing) {
    CpuSlots s(0, 0);
    EXPECT_EQ(fill(3, 0x101, {0x100, 0x101, 0x102, 0x103, 0x104}, &s), (std::vector<u64>{0x100, 0x101, 0x102}));
    EXPECT_TRUE(s.truncated());
}

TEST(CpuSlots, BootCpuPastTheFirstTakesTheLastSlot) {
    CpuSlots s(0, 0);
    EXPECT_EQ(fill(3, 0x104, {0x100, 0x101, 0x102, 0x103, 0x104, 0x105}, &s), (std::vector<u64>{0x100, 0x101, 0x104}));
    EXPECT_TRUE(s.truncated());
    EXPECT_EQ(s.count(), 3u);
}

TEST(CpuSlots, BootCpuListedTwiceIsTakenOnce) {
    // A broken description listing the boot CPU again past the limit must not evict another CPU.
    EXPECT_EQ(fill(2, 0x100, {0x100, 0x101, 0x100, 0x102}), (std::vector<u64>{0x100, 0x101}));
}

TEST(CpuSlots, UnknownBootCpuTakesTheFirstListed) {
    CpuSlots s(0, 0);
    EXPECT_EQ(fill(2, CpuSlots::kAnyBootCpu, {7, 8, 9, ~0ull}, &s), (std::vector<u64>{7, 8}));
    EXPECT_TRUE(s.truncated());
}

TEST(CpuSlots, NoRoomTakesNothing) {
    CpuSlots s(0, 0);
    EXPECT_TRUE(fill(0, 5, {5, 6}, &s).empty());
    EXPECT_TRUE(s.truncated());
}
