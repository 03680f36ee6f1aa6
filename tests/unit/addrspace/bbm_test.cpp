// Break-before-make in the walker (Arm ARM DDI0487 K.a, "Using break-before-make when updating translation table entries"): a live entry whose memory type
// changes must be invalid while its TLB entries are invalidated, before the new entry is written.
#include "arch/aarch64/stage2_format.hpp"
#include "fakes.hpp"

namespace {
using Table = PageTable<arch::Stage2Format, FakeFrames>;
constexpr u64 K4 = 4 * KiB, M2 = 2 * MiB;

// Records, for each invalidation, what the table holds at the invalidated address right then.
struct SnoopingTlb {
    const Table* t = nullptr;
    std::vector<std::pair<u64, bool>> seen; // (address, mapped at the time of the TLBI)
    void invalidate_range(u64 addr, u64) { seen.push_back({addr, t->query(addr).is_ok()}); }
    void invalidate_all() { seen.push_back({0, false}); }
    void after_map(u64, u64) {} // adding mappings is not what this test watches
};
static_assert(Tlb<SnoopingTlb>);

Table make(FakeFrames& f) { return Table::create(f, arch::stage2_config(0b0100).geometry()).release_value(); }

bool invalidated_while_unmapped(const SnoopingTlb& tlb, u64 addr) {
    for (auto [a, mapped] : tlb.seen)
        if (a == addr && !mapped) return true;
    return false;
}
} // namespace

TEST(BreakBeforeMake, MemoryTypeChangeOfABlockGoesThroughAnInvalidEntry) {
    FakeFrames frames;
    Table t = make(frames);
    SnoopingTlb tlb{&t, {}};
    ASSERT_TRUE(t.map(0x4000'0000, HostPhysAddr(0x1'0000'0000), M2, RW).is_ok());
    ASSERT_TRUE(t.protect(0x4000'0000, M2, RW | MemFlags::Device, tlb).is_ok());
    EXPECT_TRUE(invalidated_while_unmapped(tlb, 0x4000'0000)) << "Normal -> Device written in place";
    EXPECT_EQ(t.query(0x4000'0000).value().flags, RW | MemFlags::Device);
    EXPECT_EQ(t.query(0x4000'0000).value().size, M2);
}

TEST(BreakBeforeMake, MemoryTypeChangeOfAPageGoesThroughAnInvalidEntry) {
    FakeFrames frames;
    Table t = make(frames);
    SnoopingTlb tlb{&t, {}};
    ASSERT_TRUE(t.map(0x4000'0000, HostPhysAddr(0x1'0000'0000), K4 * 4, RW | MemFlags::Device).is_ok());
    ASSERT_TRUE(t.protect(0x4000'1000, K4, RW, tlb).is_ok());
    EXPECT_TRUE(invalidated_while_unmapped(tlb, 0x4000'1000)) << "Device -> Normal written in place";
    EXPECT_EQ(t.query(0x4000'1000).value().flags, RW);
    EXPECT_EQ(t.query(0x4000'0000).value().flags, RW | MemFlags::Device);
}

TEST(BreakBeforeMake, PermissionOnlyChangeIsWrittenInPlace) {
    FakeFrames frames;
    Table t = make(frames);
    SnoopingTlb tlb{&t, {}};
    ASSERT_TRUE(t.map(0x4000'0000, HostPhysAddr(0x1'0000'0000), M2, RW).is_ok());
    ASSERT_TRUE(t.protect(0x4000'0000, M2, MemFlags::Read, tlb).is_ok());
    EXPECT_FALSE(invalidated_while_unmapped(tlb, 0x4000'0000)); // never unmapped: no fault window
    EXPECT_EQ(t.query(0x4000'0000).value().flags, MemFlags::Read);
}
