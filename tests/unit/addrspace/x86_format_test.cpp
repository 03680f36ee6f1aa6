// Exact entry encodings of the x86-64 long-mode formats (src/arch/x86_64/page_format.hpp), hand-
// computed from AMD64 APM vol. 2 rev. 3.42, 5.4.1 "Field Definitions": P bit 0, R/W 1, U/S 2,
// PWT 3, PCD 4, A 5, D 6, PS 7, AVL 9, address 51:12, NX 63; the 4- and 5-level shapes (5.3,
// Intel SDM vol. 3A 4.5: levels, index bits, leaf sizes, canonical addresses); and the generic
// walker driven through them (one test binary with the other ISAs' formats, format_test.cpp).
#include "addrspace/addr_space.hpp"
#include "arch/x86_64/page_format.hpp"
#include "fakes.hpp"

using arch::HostX86Format;
using arch::NptFormat;
using arch::X86Paging;

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
    EXPECT_TRUE(F::is_table(0x123'4003, 0)); // a PML5 entry is laid out as a PML4 entry
    EXPECT_TRUE(F::is_table(0x123'4003, 3));
    EXPECT_FALSE(F::is_table(0x123'4003, 4)); // at level 4 (the page table) it is a page
    EXPECT_TRUE(F::is_block(0x8000'0000'FEC0'00FB, 3));
    EXPECT_FALSE(F::is_table(0x8000'0000'FEC0'00FB, 3));
    EXPECT_EQ(F::address(0x8000'0000'FEC0'00FB), HostPhysAddr(0xFEC0'0000));
    EXPECT_EQ(F::flags(0x8000'0000'FEC0'00FB), RW | MemFlags::Device);
    EXPECT_EQ(F::flags(0x20'0061), MemFlags::Read | MemFlags::Exec);
    // No access: not present, kept in AVL bit 9 so the walker still sees the mapping.
    const u64 none = F::make_page(HostPhysAddr(0x1000), MemFlags::None);
    EXPECT_EQ(none, 0x1200ull);
    EXPECT_TRUE(F::is_valid(none));
    EXPECT_EQ(F::flags(none), MemFlags::None);
    EXPECT_FALSE(F::is_valid(0x1000)); // an address without P or AVL 9 is an empty slot
    // Only 2 MiB blocks, in the page directory (1 GiB pages need CPUID 8000_0001h EDX[26]); CR3
    // is the root's address.
    EXPECT_TRUE(F::block_allowed(3));
    EXPECT_FALSE(F::block_allowed(2));
    EXPECT_FALSE(F::block_allowed(1));
    EXPECT_FALSE(F::block_allowed(0));
    EXPECT_EQ(F::cr3(HostPhysAddr(0x5000)), 0x5000ull);
}

TEST(X86Paging, FourAndFiveLevelShapes) {
    using Table = PageTable<HostX86Format, FakeFrames>;
    // Leaf sizes by walker level: the page table 4 KiB, the PD 2 MiB, the PDPT 1 GiB, a PML4 entry
    // 512 GiB, a PML5 entry 256 TiB (9 more address bits per level).
    EXPECT_EQ(Table::span(4), 4 * KiB);
    EXPECT_EQ(Table::span(3), 2 * MiB);
    EXPECT_EQ(Table::span(2), GiB);
    EXPECT_EQ(Table::span(1), 512 * GiB);
    EXPECT_EQ(Table::span(0), u64(256) << 40);
    // 4-level paging starts at the PML4 (level 1), 5-level at the PML5 (level 0); 512 root entries.
    EXPECT_EQ(X86Paging{4}.geometry().start_level, 1u);
    EXPECT_EQ(X86Paging{5}.geometry().start_level, 0u);
    EXPECT_EQ(X86Paging{4}.geometry().root_entries, 512u);
    EXPECT_EQ(X86Paging{5}.geometry().root_entries, 512u);
    EXPECT_EQ(X86Paging{4}.va_bits(), 48u);
    EXPECT_EQ(X86Paging{5}.va_bits(), 57u);
    // The identity map reaches the lower canonical half.
    EXPECT_EQ(X86Paging{4}.identity_limit(), u64(1) << 47);
    EXPECT_EQ(X86Paging{5}.identity_limit(), u64(1) << 56);
    // CR4.LA57 (bit 12) says which one a CPU runs.
    EXPECT_EQ(arch::x86_paging_from_cr4(0x1020).levels, 5u); // PAE | LA57
    EXPECT_EQ(arch::x86_paging_from_cr4(0x0020).levels, 4u);
    EXPECT_STREQ(X86Paging{5}.name(), "5-level paging (LA57)");
    EXPECT_STREQ(X86Paging{4}.name(), "4-level paging");
}

TEST(X86Paging, CanonicalAddresses) {
    // APM vol. 2 5.3.1 / SDM 4.5.1: bits 63 down to 47 (4-level) or 56 (5-level) all equal.
    const X86Paging four{4}, five{5};
    for (u64 va : {u64(0), u64(0x0000'7FFF'FFFF'FFFF), u64(0xFFFF'8000'0000'0000), ~u64(0)}) {
        EXPECT_TRUE(four.canonical(va)) << va;
        EXPECT_TRUE(five.canonical(va)) << va; // every 48-bit canonical address is 57-bit canonical
    }
    // Between the halves of 4-level paging: canonical only with 5 levels.
    for (u64 va : {u64(0x0000'8000'0000'0000), u64(0x00FF'FFFF'FFFF'FFFF), u64(0xFF00'0000'0000'0000),
                   u64(0xFFFF'7FFF'FFFF'FFFF)}) {
        EXPECT_FALSE(four.canonical(va)) << va;
        EXPECT_TRUE(five.canonical(va)) << va;
    }
    // Not canonical either way: bit 56 differs from the bits above it.
    for (u64 va : {u64(0x0100'0000'0000'0000), u64(0x8000'0000'0000'0000), u64(0xFE00'0000'0000'0000)}) {
        EXPECT_FALSE(four.canonical(va)) << va;
        EXPECT_FALSE(five.canonical(va)) << va;
    }
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
        EXPECT_TRUE(F::is_block(b, 3));
        EXPECT_FALSE(F::is_table(b, 3));
    }
}

TEST(PageTable, HostX86FormatUsesTheSameWalker) {
    // cxvisor's x86_64 identity map: 2 MiB blocks in the page directory (walker level 3) of a
    // 4-level tree from the PML4, and protect() splits them to 4 KiB pages for the image's W^X.
    using F = HostX86Format;
    FakeFrames frames;
    PageTable<F, FakeFrames> t = PageTable<F, FakeFrames>::create(frames, X86Paging{4}.geometry()).release_value();
    EXPECT_EQ(t.limit(), u64(1) << 48);
    RecordingTlb tlb;
    ASSERT_TRUE(t.map(0x20'0000, HostPhysAddr(0x20'0000), 4 * MiB, RW).is_ok());
    ASSERT_TRUE(t.map(0xFEC0'0000, HostPhysAddr(0xFEC0'0000), 0x1000, RW | MemFlags::Device).is_ok());
    EXPECT_EQ(t.query(0x20'0000).value().size, 2 * MiB);
    const u64* pml4 = static_cast<const u64*>(frames.phys_to_virt(t.root()));
    EXPECT_TRUE(F::is_table(pml4[0], 1));
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

TEST(PageTable, HostX86FormatWithFiveLevels) {
    // With CR4.LA57 the root is a PML5: VA[56:48] index it, then VA[47:39] the PML4, VA[38:30] the
    // PDPT, VA[29:21] the PD, VA[20:12] the page table. The same walker, one more level.
    using F = HostX86Format;
    FakeFrames frames;
    PageTable<F, FakeFrames> t = PageTable<F, FakeFrames>::create(frames, X86Paging{5}.geometry()).release_value();
    EXPECT_EQ(t.limit(), u64(1) << 57);
    // An address only 5-level paging reaches: PML5 index 0x81, PML4 0x1FF, PDPT 2, PD 7, PT 9.
    const u64 va = (u64(0x81) << 48) | (u64(0x1FF) << 39) | (u64(2) << 30) | (u64(7) << 21) | (u64(9) << 12);
    ASSERT_TRUE(t.map(va, HostPhysAddr(0x4321'0000), 0x1000, RW).is_ok());
    const u64* pml5 = static_cast<const u64*>(frames.phys_to_virt(t.root()));
    EXPECT_TRUE(F::is_table(pml5[0x81], 0));
    EXPECT_EQ(pml5[0x81] & 0xFFF, 0x003u); // a table: P | R/W
    const u64* pml4 = static_cast<const u64*>(frames.phys_to_virt(F::address(pml5[0x81])));
    const u64* pdpt = static_cast<const u64*>(frames.phys_to_virt(F::address(pml4[0x1FF])));
    const u64* pd = static_cast<const u64*>(frames.phys_to_virt(F::address(pdpt[2])));
    const u64* pt = static_cast<const u64*>(frames.phys_to_virt(F::address(pd[7])));
    EXPECT_EQ(pt[9], 0x8000'0000'4321'0063ull); // RW, NX, A, D
    EXPECT_EQ(t.query(va + 0x10).value().at(va + 0x10), HostPhysAddr(0x4321'0010));
    EXPECT_EQ(frames.in_use(), 5u); // PML5, PML4, PDPT, PD, PT
    // 2 MiB blocks sit in the PD as on 4 levels; low memory goes through PML5 entry 0.
    ASSERT_TRUE(t.map(0x20'0000, HostPhysAddr(0x20'0000), 2 * MiB, RW).is_ok());
    EXPECT_EQ(t.query(0x20'0000).value().size, 2 * MiB);
    EXPECT_TRUE(F::is_table(pml5[0], 0));
    // The 4-level tree cannot hold the address at all.
    auto t4 = PageTable<F, FakeFrames>::create(frames, X86Paging{4}.geometry()).release_value();
    EXPECT_EQ(t4.map(va, HostPhysAddr(0x4321'0000), 0x1000, RW).error(), Error::OutOfRange);
    EXPECT_EQ(t4.query(va).error(), Error::OutOfRange);
}

TEST(AddrSpace, NptWithFiveLevelsMapsRamOnFirstTouchAboveTheFourLevelReach) {
    // A VM's guest-physical space on a 5-level host (NptFormat, X86Paging{5}: arch_stage2.hpp
    // stage2_cpu_config): RAM at 2^52, beyond what 4-level nested tables reach (2^48), is mapped on
    // first touch in 2 MiB blocks (the PD, walker level 3) under a PML5 entry other than 0.
    using Space = AddrSpace<NptFormat, FakeFrames, RecordingTlb>;
    FakeFrames frames;
    Space s = Space::create(frames, RecordingTlb{}, X86Paging{5}.geometry()).release_value();
    const u64 base = u64(1) << 52; // PML5 index 16
    ASSERT_TRUE(s.map_alloc(GuestPhysAddr(base), 4 * MiB, RW, false).is_ok());
    EXPECT_TRUE(s.handle_fault(GuestPhysAddr(base + 0x20'1234), MemFlags::Write).value());
    const auto leaf = s.page_table().query(base + 0x20'0000).value();
    EXPECT_EQ(leaf.size, 2 * MiB);
    EXPECT_EQ(leaf.flags, RW);
    const u64* pml5 = static_cast<const u64*>(frames.phys_to_virt(s.page_table().root()));
    EXPECT_TRUE(NptFormat::is_table(pml5[16], 0));
    EXPECT_EQ(pml5[16] & 0xFFF, 0x007u); // P | R/W | U/S on every level of a nested walk
    u64 word = 1;
    ASSERT_TRUE(s.read(GuestPhysAddr(base + 0x20'1230), &word, 8).is_ok());
    EXPECT_EQ(word, 0u); // fresh RAM is zeroed
    // 4-level nested tables cannot hold such a region at all.
    Space s4 = Space::create(frames, RecordingTlb{}, X86Paging{4}.geometry()).release_value();
    EXPECT_EQ(s4.map_alloc(GuestPhysAddr(base), 4 * MiB, RW, false).error(), Error::OutOfRange);
}
