// RISC-V page-table entries (RISC-V Privileged Spec 20211203, 4.4.1 "Addressing and Memory
// Protection" for Sv39, 4.5 Sv48; the PTE layout of figure 4.18) in the generic PageTableFormat
// shape, and cxvisor's own HS-mode stage-1 format. Pure constexpr: the host unit tests check the
// encodings (tests/unit/addrspace/format_test.cpp).
//
// Levels are numbered as the generic walker does (leaf_level 3 holds 4 KiB pages): Sv39's root
// resolves VA[38:30] at level 1, Sv48's VA[47:39] at level 0. A leaf may sit at any level
// ("superpages", 4.4.1: megapages at level 2, gigapages at level 1); cxvisor uses 2 MiB and 1 GiB.
#pragma once
#include "addrspace/page_table_format.hpp"

namespace arch {

template <typename Self> struct SvPte {
    static constexpr u32 page_shift = 12;
    static constexpr u32 bits_per_level = 9;
    static constexpr u32 leaf_level = 3;

    static constexpr u64 v = bit(0), r = bit(1), w = bit(2), x = bit(3), u = bit(4), g = bit(5), a = bit(6),
                         d = bit(7);
    static constexpr u64 rwx = r | w | x;
    static constexpr u32 ppn_shift = 10;                       // PPN[...] from bit 10
    static constexpr u64 ppn_mask = ((1ull << 44) - 1) << 10;  // PPN: bits 53:10 (56-bit PAs)

    static constexpr bool block_allowed(u32 level) { return level == 1 || level == 2; }
    static constexpr u64 ppn(HostPhysAddr pa) { return (pa.value() >> page_shift) << ppn_shift & ppn_mask; }
    // A pointer to the next level: V = 1 with R = W = X = 0 (4.4.1); A, D, U are reserved there
    // and stay 0.
    static constexpr u64 make_table(HostPhysAddr pa) { return ppn(pa) | v; }
    static constexpr bool is_valid(u64 desc) { return (desc & v) != 0; }
    static constexpr bool is_table(u64 desc, u32 level) { return level < leaf_level && (desc & v) && !(desc & rwx); }
    static constexpr bool is_block(u64 desc, u32 level) { return level < leaf_level && (desc & v) && (desc & rwx); }
    static constexpr HostPhysAddr address(u64 desc) { return HostPhysAddr((desc & ppn_mask) >> ppn_shift << page_shift); }
    static constexpr u64 make_block(HostPhysAddr pa, MemFlags f) { return ppn(pa) | Self::leaf_attrs(f) | v; }
    static constexpr u64 make_page(HostPhysAddr pa, MemFlags f) { return make_block(pa, f); }
};

// cxvisor's own HS-mode translation (satp, Sv39). A and D are set in every leaf: an implementation
// may fault instead of setting them in hardware (4.4.1, "Svade"), and cxvisor never uses them.
// W without R is reserved (4.4.1 table 4.5), so every valid mapping is readable; W^X is kept by
// the callers (text RX, rodata R, everything else RW). Memory types come from the platform's PMAs
// (3.6), not from the PTE (no Svpbmt on QEMU 7.2): MemFlags::Device is kept in RSW bit 8, which
// the hardware ignores (4.4.1: "reserved for use by supervisor software"), so that flags() gives
// back what was mapped.
struct HostSv39Format : SvPte<HostSv39Format> {
    static constexpr u64 rsw_device = bit(8);

    static constexpr u64 leaf_attrs(MemFlags f) {
        u64 e = r | a | d;
        if (has(f, MemFlags::Write)) e |= w;
        if (has(f, MemFlags::Exec)) e |= x;
        if (has(f, MemFlags::Device)) e |= rsw_device;
        return e;
    }
    static constexpr MemFlags flags(u64 desc) {
        MemFlags f = MemFlags::None;
        if (desc & r) f = f | MemFlags::Read;
        if (desc & w) f = f | MemFlags::Write;
        if (desc & x) f = f | MemFlags::Exec;
        if (desc & rsw_device) f = f | MemFlags::Device;
        return f;
    }

    // Sv39 (4.4): three levels from level 1, 512 root entries; VAs are 39 bits, so an identity map
    // reaches physical addresses below 2^38 (bits 63:39 must equal bit 38).
    static constexpr TableGeometry geometry() { return {1, 512}; }
    static constexpr u64 va_limit = 1ull << 38;
    // satp (4.1.11): MODE [63:60] = 8 (Sv39), ASID [59:44] = 0, PPN [43:0] of the root.
    static constexpr u64 satp(HostPhysAddr root) { return 8ull << 60 | root.value() >> page_shift; }
};
static_assert(PageTableFormat<HostSv39Format>);

namespace sv39_checks {
static_assert(HostSv39Format::make_page(HostPhysAddr(0x8020'0000), MemFlags::Read | MemFlags::Exec) == 0x2008'00cb);
static_assert(HostSv39Format::make_block(HostPhysAddr(0x1000'0000), MemFlags::Read | MemFlags::Write | MemFlags::Device) ==
              0x0400'01c7);
static_assert(HostSv39Format::make_table(HostPhysAddr(0x8040'1000)) == 0x2010'0401);
static_assert(HostSv39Format::satp(HostPhysAddr(0x8040'0000)) == 0x8000'0000'0008'0400);
} // namespace sv39_checks

} // namespace arch
