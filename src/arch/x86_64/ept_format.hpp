// Intel's extended page tables (EPT) in the generic PageTableFormat shape: the stage-2 format of the
// VMX backend, as NptFormat (page_format.hpp) is SVM's. Intel 64 and IA-32 Architectures Software
// Developer's Manual vol. 3C, Order Number 326019-067 (May 2018; the section numbers below are that
// revision's, later revisions renumber the VMX chapters): 28.2.2 "EPT Translation Mechanism" (the
// entry formats, Tables 28-1 to 28-6), 28.2.3.1 "EPT Misconfigurations", 28.2.6 "EPT and Memory
// Typing", 24.6.11 "Extended-Page-Table Pointer (EPTP)". Pure constexpr: the host unit tests check
// the encodings beside the other formats (tests/unit/addrspace/x86_vmx_ept_test.cpp).
//
// Levels as the generic walker numbers them, like the long-mode formats: 0 the EPT PML5 (GPA[56:48],
// only with a 5-level walk), 1 the EPT PML4 (GPA[47:39]), 2 the EPT PDPT, 3 the EPT page directory,
// 4 the EPT page table (4 KiB pages); a 4-level EPT is rooted at level 1 (X86Paging::geometry, the
// EPTP's page-walk length: vmx/caps.hpp ept_levels). An EPT PML5 entry has the PML4 entry's layout
// (later SDM revisions, "EPT Translation Mechanism"). Bit 7 of a level-2 entry maps a 1 GiB page,
// of a level-3 entry a 2 MiB page. Whether the CPU has those large pages is
// IA32_VMX_EPT_VPID_CAP bits 17 and 16 (appendix A.10), known only at run time: the format allows
// both (block_allowed), and the backend's Stage2Tlb gives the walker the largest leaf the CPU takes
// through max_leaf() (tlb.hpp stage2_max_leaf; vmx/caps.hpp ept_max_leaf).
#pragma once
#include "addrspace/page_table_format.hpp"

namespace arch {

struct EptFormat {
    static constexpr u32 page_shift = 12;
    static constexpr u32 bits_per_level = 9;
    static constexpr u32 leaf_level = 4;

    // 28.2.2, Tables 28-1 to 28-6: bits 2:0 read, write, execute access (execute for supervisor-mode
    // linear addresses only if mode-based execute control is on, which cxvisor leaves off); in a
    // leaf, bits 5:3 the EPT memory type and bit 6 "ignore PAT"; bit 7 a large page (levels 2 and
    // 3); bits 8 and 9 accessed and dirty, written by the CPU only when the EPTP enables them
    // (28.2.4); bits 51:12 the address (MAXPHYADDR at most 52); bit 11 and bits 62:52 are ignored.
    static constexpr u64 r = bit(0), w = bit(1), x = bit(2), ipat = bit(6), large = bit(7), accessed = bit(8),
                         dirty = bit(9);
    static constexpr u64 rwx = r | w | x;
    static constexpr u64 mt_shift = 3, mt_mask = u64(7) << mt_shift;
    // 28.2.6.2 / 11.3 memory types as EPT encodes them (2, 3 and 7 are reserved: misconfiguration).
    static constexpr u64 MT_UC = 0, MT_WB = 6;
    static constexpr u64 addr_mask = 0x000F'FFFF'FFFF'F000ull;
    // "Mapped, no access": an entry with bits 2:0 clear is not present and the CPU ignores every
    // other bit (28.2.2), so the walker's record of such a mapping lives in ignored bit 11.
    static constexpr u64 sw_noaccess = bit(11);

    static constexpr bool block_allowed(u32 level) { return level == 2 || level == 3; }

    // Tables grant everything: the CPU takes the intersection of the rights of every level
    // (28.2.3.2 "EPT Violations": an access is allowed only if each entry on the walk allows it), so
    // the leaf decides. Bits 7:3 of a table entry are reserved (a misconfiguration if set).
    static constexpr u64 make_table(HostPhysAddr pa) { return (pa.value() & addr_mask) | rwx; }

