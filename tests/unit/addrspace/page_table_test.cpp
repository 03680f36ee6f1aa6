// The generic walker, driven through the aarch64 stage-2 format (44-bit IPA: root at level 0).
#include "arch/aarch64/el2_format.hpp"
#include "arch/riscv64/mmu_format.hpp"
#include "fakes.hpp"

using Table = PageTable<arch::Stage2Format, FakeFrames>;
static const TableGeometry geo44 = arch::stage2_config(0b0100).geometry();
constexpr u64 K4 = 4 * KiB, M2 = 2 * MiB;

static Table make(FakeFrames& f, TableGeometry g = geo44) { return Table::create(f, g).release_value(); }

TEST(PageTable, MapQueryUnmap) {
    FakeFrames frames;
    {
        Table t = make(frames);
        EXPECT_EQ(frames.in_use(), 1u);
        ASSERT_TRUE(t.map(0x1000, HostPhysAddr(0x8000'1000), 3 * K4, RW).is_ok());
        auto m = t.query(0x2345).value();
        EXPECT_EQ(m.at(0x2345).value(), 0x8000'2345u);
        EXPECT_EQ(m.size, K4);
        EXPECT_EQ(m.flags, RW);
        EXPECT_EQ(t.query(0x4000).error(), Error::NotMapped);
        // Partly mapped ranges: map is AlreadyMapped, unmap/protect of a partial hole NotMapped; no change.
        const Leaves before = leaves_of(t);
        RecordingTlb tlb;
        EXPECT_EQ(t.map(0x3000, HostPhysAddr(0x9000'0000), 2 * K4, RW).error(), Error::AlreadyMapped);
        EXPECT_EQ(t.unmap(0x0, 2 * K4, tlb).error(), Error::NotMapped);
        EXPECT_EQ(t.protect(0x3000, 2 * K4, MemFlags::Read, tlb).error(), Error::NotMapped);
        EXPECT_EQ(leaves_of(t), before);
        EXPECT_TRUE(tlb.calls.empty());
        EXPECT_EQ(t.map(0x1234, HostPhysAddr(0), K4, RW).error(), Error::InvalidArgument);
        EXPECT_EQ(t.map(t.limit() - K4, HostPhysAddr(0), 2 * K4, RW).error(), Error::OutOfRange);
        ASSERT_TRUE(t.unmap(0x1000, 3 * K4, tlb).is_ok());
        EXPECT_EQ(t.query(0x1000).error(), Error::NotMapped);
        EXPECT_EQ(frames.in_use(), 1u); // empty tables were freed
    }
    EXPECT_EQ(frames.in_use(), 0u);
}

TEST(PageTable, LargestBlocksAlignmentAllows) {
    FakeFrames frames;
    Table t = make(frames);
    ASSERT_TRUE(t.map(0x8000'0000 + 0x20'0000, HostPhysAddr(0x1'0020'0000), 2 * M2, RW).is_ok());
    EXPECT_EQ(leaves_of(t), (Leaves{{0x8020'0000, 0x1'0020'0000, M2, u32(RW)}, {0x8040'0000, 0x1'0040'0000, M2, u32(RW)}}));
    EXPECT_EQ(frames.in_use(), 3u); // root(L0) + L1 + L2: no level-3 table
    // 1 GiB block; an input/output pair aligned only to 2 MiB gets 2 MiB blocks instead.
    ASSERT_TRUE(t.map(0x4000'0000, HostPhysAddr(0x2'0000'0000), GiB, RWX).is_ok());
    EXPECT_EQ(t.query(0x5234'5000).value().size, GiB);
    EXPECT_EQ(frames.in_use(), 3u);
    ASSERT_TRUE(t.map(0x1'0000'0000, HostPhysAddr(0x3'0020'0000), GiB, RW).is_ok());
    EXPECT_EQ(t.query(0x1'0000'0000).value().size, M2);
    EXPECT_EQ(frames.in_use(), 4u);
    // 4 KiB misalignment on one side forces pages.
    ASSERT_TRUE(t.map(0x2'0000'0000, HostPhysAddr(0x4'0000'1000), M2, RW).is_ok());
    EXPECT_EQ(t.query(0x2'0000'0000).value().size, K4);
}

TEST(PageTable, PartialUnmapSplitsBlockWithBreakBeforeMake) {
    FakeFrames frames;
    Table t = make(frames);
    RecordingTlb tlb;
    ASSERT_TRUE(t.map(0x20'0000, HostPhysAddr(0x4000'0000), M2, RW).is_ok());
    ASSERT_TRUE(t.unmap(0x30'0000, K4, tlb).is_ok());
    EXPECT_EQ(tlb.calls, (std::vector<TlbCall>{{0x20'0000, M2}, {0x30'0000, K4}})); // break, then the unmap
    EXPECT_EQ(t.query(0x30'0000).error(), Error::NotMapped);
    EXPECT_EQ(t.query(0x20'0000).value().size, K4);
    EXPECT_EQ(t.query(0x3f'f000).value().pa.value(), 0x401f'f000u);
    EXPECT_EQ(leaves_of(t).size(), 511u);
    EXPECT_EQ(frames.in_use(), 4u);
}

TEST(PageTable, ProtectInsideGiBBlockSplitsTwoLevels) {
    FakeFrames frames;
    Table t = make(frames);
    RecordingTlb tlb;
    ASSERT_TRUE(t.map(0x4000'0000, HostPhysAddr(0x1'0000'0000), GiB, RW).is_ok());
    ASSERT_TRUE(t.protect(0x4020'3000, K4, MemFlags::Read, tlb).is_ok());
    EXPECT_EQ(tlb.calls, (std::vector<TlbCall>{{0x4000'0000, GiB}, {0x4020'0000, M2}, {0x4020'3000, K4}}));
    EXPECT_EQ(t.query(0x4020'3000).value().flags, MemFlags::Read);
    EXPECT_EQ(t.query(0x4020'3000).value().at(0x4020'3000).value(), 0x1'0020'3000u);
    EXPECT_EQ(t.query(0x4020'4000).value().flags, RW);
    EXPECT_EQ(t.query(0x4020'4000).value().size, K4);
    EXPECT_EQ(t.query(0x4040'0000).value().size, M2);
    EXPECT_EQ(leaves_of(t).size(), 511u + 512u);
    // Protecting a whole block keeps it a block; split_at at a block start changes nothing.
    tlb.calls.clear();
    ASSERT_TRUE(t.protect(0x4040'0000, M2, RWX, tlb).is_ok());
    ASSERT_TRUE(t.split_at(0x4060'0000, tlb).is_ok());
    EXPECT_EQ(t.query(0x4040'0000).value().size, M2);
    EXPECT_EQ(tlb.calls, (std::vector<TlbCall>{{0x4040'0000, M2}}));
}

TEST(PageTable, ConcatenatedRoots) {
    FakeFrames frames;
    for (u32 parange : {0u, 2u, 3u}) {
        const auto cfg = arch::stage2_config(parange);
        Table t = make(frames, cfg.geometry());
        EXPECT_EQ(frames.in_use(), cfg.root_tables);
        EXPECT_TRUE(t.root().is_aligned(cfg.root_bytes));
        EXPECT_EQ(t.limit(), u64(1) << cfg.ipa_bits);
        // The last 2 MiB uses the last entry of the last concatenated table.
        ASSERT_TRUE(t.map(t.limit() - M2, HostPhysAddr(0x4000'0000), M2, RW).is_ok());
        EXPECT_EQ(t.query(t.limit() - 1).value().at(t.limit() - 1).value(), 0x401f'ffffu);
        EXPECT_EQ(t.query(0).error(), Error::NotMapped);
        EXPECT_EQ(t.map(t.limit(), HostPhysAddr(0), K4, RW).error(), Error::OutOfRange);
    }
    EXPECT_EQ(frames.in_use(), 0u);
}

TEST(PageTable, NoMemoryAtEveryAllocationLeavesTableUnchanged) {
    FakeFrames frames;
    Table t = make(frames);
    RecordingTlb tlb;
    ASSERT_TRUE(t.map(0x7000'0000, HostPhysAddr(0x1000'0000), M2, RW).is_ok());
    // Crosses a 1 GiB boundary with an output only 4 KiB aligned: needs an L1 and several L2/L3 tables.
    const u64 in = 0x7fe0'0000, size = 3 * M2 + K4;
    const Leaves before = leaves_of(t);
    const usize used = frames.in_use();
    usize failures = 0;
    for (usize n = 1;; ++n) {
        frames.fail_nth(n);
        auto r = t.map(in, HostPhysAddr(0x2000'1000), size, RW);
        if (r.is_ok()) break;
        ++failures;
        EXPECT_EQ(r.error(), Error::NoMemory);
        EXPECT_EQ(leaves_of(t), before);
        EXPECT_EQ(frames.in_use(), used);
    }
    EXPECT_EQ(failures, 5u); // L3 at 0x7fe.., L2 + L3 for the next GiB; L3 for 0x8020.. and 0x8040..
    frames.fail_nth(0);
    EXPECT_EQ(t.query(in + size - 1).value().at(in + size - 1).value(), 0x2000'1000 + size - 1);
    // The same for a split: a failed unmap neither changes the table nor touches the TLB.
    ASSERT_TRUE(t.map(0x1'4000'0000, HostPhysAddr(0x4000'0000), GiB, RW).is_ok());
    const Leaves before_split = leaves_of(t);
    frames.fail_nth(2); // the second of the two tables (2 MiB level, then 4 KiB level)
    EXPECT_EQ(t.unmap(0x1'4000'1000, K4, tlb).error(), Error::NoMemory);
    EXPECT_EQ(leaves_of(t), before_split);
    EXPECT_TRUE(tlb.calls.empty());
}

TEST(PageTable, DestroyFreesEverythingAndMovedFromOwnsNothing) {
    FakeFrames frames;
    {
        Table t = make(frames);
        RecordingTlb tlb;
        ASSERT_TRUE(t.map(0x4000'0000, HostPhysAddr(0x1'0000'0000), GiB, RW).is_ok());
        ASSERT_TRUE(t.unmap(0x4000'5000, K4, tlb).is_ok());
        ASSERT_TRUE(t.map(0x9'0000'1000, HostPhysAddr(0x1000), K4, RW).is_ok());
        Table moved(static_cast<Table&&>(t));
        EXPECT_FALSE(t.is_live());
        EXPECT_GT(frames.in_use(), 4u);
        moved.clear();
        EXPECT_EQ(frames.in_use(), 1u);
        EXPECT_TRUE(leaves_of(moved).empty());
        ASSERT_TRUE(moved.map(0, HostPhysAddr(0), M2, RW).is_ok());
    }
    EXPECT_EQ(frames.in_use(), 0u);
}

TEST(PageTable, El2FormatUsesTheSameWalker) {
    FakeFrames frames;
    PageTable<arch::El2Format, FakeFrames> t =
        PageTable<arch::El2Format, FakeFrames>::create(frames, arch::el2_config(0b0100).geometry()).release_value();
    ASSERT_TRUE(t.map(0x4020'0000, HostPhysAddr(0x4020'0000), M2, MemFlags::Read | MemFlags::Exec).is_ok());
    ASSERT_TRUE(t.map(0x0800'0000, HostPhysAddr(0x0800'0000), M2, RW | MemFlags::Device).is_ok());
    EXPECT_EQ(t.query(0x4020'0000).value().flags, MemFlags::Read | MemFlags::Exec);
    EXPECT_EQ(t.query(0x0800'0000).value().flags, RW | MemFlags::Device);
    EXPECT_EQ(t.query(0x0800'0000).value().size, M2);
    // The descriptor in the level-2 table is exactly the documented encoding.
    const u64* root = static_cast<const u64*>(frames.phys_to_virt(t.root()));
    const u64* l1 = static_cast<const u64*>(frames.phys_to_virt(arch::El2Format::address(root[0])));
    const u64* l2 = static_cast<const u64*>(frames.phys_to_virt(arch::El2Format::address(l1[0])));
    EXPECT_EQ(l2[0x0800'0000 >> 21], 0x0040'0000'0800'0741ull);
}

TEST(PageTable, HostSv39FormatUsesTheSameWalker) {
    // riscv64's HS-mode identity map: the generic walker places 1 GiB gigapages at level 1 and
    // 2 MiB megapages at level 2 of an Sv39 tree, and protect() splits them to 4 KiB pages.
    using F = arch::HostSv39Format;
    FakeFrames frames;
    PageTable<F, FakeFrames> t = PageTable<F, FakeFrames>::create(frames, F::geometry()).release_value();
    RecordingTlb tlb;
    ASSERT_TRUE(t.map(0x8000'0000, HostPhysAddr(0x8000'0000), 1ull << 30, RW).is_ok());
    ASSERT_TRUE(t.map(0x1000'0000, HostPhysAddr(0x1000'0000), M2, RW | MemFlags::Device).is_ok());
    EXPECT_EQ(t.query(0x8000'0000).value().size, 1ull << 30);
    const u64* root = static_cast<const u64*>(frames.phys_to_virt(t.root()));
    EXPECT_EQ(root[2], 0x2000'00c7ull); // VA[38:30] = 2: the gigapage itself
    const u64* l2 = static_cast<const u64*>(frames.phys_to_virt(F::address(root[0])));
    EXPECT_TRUE(F::is_table(root[0], 1));
    EXPECT_EQ(l2[0x1000'0000 >> 21], 0x0400'01c7ull); // VA[29:21] = 0x80: the device megapage
    // W^X for the image: its text becomes RX pages inside the gigapage, the rest stays RW.
    ASSERT_TRUE(t.protect(0x8020'0000, 0x1000, MemFlags::Read | MemFlags::Exec, tlb).is_ok());
    EXPECT_EQ(t.query(0x8020'0000).value().flags, MemFlags::Read | MemFlags::Exec);
    EXPECT_EQ(t.query(0x8020'0000).value().size, 0x1000u);
    EXPECT_EQ(t.query(0x8020'1000).value().flags, RW);
    EXPECT_EQ(t.query(0x8040'0000).value().flags, RW);
}
