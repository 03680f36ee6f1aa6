// The registry of shared-memory regions (vmm/shm.cpp): one allocation per name, found again by
// every later VM that gives the same size, refused with another size; allocation failures and a
// full table are errors, never a second region under one name.
#include "vmm/shm.hpp"
#include <gtest/gtest.h>
#include <string>
#include <vector>

namespace {

std::vector<u64> g_allocs; // sizes asked for
bool g_fail;
u64 g_next;

Result<HostPhysAddr> fake_alloc(u64 bytes) {
    if (g_fail) return Error::NoMemory;
    g_allocs.push_back(bytes);
    const u64 at = g_next;
    g_next += bytes;
    return HostPhysAddr(at);
}

struct ShmRegistryTest : testing::Test {
    void SetUp() override {
        g_allocs.clear();
        g_fail = false;
        g_next = 0x8000'0000;
    }
    ShmRegistry reg{fake_alloc};
    u64 backed = 0;
};

} // namespace

TEST_F(ShmRegistryTest, OneAllocationPerNameSharedBySameSize) {
    auto a = reg.backing("ring", 0x2000, &backed);
    ASSERT_TRUE(a.is_ok());
    EXPECT_EQ(a.value(), HostPhysAddr(0x8000'0000));
    auto again = reg.backing("ring", 0x2000, &backed);
    ASSERT_TRUE(again.is_ok());
    EXPECT_EQ(again.value(), a.value());
    auto other = reg.backing("ring2", 0x1000, &backed);
    ASSERT_TRUE(other.is_ok());
    EXPECT_EQ(other.value(), HostPhysAddr(0x8000'2000));
    EXPECT_EQ(g_allocs, (std::vector<u64>{0x2000, 0x1000}));
    EXPECT_EQ(reg.count(), 2u);
}

TEST_F(ShmRegistryTest, AnotherSizeForABackedNameIsRefusedAndSaysTheSize) {
    ASSERT_TRUE(reg.backing("ring", 0x2000, &backed).is_ok());
    auto r = reg.backing("ring", 0x3000, &backed);
    ASSERT_TRUE(r.is_error());
    EXPECT_EQ(r.error(), Error::InvalidArgument);
    EXPECT_EQ(backed, 0x2000u);
    EXPECT_EQ(g_allocs.size(), 1u);
}

TEST_F(ShmRegistryTest, NamesDifferingAfterACommonPrefixAreDifferentRegions) {
    ASSERT_TRUE(reg.backing("ring", 0x1000, &backed).is_ok());
    ASSERT_TRUE(reg.backing("ringX", 0x2000, &backed).is_ok());
    ASSERT_TRUE(reg.backing("rin", 0x3000, &backed).is_ok());
    EXPECT_EQ(reg.count(), 3u);
}

TEST_F(ShmRegistryTest, AllocationFailureLeavesNoEntry) {
    g_fail = true;
    auto r = reg.backing("ring", 0x2000, &backed);
    ASSERT_TRUE(r.is_error());
    EXPECT_EQ(r.error(), Error::NoMemory);
    EXPECT_EQ(reg.count(), 0u);
    g_fail = false;
    EXPECT_TRUE(reg.backing("ring", 0x4000, &backed).is_ok()) << "a failed name is not half-registered";
}

TEST_F(ShmRegistryTest, FullTableIsAnError) {
    for (usize i = 0; i < ShmRegistry::CAPACITY; ++i)
        ASSERT_TRUE(reg.backing(("r" + std::to_string(i)).c_str(), 0x1000, &backed).is_ok());
    auto r = reg.backing("one-more", 0x1000, &backed);
    ASSERT_TRUE(r.is_error());
    EXPECT_EQ(r.error(), Error::OutOfRange);
    EXPECT_TRUE(reg.backing("r0", 0x1000, &backed).is_ok()) << "existing names are still found";
}
