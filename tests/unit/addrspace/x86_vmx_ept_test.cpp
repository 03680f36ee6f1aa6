// Exact entry encodings of Intel's EPT format (src/arch/x86_64/ept_format.hpp), hand-computed from
// the SDM vol. 3C (Order Number 326019-067) 28.2.2 Tables 28-1 to 28-6: bit 0 read, 1 write,
// 2 execute, 5:3 memory type (0 UC, 6 WB), 6 ignore PAT, 7 large page, 8/9 accessed/dirty, 51:12
// address; and the generic walker driven through them (map, split, unmap) with the largest leaf
// real CPUs' IA32_VMX_EPT_VPID_CAP allows (the same values as tests/unit/arch/x86_vmx_caps_test.cpp).
#include "arch/x86_64/ept_format.hpp"
#include "arch/x86_64/page_format.hpp"
#include "arch/x86_64/vmx/caps.hpp"
#include "fakes.hpp"

using arch::EptFormat;

namespace {

// IA32_VMX_EPT_VPID_CAP of an Intel Core i7-5600U (Broadwell: 2 MiB and 1 GiB pages, A/D flags)
// and an Intel Pentium N3530 (Silvermont: 2 MiB pages only), as VirtualBox's CPU database records
// them (src/VBox/VMM/VMMR3/cpus/Intel_Core_i7_5600U.h, Intel_Pentium_N3530_2_16GHz.h, read by
// VBoxCpuReport on the real CPUs).
constexpr u64 BROADWELL_EPT_VPID_CAP = 0xF01'0633'4141ull;
constexpr u64 SILVERMONT_EPT_VPID_CAP = 0xF01'0611'4141ull;

const u64* table(FakeFrames& frames, u64 entry) {
    return static_cast<const u64*>(frames.phys_to_virt(EptFormat::address(entry)));
}

} // namespace

