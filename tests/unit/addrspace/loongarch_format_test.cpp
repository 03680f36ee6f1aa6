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

namespace {

// A model of cxvisor's TLB refill handler (boot.S cxv_la_tlb_refill: LDDIR 3, 2, 1, LDPTE) as
// LoongArch Reference Manual Vol. 1 v1.10 describes the instructions (4.2.5.2 LDDIR: a directory
// entry with bit 6 set is a huge page and passes through unchanged, otherwise the next level's
// entry is read at the entry's address plus the index the PWCL/PWCH field of that level selects;
// 4.2.5.3 LDPTE: the page-table entry, or the huge page's half), reading the tables the generic
// walker built. Returns the leaf the TLB would be filled with and its page size. Physical page 0
// reads as zeros: it is cxvisor's reserved zero page (host.cpp), where an empty entry (0) leads.
struct RefillResult {
    u64 leaf;
    u64 page_size;
};
template <class F = HostLaFormat> RefillResult model_refill(FakeFrames& frames, HostPhysAddr pgd, u64 va) {
    auto field = [](u64 reg, u32 shift, u32 bits) { return u32((reg >> shift) & ((1u << bits) - 1)); };
    const u32 pt_base = field(F::pwcl, 0, 5), pt_width = field(F::pwcl, 5, 5);
    const u32 dir_base[4] = {0, field(F::pwcl, 10, 5), field(F::pwcl, 20, 5), field(F::pwch, 0, 6)};
    const u32 dir_width[4] = {0, field(F::pwcl, 15, 5), field(F::pwcl, 25, 5), field(F::pwch, 6, 6)};
    auto read = [&](u64 pa) -> u64 {
        if (pa < 0x1000) return 0; // the zero page
        return *static_cast<const u64*>(frames.phys_to_virt(HostPhysAddr(pa)));
    };
    u64 e = pgd.value(), size = 0;
    for (int level = 3; level >= 1; --level) {
        if (e & F::huge) continue; // LDDIR passes a huge page on unchanged
        const u64 index = (va >> dir_base[level]) & ((1ull << dir_width[level]) - 1);
        e = read((e & ~0xFFFull) + index * 8);
        if (e & F::huge) size = 1ull << dir_base[level];
    }
    if (e & F::huge) return {e, size}; // LDPTE takes the huge page's half
    const u64 index = (va >> pt_base) & ((1ull << pt_width) - 1);
    return {read((e & ~0xFFFull) + index * 8), 1ull << pt_base};
}

} // namespace

