// The x86-64 long-mode page-table format, 4-level and 5-level (AMD64 Architecture Programmer's
// Manual vol. 2, publication 24593 rev. 3.42: 5.3 "Long-Mode Page Translation" with its 5-level
// paging, 5.4 "Page-Translation-Table Entry Fields"; 15.25 "Nested Paging" for the nested tables;
// Intel SDM vol. 3A, Order Number 253668-078, December 2022: 4.5 "4-Level Paging and 5-Level
// Paging") in the generic PageTableFormat shape: cxvisor's own translation (HostX86Format) and the
// nested page tables a VM runs behind (NptFormat). Pure constexpr: the host unit tests check the
// encodings (tests/unit/addrspace/x86_format_test.cpp).
//
// Levels as the generic walker numbers them: level 0 is the PML5 (VA[56:48]), 1 the PML4
// (VA[47:39]), 2 the PDPT, 3 the page directory, 4 the page table (4 KiB pages). Every level has
// the same entry layout (a PML5 entry is a PML4 entry one level up, SDM 4.5.4), so one format
// serves both depths and only the root level differs (X86Paging::geometry: 5-level paging starts
// at level 0, 4-level at level 1), as riscv64's Sv39x4/Sv48x4 share GStageFormat. A PS = 1 entry
// at level 3 maps 2 MiB (5.3.4); 1 GiB pages (PS at level 2) exist only where CPUID 8000_0001h
// EDX[26] says so, which QEMU's qemu64 model does not: block_allowed() is constexpr, so the
// formats use 2 MiB blocks only.
#pragma once
#include "addrspace/page_table_format.hpp"

namespace arch {

template <typename Self> struct X86Pte {
    static constexpr u32 page_shift = 12;
    static constexpr u32 bits_per_level = 9;
    static constexpr u32 leaf_level = 4;

    // 5.4.1 "Field Definitions".
    static constexpr u64 p = bit(0), rw = bit(1), us = bit(2), pwt = bit(3), pcd = bit(4), a = bit(5), d = bit(6),
                         ps = bit(7), nx = bit(63);
    // Bits 51:12: the next table or the page (MAXPHYADDR 52). A 2 MiB entry keeps PAT in bit 12,
    // which these formats never set (write-back by default, device memory by PCD/PWT): the same
    // mask gives the address of every entry they write.
    static constexpr u64 addr_mask = 0x000F'FFFF'FFFF'F000ull;

    static constexpr bool block_allowed(u32 level) { return level == leaf_level - 1; }
    // Tables carry the loosest rights: the CPU combines the levels' R/W, U/S and NX so that the
    // leaf decides (5.6 "Page-Protection Checks": the most restrictive level wins).
    static constexpr u64 make_table(HostPhysAddr pa) { return (pa.value() & addr_mask) | Self::table_attrs; }
    static constexpr bool is_valid(u64 e) { return (e & (p | Self::sw_noaccess)) != 0; }
    static constexpr bool is_table(u64 e, u32 level) { return level < leaf_level && (e & p) && !(e & ps); }
    static constexpr bool is_block(u64 e, u32 level) { return level < leaf_level && is_valid(e) && !is_table(e, level); }
    static constexpr HostPhysAddr address(u64 e) { return HostPhysAddr(e & addr_mask); }
    static constexpr u64 make_page(HostPhysAddr pa, MemFlags f) { return (pa.value() & addr_mask) | Self::leaf_attrs(f); }
    // At level 3 PS marks the 2 MiB page (5.3.4); a "no access" entry is kept without P and
    // carries no PS, so is_block() finds it by the software bit.
    static constexpr u64 make_block(HostPhysAddr pa, MemFlags f) {
        const u64 e = make_page(pa, f);
        return e & p ? e | ps : e;
    }
    static constexpr MemFlags flags(u64 e) {
        if (!(e & p)) return MemFlags::None;
        MemFlags f = MemFlags::Read; // a present page is readable (there is no "R" bit)
        if (e & rw) f = f | MemFlags::Write;
        if (!(e & nx)) f = f | MemFlags::Exec;
        if (e & pcd) f = f | MemFlags::Device;
        return f;
    }
};

// cxvisor's own translation (CR3): supervisor pages (U/S = 0). A and D are set in every leaf so
// the CPU never writes the tables (5.4.1: it sets them with a locked update otherwise). NX
// (bit 63) needs EFER.NXE, which the boot CPU checks CPUID 8000_0001h EDX[20] for; W^X is the
// callers' (text RX, rodata R, the rest RW + NX). Device windows are uncacheable: PCD = PWT = 1
// selects PAT entry 3, UC, in the power-on PAT (7.8.1 "PAT Indexing"). A mapping with no access
// at all has no encoding with P = 1 (present means readable): it is written without P, as the
// walker's "mapped, no access" entry in available bit 9.
struct HostX86Format : X86Pte<HostX86Format> {
    static constexpr u64 sw_noaccess = bit(9); // "available to software" (5.4.1 AVL)
    static constexpr u64 table_attrs = p | rw;
    static constexpr u64 leaf_attrs(MemFlags f) {
        if (!has(f, MemFlags::Read) && !has(f, MemFlags::Write) && !has(f, MemFlags::Exec)) return sw_noaccess;
        u64 e = p | a | d;
        if (has(f, MemFlags::Write)) e |= rw;
        if (!has(f, MemFlags::Exec)) e |= nx;
        if (has(f, MemFlags::Device)) e |= pcd | pwt;
        return e;
    }
    // CR3 (5.3.2): the root's address, the PML4's or with CR4.LA57 the PML5's; PWT = PCD = 0 (the
    // tables themselves are write-back).
    static constexpr u64 cr3(HostPhysAddr root) { return root.value() & addr_mask; }
};
static_assert(PageTableFormat<HostX86Format>);

// Nested page tables (15.25.5 "Nested Table Walk"): the same long-mode format, walked in the
// host's paging mode at VMRUN. Every nested access is a user access, so every level carries U/S
// (and tables R/W; the leaf restricts). NX is honoured because cxvisor runs with EFER.NXE.
// Rights the format cannot express are granted less, never more: present means readable, so a
// write-only mapping keeps no write (it becomes "no access") and an execute-only one is no access
// too; both are kept without P in software bit 9 so the walker still sees the mapping and flags()
// answers "no access" (a fault there is a permission fault, not a re-run loop). Device memory is
// PCD | PWT (UC), which the CPU combines with the guest's own PAT type (15.25.8 "Combining Memory
// Types"): never more cacheable than UC.
struct NptFormat : X86Pte<NptFormat> {
    static constexpr u64 sw_noaccess = bit(9);
    static constexpr u64 table_attrs = p | rw | us;
    static constexpr u64 leaf_attrs(MemFlags f) {
        if (!has(f, MemFlags::Read)) return sw_noaccess;
        u64 e = p | us | a | d;
        if (has(f, MemFlags::Write)) e |= rw;
        if (!has(f, MemFlags::Exec)) e |= nx;
        if (has(f, MemFlags::Device)) e |= pcd | pwt;
        return e;
    }
    // The VMCB's N_CR3 (offset 0xB0, 15.25.4 "Nested Paging and VMRUN/#VMEXIT") holds the root
    // like CR3 does. The nested walk has as many levels as the host's own paging at VMRUN (15.25.4:
    // the host's CR4 and EFER, CR4.LA57 included, select the nested paging mode), so a VM's nested
    // tables take the host's X86Paging (arch_stage2.hpp): 2^48 or 2^57 bytes of guest-physical space.
    static constexpr u64 ncr3(HostPhysAddr root) { return root.value() & addr_mask; }
};
static_assert(PageTableFormat<NptFormat>);

// The depth of a long-mode tree: 4 levels from the PML4 (48-bit linear addresses) or, with
// CR4.LA57 = 1, 5 from the PML5 (57 bits). CR4.LA57 exists where CPUID 7.0:ECX[16] says so, and
// can change only while paging is off (SDM vol. 3A 2.5 "Control Registers": "This bit cannot be
// modified in IA-32e mode"), so boot.S decides before it turns paging on and every CPU follows the
// boot CPU (they share one CR3 tree).
struct X86Paging {
    u32 levels; // 4 or 5

