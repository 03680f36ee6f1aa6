// Exact entry encodings of the x86-64 long-mode formats (src/arch/x86_64/page_format.hpp), hand-
// computed from AMD64 APM vol. 2 rev. 3.42, 5.4.1 "Field Definitions": P bit 0, R/W 1, U/S 2,
// PWT 3, PCD 4, A 5, D 6, PS 7, AVL 9, address 51:12, NX 63; and the generic walker driven
// through them (one test binary with the other ISAs' formats, format_test.cpp).
#include "arch/x86_64/page_format.hpp"
#include "fakes.hpp"

using arch::HostX86Format;
using arch::NptFormat;

TEST(HostX86Format, EntryEncodings) {
    using F = HostX86Format;
    // Text: P 0x1 | A 0x20 | D 0x40, no R/W, no NX.
    EXPECT_EQ(F::make_page(HostPhysAddr(0x20'0000), MemFlags::Read | MemFlags::Exec), 0x20'0061ull);
    // Rodata: the same plus NX.
    EXPECT_EQ(F::make_page(HostPhysAddr(0x30'0000), MemFlags::Read), 0x8000'0000'0030'0061ull);
    // RAM: R/W 0x2 and NX.
    EXPECT_EQ(F::make_page(HostPhysAddr(0x40'0000), RW), 0x8000'0000'0040'0063ull);
    // A 2 MiB device block: P | R/W | PWT 0x8 | PCD 0x10 | A | D | PS 0x80, NX.
    EXPECT_EQ(F::make_block(HostPhysAddr(0xFEC0'0000), RW | MemFlags::Device), 0x8000'0000'FEC0'00FBull);
    // Tables: P | R/W, the leaf restricts.
    EXPECT_EQ(F::make_table(HostPhysAddr(0x123'4000)), 0x123'4003ull);
    EXPECT_TRUE(F::is_table(0x123'4003, 2));
    EXPECT_FALSE(F::is_table(0x123'4003, 3)); // at level 3 it is a page
    EXPECT_TRUE(F::is_block(0x8000'0000'FEC0'00FB, 2));
    EXPECT_FALSE(F::is_table(0x8000'0000'FEC0'00FB, 2));
    EXPECT_EQ(F::address(0x8000'0000'FEC0'00FB), HostPhysAddr(0xFEC0'0000));
    EXPECT_EQ(F::flags(0x8000'0000'FEC0'00FB), RW | MemFlags::Device);
    EXPECT_EQ(F::flags(0x20'0061), MemFlags::Read | MemFlags::Exec);
    // No access: not present, kept in AVL bit 9 so the walker still sees the mapping.
    const u64 none = F::make_page(HostPhysAddr(0x1000), MemFlags::None);
    EXPECT_EQ(none, 0x1200ull);
    EXPECT_TRUE(F::is_valid(none));
    EXPECT_EQ(F::flags(none), MemFlags::None);
    EXPECT_FALSE(F::is_valid(0x1000)); // an address without P or AVL 9 is an empty slot
    // Only 2 MiB blocks (1 GiB pages need CPUID 8000_0001h EDX[26]); CR3 is the PML4's address.
    EXPECT_TRUE(F::block_allowed(2));
    EXPECT_FALSE(F::block_allowed(1));
    EXPECT_EQ(F::cr3(HostPhysAddr(0x5000)), 0x5000ull);
    EXPECT_EQ(F::geometry().start_level, 0u);
    EXPECT_EQ(F::geometry().root_entries, 512u);
}

TEST(NptFormat, EntryEncodingsCarryUserOnEveryLevel) {
    using F = NptFormat;
    // Nested walks are user accesses (15.25.5): tables P | R/W | U/S 0x4.
    EXPECT_EQ(F::make_table(HostPhysAddr(0x2000)), 0x2007ull);
    // RWX RAM: P | R/W | U/S | A | D.
    EXPECT_EQ(F::make_page(HostPhysAddr(0x10'0000), RWX), 0x10'0067ull);
    // Read-only, not executable: no R/W, NX.
    EXPECT_EQ(F::make_page(HostPhysAddr(0x10'0000), MemFlags::Read), 0x8000'0000'0010'0065ull);
    // A 2 MiB RW block: PS 0x80, NX.
    EXPECT_EQ(F::make_block(HostPhysAddr(0x4000'0000), RW), 0x8000'0000'4000'00E7ull);
    // Device: PWT | PCD (UC).
    EXPECT_EQ(F::make_page(HostPhysAddr(0xFEE0'0000), RW | MemFlags::Device), 0x8000'0000'FEE0'007Full);
    EXPECT_EQ(F::ncr3(HostPhysAddr(0x8'0000)), 0x8'0000ull);
}

TEST(NptFormat, FlagsWithoutEncodingGrantLessNeverMore) {
    using F = NptFormat;
    // Present means readable: write-only and execute-only cannot be given, so they become
    // "no access" (AVL bit 9, not present) rather than gaining read.
    for (MemFlags f : {MemFlags::Write, MemFlags::Exec, MemFlags::Write | MemFlags::Exec, MemFlags::None}) {
        const u64 e = F::make_page(HostPhysAddr(0x10'0000), f);
        EXPECT_EQ(e, 0x10'0200ull) << u32(f);
        EXPECT_TRUE(F::is_valid(e));
        EXPECT_EQ(F::flags(e), MemFlags::None);
        // A no-access block has no PS (P is clear) and is still a block to the walker.
        const u64 b = F::make_block(HostPhysAddr(0x20'0000), f);
        EXPECT_EQ(b, 0x20'0200ull);
        EXPECT_TRUE(F::is_block(b, 2));
        EXPECT_FALSE(F::is_table(b, 2));
    }
}

TEST(PageTable, HostX86FormatUsesTheSameWalker) {
    // cxvisor's x86_64 identity map: 2 MiB blocks at level 2 of a 4-level tree from the PML4, and
    // protect() splits them to 4 KiB pages for the image's W^X.
    using F = HostX86Format;
    FakeFrames frames;
    PageTable<F, FakeFrames> t = PageTable<F, FakeFrames>::create(frames, F::geometry()).release_value();
    RecordingTlb tlb;
    ASSERT_TRUE(t.map(0x20'0000, HostPhysAddr(0x20'0000), 4 * MiB, RW).is_ok());
    ASSERT_TRUE(t.map(0xFEC0'0000, HostPhysAddr(0xFEC0'0000), 0x1000, RW | MemFlags::Device).is_ok());
    EXPECT_EQ(t.query(0x20'0000).value().size, 2 * MiB);
    const u64* pml4 = static_cast<const u64*>(frames.phys_to_virt(t.root()));
    EXPECT_TRUE(F::is_table(pml4[0], 0));
    const u64* pdpt = static_cast<const u64*>(frames.phys_to_virt(F::address(pml4[0])));
    const u64* pd = static_cast<const u64*>(frames.phys_to_virt(F::address(pdpt[0])));
    EXPECT_EQ(pd[1], 0x8000'0000'0020'00E3ull); // VA[29:21] = 1: the first 2 MiB block, RW, NX
    const u64* pd3 = static_cast<const u64*>(frames.phys_to_virt(F::address(pdpt[3]))); // VA[38:30] = 3
    const u64* pt = static_cast<const u64*>(frames.phys_to_virt(F::address(pd3[0x1F6])));  // VA[29:21] = 0x1F6
    EXPECT_EQ(pt[0], 0x8000'0000'FEC0'007Bull);                                         // the IOAPIC page, UC
    ASSERT_TRUE(t.protect(0x20'0000, 0x1000, MemFlags::Read | MemFlags::Exec, tlb).is_ok());
    EXPECT_EQ(t.query(0x20'0000).value().flags, MemFlags::Read | MemFlags::Exec);
    EXPECT_EQ(t.query(0x20'0000).value().size, 0x1000u);
    EXPECT_EQ(t.query(0x20'1000).value().flags, RW);
    EXPECT_EQ(t.query(0x40'0000).value().size, 2 * MiB);
}