TEST(HostLaFormat, TheRefillWalkFindsWhatTheWalkerMapped) {
    // An identity map as host_identity_map.hpp builds it: RAM RW in 2 MiB blocks, the image's
    // text RX in 4 KiB pages, a device page. The refill walk must reach exactly those leaves, and
    // an address nothing maps must end at a V = 0 leaf (a page-invalid exception), however many
    // levels are missing.
    using F = HostLaFormat;
    FakeFrames frames;
    PageTable<F, FakeFrames> t = PageTable<F, FakeFrames>::create(frames, F::geometry()).release_value();
    RecordingTlb tlb;
    ASSERT_TRUE(t.map(0x20'0000, HostPhysAddr(0x20'0000), 8 * MiB, RW).is_ok());
    ASSERT_TRUE(t.protect(0x20'0000, 0x2000, MemFlags::Read | MemFlags::Exec, tlb).is_ok());
    ASSERT_TRUE(t.map(0x1FE0'0000, HostPhysAddr(0x1FE0'0000), 0x1000, RW | MemFlags::Device).is_ok());

    const RefillResult text = model_refill(frames, t.root(), 0x20'1234);
    EXPECT_EQ(text.page_size, 0x1000u);
    EXPECT_EQ(F::address(text.leaf), HostPhysAddr(0x20'1000));
    EXPECT_EQ(F::flags(text.leaf), MemFlags::Read | MemFlags::Exec);

    const RefillResult ram = model_refill(frames, t.root(), 0x60'0008);
    EXPECT_EQ(ram.page_size, 2 * MiB); // a huge page: LDDIR stopped at level 1's entry
    EXPECT_EQ(F::address(ram.leaf), HostPhysAddr(0x60'0000));
    EXPECT_EQ(F::flags(ram.leaf), RW);

    const RefillResult uart = model_refill(frames, t.root(), 0x1FE0'01E0);
    EXPECT_EQ(F::address(uart.leaf), HostPhysAddr(0x1FE0'0000));
    EXPECT_EQ(F::flags(uart.leaf), RW | MemFlags::Device);

    // Unmapped: a missing page table under a mapped directory, a missing directory, a missing
    // top-level entry, and the upper end of the lower half.
    for (u64 va : {0xA0'0000ull, 0x4000'0000ull, 0x80'0000'0000ull, 0x7FFF'FFFF'F000ull}) {
        const RefillResult r = model_refill(frames, t.root(), va);
        EXPECT_EQ(r.leaf & F::v, 0u) << std::hex << va;
    }
}

// The GPA stage under LVZ (LvzGpaFormat): the same entry layout and walk as cxvisor's own, with
// PLV 3 in every leaf (TLBELO.PLV [3:2] = 3, RPLV 0: LA Vol. 1 v1.10, 7.5.4), because the
// translated access is the guest's at whatever level the guest runs.
TEST(LvzGpaFormat, LeavesArePlv3AndOtherwiseTheHostLayout) {
    using F = arch::LvzGpaFormat;
    const MemFlags rwx = RW | MemFlags::Exec;
    // Guest RAM: V 0x1 | D 0x2 | PLV 3 0xC | MAT CC 0x10; executable (no NX), readable (no NR).
    EXPECT_EQ(F::make_page(HostPhysAddr(0x4000'0000), rwx), 0x4000'001Full);
    // A 2 MiB RAM block: the same plus HUGE 0x40.
    EXPECT_EQ(F::make_block(HostPhysAddr(0x4020'0000), rwx), 0x4020'005Full);
    // Read-only guest memory: no D, NX when not executable.
    EXPECT_EQ(F::make_page(HostPhysAddr(0x4000'1000), MemFlags::Read), 0x4000'0000'4000'101Dull);
    // A passed-through device page: MAT 0 (strongly-ordered uncached), NX.
    EXPECT_EQ(F::make_page(HostPhysAddr(0x1FE0'0000), RW | MemFlags::Device), 0x4000'0000'1FE0'000Full);
    // flags() reads back exactly what was mapped; PLV plays no part in the rights.
    EXPECT_EQ(F::flags(0x4000'001F), rwx);
    EXPECT_EQ(F::flags(0x4000'0000'1FE0'000F), RW | MemFlags::Device);
    EXPECT_EQ(F::flags(0x4000'0000'4000'101D), MemFlags::Read);
    // No access: still V = 0 and the marker (the walker keeps the mapping, the guest faults).
    EXPECT_EQ(F::make_page(HostPhysAddr(0x4000'0000), MemFlags::None), 0x4000'0080ull);
    EXPECT_EQ(F::flags(0x4000'0080), MemFlags::None);
    // cxvisor's own leaves stay PLV 0: a guest could not use them even if one leaked into its tag.
    EXPECT_EQ(HostLaFormat::make_page(HostPhysAddr(0x4000'0000), rwx) & HostLaFormat::plv_mask, 0u);
    EXPECT_EQ(F::make_page(HostPhysAddr(0x4000'0000), rwx) & F::plv_mask, 0xCu);
    // The walk registers are shared: the one refill handler walks both kinds of table.
    EXPECT_EQ(F::pwcl, HostLaFormat::pwcl);
    EXPECT_EQ(F::pwch, HostLaFormat::pwch);
}

TEST(LvzGpaFormat, TheRefillWalkGivesGuestRamAndLeavesMmioHolesInvalid) {
    // A VM as vm/ builds it: 16 MiB of RAM at GPA 0 backed by host RAM at 0x4000_0000, and its
    // emulated 16550 at 0x1FE0_0000 left unmapped. The refill walk (boot.S, the guest branch)
    // must give PLV 3 leaves for RAM and a V = 0 leaf for the device page, whose access then
    // exits as a page-invalid exception with the GPA in BADV: cxvisor's MMIO path.
    using F = arch::LvzGpaFormat;
    FakeFrames frames;
    PageTable<F, FakeFrames> t = PageTable<F, FakeFrames>::create(frames, F::geometry()).release_value();
    ASSERT_TRUE(t.map(0, HostPhysAddr(0x4000'0000), 16 * MiB, RW | MemFlags::Exec).is_ok());

    const RefillResult ram = model_refill<F>(frames, t.root(), 0x20'0004);
    EXPECT_EQ(ram.page_size, 2 * MiB);
    EXPECT_EQ(F::address(ram.leaf), HostPhysAddr(0x4020'0000));
    EXPECT_EQ(ram.leaf & F::plv_mask, 0xCu);
    EXPECT_EQ(F::flags(ram.leaf), RW | MemFlags::Exec);

    for (u64 gpa : {0x1FE0'0000ull, 0x100'0000ull, 0x1'0000'0000ull}) {
        const RefillResult hole = model_refill<F>(frames, t.root(), gpa);
        EXPECT_EQ(hole.leaf & F::v, 0u) << std::hex << gpa;
    }
}
