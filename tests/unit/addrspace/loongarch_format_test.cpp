// Exact entry encodings of the LoongArch page-table format (src/arch/loongarch64/page_format.hpp),
// hand-computed from the LoongArch Reference Manual Vol. 1 v1.10: TLBELO (7.5.4) V bit 0, D 1,
// PLV 3:2, MAT 5:4 (1 = coherent cached), G 6, PPN 47:12, NR 61, NX 62, RPLV 63; a directory-level
// leaf has HUGE in bit 6 (5.4); bit 7 is cxvisor's "mapped, no access" marker. And the generic
// walker driven through them (one test binary with the other ISAs' formats, format_test.cpp).
#include "arch/loongarch64/page_format.hpp"
#include "fakes.hpp"

using arch::HostLaFormat;

TEST(HostLaFormat, EntryEncodings) {
    using F = HostLaFormat;
    // Text: V 0x1 | MAT CC 0x10; no D (not writable), no NR, no NX.
    EXPECT_EQ(F::make_page(HostPhysAddr(0x20'0000), MemFlags::Read | MemFlags::Exec), 0x20'0011ull);
    // Rodata: the same plus NX (bit 62).
    EXPECT_EQ(F::make_page(HostPhysAddr(0x30'0000), MemFlags::Read), 0x4000'0000'0030'0011ull);
    // RAM: D 0x2 (writable) and NX.
    EXPECT_EQ(F::make_page(HostPhysAddr(0x40'0000), RW), 0x4000'0000'0040'0013ull);
    // A 2 MiB device block: V | D | HUGE 0x40, MAT 0 (strongly-ordered uncached), NX.
    EXPECT_EQ(F::make_block(HostPhysAddr(0x1000'0000), RW | MemFlags::Device), 0x4000'0000'1000'0043ull);
    // A page above 4 GiB keeps PPN bits 47:32.
    EXPECT_EQ(F::make_page(HostPhysAddr(0x9000'1000), RW), 0x4000'0000'9000'1013ull);
    EXPECT_EQ(F::make_page(HostPhysAddr(0x7FFF'0000'1000), RW), 0x4000'7FFF'0000'1013ull);
    // A directory entry is the next table's address and nothing else (LDDIR reads it as a base).
    EXPECT_EQ(F::make_table(HostPhysAddr(0x123'4000)), 0x123'4000ull);
    EXPECT_TRUE(F::is_table(0x123'4000, 2));
    EXPECT_FALSE(F::is_table(0x123'4000, 3)); // at level 3 it would be a page
    EXPECT_FALSE(F::is_valid(0));             // an empty slot: the walk reads page 0 (kept zero)
    EXPECT_TRUE(F::is_block(0x4000'0000'1000'0043, 2));
    EXPECT_FALSE(F::is_table(0x4000'0000'1000'0043, 2));
    EXPECT_EQ(F::address(0x4000'0000'1000'0043), HostPhysAddr(0x1000'0000));
    EXPECT_EQ(F::address(0x4000'0000'9000'1013), HostPhysAddr(0x9000'1000));
    EXPECT_EQ(F::flags(0x4000'0000'1000'0043), RW | MemFlags::Device);
    EXPECT_EQ(F::flags(0x20'0011), MemFlags::Read | MemFlags::Exec);
    // Only 2 MiB blocks (level 2, LDDIR's Dir1).
    EXPECT_TRUE(F::block_allowed(2));
    EXPECT_FALSE(F::block_allowed(1));
    EXPECT_FALSE(F::block_allowed(3));
    EXPECT_EQ(F::geometry().start_level, 0u);
    EXPECT_EQ(F::geometry().root_entries, 512u);
}

TEST(HostLaFormat, RightsAreExactAndNoAccessIsKept) {
    using F = HostLaFormat;
    // LoongArch can say "not readable" (NR): write-only and execute-only are exact.
    EXPECT_EQ(F::make_page(HostPhysAddr(0x1000), MemFlags::Write), 0x6000'0000'0000'1013ull);
    EXPECT_EQ(F::flags(0x6000'0000'0000'1013), MemFlags::Write);
    EXPECT_EQ(F::make_page(HostPhysAddr(0x1000), MemFlags::Exec), 0x2000'0000'0000'1011ull);
    EXPECT_EQ(F::flags(0x2000'0000'0000'1011), MemFlags::Exec);
    // No right at all: V = 0 with the marker, still a mapping to the walker, "no access" to flags().
    const u64 none = F::make_page(HostPhysAddr(0x1000), MemFlags::None);
    EXPECT_EQ(none, 0x1080ull);
    EXPECT_TRUE(F::is_valid(none));
    EXPECT_EQ(F::flags(none), MemFlags::None);
    const u64 none_block = F::make_block(HostPhysAddr(0x20'0000), MemFlags::None);
    EXPECT_EQ(none_block, 0x20'00C0ull); // HUGE kept: LDDIR stops there, LDPTE finds V = 0
    EXPECT_TRUE(F::is_block(none_block, 2));
    EXPECT_EQ(F::flags(none_block), MemFlags::None);
}

TEST(HostLaFormat, WalkRegistersDescribeTheTree) {
    using F = HostLaFormat;
    // PWCL (7.5.7): PTbase 12 [4:0], PTwidth 9 [9:5], Dir1_base 21 [14:10], Dir1_width 9 [19:15],
    // Dir2_base 30 [24:20], Dir2_width 9 [29:25], PTEWidth 0 (64-bit) [31:30].
    EXPECT_EQ(F::pwcl, 0x13E4'D52Cull);
    // PWCH (7.5.8): Dir3_base 39 [5:0], Dir3_width 9 [11:6], Dir4 unused.
    EXPECT_EQ(F::pwch, 0x267ull);
}

TEST(PageTable, HostLaFormatUsesTheSameWalker) {
    // cxvisor's loongarch64 identity map: 2 MiB blocks at level 2 of a 4-level tree, and protect()
    // splits them to 4 KiB pages for the image's W^X.
    using F = HostLaFormat;
    FakeFrames frames;
    PageTable<F, FakeFrames> t = PageTable<F, FakeFrames>::create(frames, F::geometry()).release_value();
    RecordingTlb tlb;
    ASSERT_TRUE(t.map(0x20'0000, HostPhysAddr(0x20'0000), 4 * MiB, RW).is_ok());
    ASSERT_TRUE(t.map(0x1FE0'0000, HostPhysAddr(0x1FE0'0000), 0x1000, RW | MemFlags::Device).is_ok());
    EXPECT_EQ(t.query(0x20'0000).value().size, 2 * MiB);
    const u64* root = static_cast<const u64*>(frames.phys_to_virt(t.root()));
    EXPECT_TRUE(F::is_table(root[0], 0));
    const u64* dir2 = static_cast<const u64*>(frames.phys_to_virt(F::address(root[0])));
    const u64* dir1 = static_cast<const u64*>(frames.phys_to_virt(F::address(dir2[0])));
    EXPECT_EQ(dir1[1], 0x4000'0000'0020'0053ull); // VA[29:21] = 1: the first 2 MiB block, RW, NX, HUGE
    const u64* pt = static_cast<const u64*>(frames.phys_to_virt(F::address(dir1[0xFF]))); // VA[29:21] = 0xFF
    EXPECT_EQ(pt[0], 0x4000'0000'1FE0'0003ull); // the UART's page: V | D, MAT 0, NX
    ASSERT_TRUE(t.protect(0x20'0000, 0x1000, MemFlags::Read | MemFlags::Exec, tlb).is_ok());
    EXPECT_EQ(t.query(0x20'0000).value().flags, MemFlags::Read | MemFlags::Exec);
    EXPECT_EQ(t.query(0x20'0000).value().size, 0x1000u);
    EXPECT_EQ(t.query(0x20'1000).value().flags, RW);
    EXPECT_EQ(t.query(0x40'0000).value().size, 2 * MiB);
}