TEST(EptFormat, EntryEncodingsFollowTheSdmTables) {
    using F = EptFormat;
    // Table 28-1/28-3/28-5: a non-leaf entry with R, W, X (the leaf restricts) and the next table.
    EXPECT_EQ(F::make_table(HostPhysAddr(0x123'4000)), 0x123'4007ull);
    // Table 28-6: a 4 KiB page. RWX RAM: 0x7 | WB 6 << 3 = 0x30; ignore PAT clear.
    EXPECT_EQ(F::make_page(HostPhysAddr(0x10'0000), RWX), 0x10'0037ull);
    // Read-only data: R only. Read + execute (guest text): R | X.
    EXPECT_EQ(F::make_page(HostPhysAddr(0x10'0000), MemFlags::Read), 0x10'0031ull);
    EXPECT_EQ(F::make_page(HostPhysAddr(0x10'0000), MemFlags::Read | MemFlags::Exec), 0x10'0035ull);
    // A device window: RW, memory type UC (0), ignore PAT 0x40 (no guest PAT can make it WC).
    EXPECT_EQ(F::make_page(HostPhysAddr(0xFEC0'0000), RW | MemFlags::Device), 0xFEC0'0043ull);
    // Tables 28-4 and 28-2: a 2 MiB and a 1 GiB page carry bit 7.
    EXPECT_EQ(F::make_block(HostPhysAddr(0x20'0000), RW), 0x20'00B3ull);
    EXPECT_EQ(F::make_block(HostPhysAddr(0x4000'0000), RWX), 0x4000'00B7ull);
    // Accessed (8) and dirty (9) are never written by the format: the CPU sets them only with EPTP
    // bit 6, which ept_pointer gives only on request.
    for (u64 e : {F::make_page(HostPhysAddr(0x1000), RWX), F::make_block(HostPhysAddr(0x20'0000), RWX)})
        EXPECT_EQ(e & (F::accessed | F::dirty), 0u);
    // MAXPHYADDR 52: address bits 51:12 pass, bits above and below do not.
    EXPECT_EQ(F::address(F::make_page(HostPhysAddr(0x000F'FFFF'FFFF'F000), RW)), HostPhysAddr(0x000F'FFFF'FFFF'F000));

    // Decoding: flags() gives back what was asked for; the level decides table vs. page.
    EXPECT_EQ(F::flags(0x10'0037), RWX);
    EXPECT_EQ(F::flags(0xFEC0'0043), RW | MemFlags::Device);
    EXPECT_EQ(F::flags(0x10'0031), MemFlags::Read);
    // Levels: 0 the PML5, 1 the PML4, 2 the PDPT, 3 the PD, 4 the page table.
    EXPECT_TRUE(F::is_table(0x123'4007, 0));
    EXPECT_TRUE(F::is_table(0x123'4007, 1));
    EXPECT_TRUE(F::is_table(0x123'4007, 3));
    EXPECT_FALSE(F::is_table(0x10'0037, 4)); // a level-4 entry is always a page
    EXPECT_TRUE(F::is_block(0x20'00B3, 3));
    EXPECT_TRUE(F::is_block(0x4000'00B7, 2));
    EXPECT_FALSE(F::is_table(0x4000'00B7, 2));
    EXPECT_FALSE(F::is_valid(0x10'0000)); // bits 2:0 clear and no software bit: an empty slot
    // The PDPT and PD may hold pages, the PML4 and PML5 may not (Table 28-1 has no bit 7 page).
    EXPECT_FALSE(F::block_allowed(0));
    EXPECT_FALSE(F::block_allowed(1));
    EXPECT_TRUE(F::block_allowed(2));
    EXPECT_TRUE(F::block_allowed(3));
    // A 4-level EPT is rooted at the PML4 (walker level 1), a 5-level one at the PML5 (level 0).
    EXPECT_EQ(arch::X86Paging{4}.geometry().start_level, 1u);
    EXPECT_EQ(arch::X86Paging{5}.geometry().start_level, 0u);
    EXPECT_EQ(arch::X86Paging{4}.geometry().root_entries, 512u);
}

TEST(EptFormat, RightsWithoutEncodingAreNoAccessNeverMore) {
    using F = EptFormat;
    // Write without read is an EPT misconfiguration (28.2.3.1, bits 2:0 = 010b/110b) and
    // execute-only needs IA32_VMX_EPT_VPID_CAP bit 0: all of them become "not present", kept in
    // ignored bit 11 so the walker still sees the mapping.
    for (MemFlags f : {MemFlags::Write, MemFlags::Exec, MemFlags::Write | MemFlags::Exec, MemFlags::None,
                       MemFlags::Write | MemFlags::Device}) {
        const u64 e = F::make_page(HostPhysAddr(0x30'0000), f);
        EXPECT_EQ(e, 0x30'0800ull) << u32(f);
        EXPECT_EQ(e & F::rwx, 0u) << u32(f); // never a 010b/110b/100b pattern
        EXPECT_TRUE(F::is_valid(e));
        EXPECT_EQ(F::flags(e), MemFlags::None);
        const u64 b = F::make_block(HostPhysAddr(0x40'0000), f);
        EXPECT_EQ(b, 0x40'0800ull) << u32(f); // no bit 7 on a non-present entry
        EXPECT_TRUE(F::is_block(b, 3));
        EXPECT_FALSE(F::is_table(b, 3));
    }
}

TEST(EptFormat, LargestLeafFollowsTheCapabilityMsr) {
    EXPECT_EQ(arch::vmx::ept_max_leaf(arch::vmx::decode_ept_vpid(BROADWELL_EPT_VPID_CAP)), GiB);
    EXPECT_EQ(arch::vmx::ept_max_leaf(arch::vmx::decode_ept_vpid(SILVERMONT_EPT_VPID_CAP)), 2 * MiB);
    EXPECT_EQ(arch::vmx::ept_max_leaf(arch::vmx::decode_ept_vpid(SILVERMONT_EPT_VPID_CAP & ~bit(16))), 4 * KiB);
}

namespace {
// 1 GiB of guest RAM at GPA 1 GiB, backed by 1 GiB-aligned host RAM at 5 GiB, with no leaf larger
// than max_leaf (what the CPU's capability MSR allows), in a 4-level EPT.
struct OneGibOfRam {
    FakeFrames frames;
    PageTable<EptFormat, FakeFrames> t =
        PageTable<EptFormat, FakeFrames>::create(frames, arch::X86Paging{4}.geometry()).release_value();
    OneGibOfRam(MemFlags flags, u64 max_leaf) {
        EXPECT_TRUE(t.map(GiB, HostPhysAddr(0x1'4000'0000), GiB, flags, max_leaf).is_ok());
    }
    const u64* pml4() { return static_cast<const u64*>(frames.phys_to_virt(t.root())); }
    const u64* pdpt() { return table(frames, pml4()[0]); }
};
} // namespace

TEST(PageTable, EptMapsOneGibPagesWhereTheCpuHasThem) {
    OneGibOfRam ram(RWX, arch::vmx::ept_max_leaf(arch::vmx::decode_ept_vpid(BROADWELL_EPT_VPID_CAP)));
    EXPECT_EQ(ram.pml4()[0] & 0xFFF, 0x007u); // a table entry: RWX, nothing else
    EXPECT_EQ(ram.pdpt()[1], 0x1'4000'00B7ull); // GPA[38:30] = 1: one PDPTE with RWX, WB, bit 7
    EXPECT_EQ(ram.t.query(GiB + 0x1234).value().size, GiB);
    EXPECT_EQ(ram.t.query(GiB + 0x1234).value().at(GiB + 0x1234), HostPhysAddr(0x1'4000'1234));
}

TEST(PageTable, EptUsesTwoMibPagesWithoutOneGibSupport) {
    OneGibOfRam ram(RW, arch::vmx::ept_max_leaf(arch::vmx::decode_ept_vpid(SILVERMONT_EPT_VPID_CAP)));
    EXPECT_EQ(ram.t.query(GiB).value().size, 2 * MiB);
    const u64* pd = table(ram.frames, ram.pdpt()[1]);
    EXPECT_EQ(pd[0], 0x1'4000'00B3ull);
    EXPECT_EQ(pd[511], 0x1'7FE0'00B3ull); // the last 2 MiB of the GiB
}

TEST(PageTable, EptSplitsAndUnmapsThroughTheGenericWalker) {
    using F = EptFormat;
    OneGibOfRam ram(RWX, GiB);
    auto& t = ram.t;
    RecordingTlb tlb;
    // Read-only one page in the middle: the 1 GiB page splits into 2 MiB pages, the one holding
    // the page into 4 KiB pages; the translation of everything else is unchanged.
    const u64 page = GiB + 0x20'3000;
    ASSERT_TRUE(t.protect(page, 0x1000, MemFlags::Read, tlb).is_ok());
    const u64* pdpt = ram.pdpt();
    EXPECT_TRUE(F::is_table(pdpt[1], 2));
    const u64* pd = table(ram.frames, pdpt[1]);
    EXPECT_EQ(pd[0], 0x1'4000'00B7ull); // untouched 2 MiB pages keep RWX
    EXPECT_TRUE(F::is_table(pd[1], 3));
    const u64* pt = table(ram.frames, pd[1]);
    EXPECT_EQ(pt[3], 0x1'4020'3031ull); // R, WB, no bit 7 at the page level
    EXPECT_EQ(pt[2], 0x1'4020'2037ull);
    EXPECT_EQ(t.query(page).value().flags, MemFlags::Read);
    EXPECT_EQ(t.query(page + 0x1000).value().flags, RWX);
    EXPECT_FALSE(tlb.calls.empty()); // weakening a mapping invalidates
    // A device page punched into RAM: unmap it, map it UC.
    tlb.calls.clear();
    ASSERT_TRUE(t.unmap(page, 0x1000, tlb).is_ok());
    EXPECT_EQ(pt[3], 0u);
    EXPECT_EQ(t.query(page).error(), Error::NotMapped);
    ASSERT_FALSE(tlb.calls.empty());
    EXPECT_EQ(tlb.calls.back().addr, page);
    ASSERT_TRUE(t.map(page, HostPhysAddr(0xFED0'0000), 0x1000, RW | MemFlags::Device).is_ok());
    EXPECT_EQ(pt[3], 0xFED0'0043ull);
    EXPECT_EQ(t.query(page).value().flags, RW | MemFlags::Device);
}

TEST(PageTable, FiveLevelEptResolvesGpaBits56To48AtThePml5) {
    // With a page-walk length of 5 (EPTP bits 5:3 = 4) the root is an EPT PML5: GPA[56:48] pick its
    // entry, and the tree reaches 2^57 bytes of guest-physical space instead of 2^48.
    using F = EptFormat;
    FakeFrames frames;
    auto t = PageTable<F, FakeFrames>::create(frames, arch::X86Paging{5}.geometry()).release_value();
    EXPECT_EQ(t.limit(), u64(1) << 57);
    const u64 gpa = (u64(3) << 48) | (u64(2) << 39) | GiB | (5 * 2 * MiB); // PML5 3, PML4 2, PDPT 1, PD 5
    ASSERT_TRUE(t.map(gpa, HostPhysAddr(0x1'4000'0000), 2 * MiB, RW, 2 * MiB).is_ok());
    const u64* pml5 = static_cast<const u64*>(frames.phys_to_virt(t.root()));
    for (u32 i = 0; i < 512; ++i) EXPECT_EQ(F::is_valid(pml5[i]), i == 3) << i;
    EXPECT_TRUE(F::is_table(pml5[3], 0));
    const u64* pml4 = table(frames, pml5[3]);
    const u64* pdpt = table(frames, pml4[2]);
    const u64* pd = table(frames, pdpt[1]);
    EXPECT_EQ(pd[5], 0x1'4000'00B3ull); // R W, WB, bit 7: a 2 MiB page at walker level 3
    EXPECT_EQ(t.query(gpa + 0x1234).value().at(gpa + 0x1234), HostPhysAddr(0x1'4000'1234));
    // The same GPA is past a 4-level EPT's reach.
    auto t4 = PageTable<F, FakeFrames>::create(frames, arch::X86Paging{4}.geometry()).release_value();
    EXPECT_EQ(t4.limit(), u64(1) << 48);
    EXPECT_EQ(t4.map(gpa, HostPhysAddr(0x1'4000'0000), 2 * MiB, RW).error(), Error::OutOfRange);
}