    // A leaf. Rights the format cannot express are granted less, never more: write without read is
    // a misconfiguration (28.2.3.1: bits 2:0 = 010b or 110b), and execute-only exists only where
    // IA32_VMX_EPT_VPID_CAP bit 0 says so, which a constexpr format cannot know; so a mapping
    // without Read is "no access" (as NptFormat does). RAM is write-back with ignore-PAT clear, so
    // the guest's own PAT still combines with it (28.2.6.2: the EPT type takes the MTRR's place,
    // Table 11-7) as it would on bare metal. Device windows are uncacheable with ignore-PAT set: the
    // guest's PAT could otherwise make a UC window write-combining (Table 11-7: UC with PAT WC gives
    // WC). Accessed and dirty stay clear: they mean something only with EPTP bit 6 (ept_pointer).
    static constexpr u64 leaf_attrs(MemFlags f) {
        if (!has(f, MemFlags::Read)) return sw_noaccess;
        u64 e = r;
        if (has(f, MemFlags::Write)) e |= w;
        if (has(f, MemFlags::Exec)) e |= x;
        e |= has(f, MemFlags::Device) ? (MT_UC << mt_shift) | ipat : MT_WB << mt_shift;
        return e;
    }
    static constexpr u64 make_page(HostPhysAddr pa, MemFlags f) { return (pa.value() & addr_mask) | leaf_attrs(f); }
    // Bit 7 marks the large page; a "no access" block is not present and carries no bit 7, so
    // is_block() finds it by the software bit.
    static constexpr u64 make_block(HostPhysAddr pa, MemFlags f) {
        const u64 e = make_page(pa, f);
        return e & rwx ? e | large : e;
    }

    static constexpr bool is_present(u64 e) { return (e & rwx) != 0; }
    static constexpr bool is_valid(u64 e) { return is_present(e) || (e & sw_noaccess) != 0; }
    static constexpr bool is_table(u64 e, u32 level) { return level < leaf_level && is_present(e) && !(e & large); }
    static constexpr bool is_block(u64 e, u32 level) { return level < leaf_level && is_valid(e) && !is_table(e, level); }
    static constexpr HostPhysAddr address(u64 e) { return HostPhysAddr(e & addr_mask); }
    static constexpr MemFlags flags(u64 e) {
        if (!is_present(e)) return MemFlags::None;
        MemFlags f = MemFlags::None;
        if (e & r) f = f | MemFlags::Read;
        if (e & w) f = f | MemFlags::Write;
        if (e & x) f = f | MemFlags::Exec;
        if (((e & mt_mask) >> mt_shift) == MT_UC) f = f | MemFlags::Device;
        return f;
    }
};
static_assert(PageTableFormat<EptFormat>);

// The encodings checked against the SDM tables at compile time as well (the unit tests walk them
// through the generic PageTable).
static_assert(EptFormat::make_table(HostPhysAddr(0x1234'5000)) == 0x1234'5007);
static_assert(EptFormat::make_page(HostPhysAddr(0x10'0000), MemFlags::Read | MemFlags::Write | MemFlags::Exec) ==
              0x10'0037); // RWX, WB (6 << 3)
static_assert(EptFormat::make_block(HostPhysAddr(0x4000'0000), MemFlags::Read | MemFlags::Write) == 0x4000'00B3);
static_assert(EptFormat::make_page(HostPhysAddr(0xFEE0'0000), MemFlags::Read | MemFlags::Write | MemFlags::Device) ==
              0xFEE0'0043); // RW, UC, ignore PAT
static_assert(EptFormat::make_page(HostPhysAddr(0x1000), MemFlags::Write) == 0x1800); // no write without read

// EPTP (24.6.11, Table 24-8): bits 2:0 the memory type the CPU uses for the EPT paging structures
// (28.2.6.1), bits 5:3 the page-walk length minus one, bit 6 "enable accessed and dirty flags",
// bits 51:12 the root's address (the EPT PML4's, or the PML5's with a walk length of 5). Which memory types and walk lengths a CPU accepts is its
// IA32_VMX_EPT_VPID_CAP (vmx/caps.hpp ept_pointer checks them).
namespace eptp {
inline constexpr u64 MT_UC = 0, MT_WB = 6;
inline constexpr u64 walk_length(u32 levels) { return u64(levels - 1) << 3; }
inline constexpr u64 AD_ENABLE = bit(6);
inline constexpr u64 encode(HostPhysAddr root, u64 mt, u32 levels, bool ad) {
    return (root.value() & EptFormat::addr_mask) | mt | walk_length(levels) | (ad ? AD_ENABLE : 0);
}
static_assert(encode(HostPhysAddr(0x8'0000), MT_WB, 4, false) == 0x8'001E);
static_assert(encode(HostPhysAddr(0x8'0000), MT_WB, 5, false) == 0x8'0026); // walk length 5 - 1 = 4 in bits 5:3
} // namespace eptp

} // namespace arch