    // The root level of the generic walker's numbering (0 = PML5, 1 = PML4), 512 entries.
    constexpr TableGeometry geometry() const { return {X86Pte<HostX86Format>::leaf_level + 1 - levels, 512}; }
    // 12 offset bits plus 9 per level: 48 or 57.
    constexpr u32 va_bits() const { return 12 + 9 * levels; }
    // A linear address is canonical when bits 63 down to va_bits() - 1 are all equal (APM 5.3.1
    // "Canonical Address Form"; SDM 4.5.1: bits 63:47 with 4-level paging, 63:56 with 5-level).
    constexpr bool canonical(u64 va) const {
        const u64 top = va >> (va_bits() - 1);
        return top == 0 || top == (~u64(0) >> (va_bits() - 1));
    }
    // The first physical address an identity map cannot reach: VA == PA must be canonical and
    // positive, so the lower half, 2^47 or 2^56.
    constexpr u64 identity_limit() const { return u64(1) << (va_bits() - 1); }
    constexpr const char* name() const { return levels == 5 ? "5-level paging (LA57)" : "4-level paging"; }
};
inline constexpr u64 CR4_LA57 = bit(12); // SDM vol. 3A 2.5, APM vol. 2 3.1.3 "CR4 Register"
// The paging a CPU is in, from its CR4 (long mode is always on in cxvisor).
constexpr X86Paging x86_paging_from_cr4(u64 cr4) { return {cr4 & CR4_LA57 ? 5u : 4u}; }

static_assert(X86Paging{5}.geometry().start_level == 0 && X86Paging{4}.geometry().start_level == 1);
static_assert(X86Paging{4}.canonical(0xFFFF'8000'0000'0000) && !X86Paging{4}.canonical(0x0000'8000'0000'0000));
static_assert(X86Paging{5}.canonical(0x0000'8000'0000'0000) && !X86Paging{5}.canonical(0x0100'0000'0000'0000));

} // namespace arch
