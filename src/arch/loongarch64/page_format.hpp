// The LoongArch page-table format (LoongArch Reference Manual Vol. 1 v1.10, "LA Vol. 1": 5.4
// "Page Table Walking" with LDDIR/LDPTE, 4.2.5.2-3; the entry bits are those of the TLB entry,
// TLBELO0/1 in 7.5.4) in the generic PageTableFormat shape, twice: cxvisor's own translation
// (HostLaFormat) and a VM's guest-physical tables under LVZ (LvzGpaFormat). The two differ only in
// the PLV of a leaf (LaTableFormat's parameter). Pure constexpr: the host unit tests check the
// encodings (tests/unit/addrspace/loongarch_format_test.cpp).
//
// LoongArch has no hardware table walker: a TLB miss runs software, cxvisor's refill handler
// (boot.S cxv_la_tlb_refill), whose LDDIR/LDPTE walk the tree PWCL/PWCH describe. cxvisor
// describes 4 KiB pages and four levels of 512 entries (VA[47:39], [38:30], [29:21], [20:12];
// the generic walker's levels 0..3, level 3 holding pages). A directory entry is the next table's
// physical address and nothing else (LDDIR reads it as a base); a huge page at level 2 (2 MiB) is
// a leaf with the HUGE bit 6 set there, which LDDIR passes on to LDPTE unchanged, its global bit
// moved to bit 12 (HGLOBAL). There is no "valid" bit in a directory entry: an empty entry is 0,
// and LDDIR then reads physical page 0, which cxvisor keeps zero and never hands out
// (host.cpp), so every level of an unmapped address walks to a zero leaf: V = 0, a page-invalid
// exception with the address in BADV.
#pragma once
#include "addrspace/page_table_format.hpp"

namespace arch {

// PlvBits: TLBELO.PLV [3:2] of every leaf. An access is allowed when the accessing privilege level
// is at most PLV (RPLV = 0, 7.5.4).
template <u64 PlvBits> struct LaTableFormat {
    static constexpr u32 page_shift = 12;
    static constexpr u32 bits_per_level = 9;
    static constexpr u32 leaf_level = 3;

    // TLBELO (7.5.4): V valid, D dirty (= writable: a store to D = 0 raises a page-modify
    // exception), PLV [3:2], MAT [5:4] (0 strongly-ordered uncached, 1 coherent cached), G global,
    // PPN [PALEN-1:12], NR no-read, NX no-execute, RPLV restricted PLV. HUGE and HGLOBAL are the
    // directory-level leaf's (5.4). Bit 7 is reserved in TLBELO and free in the table entry
    // (Linux keeps its software "present" there): cxvisor's "mapped, no access" marker.
    static constexpr u64 v = bit(0), d = bit(1), mat_cc = 1ull << 4, g = bit(6), huge = bit(6), sw_noaccess = bit(7),
                         hglobal = bit(12), nr = bit(61), nx = bit(62), rplv = bit(63);
    static constexpr u64 mat_mask = 3ull << 4, plv_mask = 3ull << 2;
    // PALEN is 48 on the LA464 (CPUCFG1.PALEN = 47): PPN bits 47:12.
    static constexpr u64 addr_mask = 0x0000'FFFF'FFFF'F000ull;
    static constexpr u64 block_addr_mask = 0x0000'FFFF'FFE0'0000ull; // 2 MiB: bits 20:12 are zero (bit 12 is HGLOBAL)

    static constexpr bool block_allowed(u32 level) { return level == 2; }
    static constexpr u64 make_table(HostPhysAddr pa) { return pa.value() & addr_mask; }
    static constexpr bool is_valid(u64 e) { return e != 0; }
    static constexpr bool is_table(u64 e, u32 level) { return level < leaf_level && e != 0 && !(e & huge); }
    static constexpr bool is_block(u64 e, u32 level) { return level < leaf_level && (e & huge); }
    static constexpr HostPhysAddr address(u64 e) { return HostPhysAddr(e & (e & huge ? block_addr_mask : addr_mask)); }

    // PLV from the parameter, RPLV = 0. Rights: D for write, NR unless readable,
    // NX unless executable (write-only and execute-only are expressible). No right at all is
    // V = 0 with the software marker, so the walker still sees a mapping. Device memory is MAT 0
    // (strongly-ordered uncached, 2.1.7), the rest coherent cached.
    static constexpr u64 attrs(MemFlags f) {
        if (!has(f, MemFlags::Read) && !has(f, MemFlags::Write) && !has(f, MemFlags::Exec)) return sw_noaccess;
        u64 e = v | PlvBits;
        if (has(f, MemFlags::Write)) e |= d;
        if (!has(f, MemFlags::Read)) e |= nr;
        if (!has(f, MemFlags::Exec)) e |= nx;
        if (!has(f, MemFlags::Device)) e |= mat_cc;
        return e;
    }
    static constexpr u64 make_page(HostPhysAddr pa, MemFlags f) { return (pa.value() & addr_mask) | attrs(f); }
    static constexpr u64 make_block(HostPhysAddr pa, MemFlags f) { return (pa.value() & block_addr_mask) | attrs(f) | huge; }
    static constexpr MemFlags flags(u64 e) {
        if (!(e & v)) return MemFlags::None;
        MemFlags f = MemFlags::None;
        if (!(e & nr)) f = f | MemFlags::Read;
        if (e & d) f = f | MemFlags::Write;
        if (!(e & nx)) f = f | MemFlags::Exec;
        if ((e & mat_mask) == 0) f = f | MemFlags::Device;
        return f;
    }

    // Four levels from the root (PGDL), 512 entries each: 48-bit virtual addresses, of which the
    // lower half (VA[63:47] = 0, PGDL) is the identity map's.
    static constexpr TableGeometry geometry() { return {0, 512}; }
    static constexpr u64 va_limit = 1ull << 47;

    // PWCL/PWCH (7.5.7, 7.5.8) describing this tree to LDDIR/LDPTE: PTbase 12, PTwidth 9, Dir1
    // 21/9, Dir2 30/9, PTEWidth 0 (64-bit entries); Dir3 39/9, Dir4 unused.
    static constexpr u64 pwcl = 12 | (9 << 5) | (21 << 10) | (9 << 15) | (30ull << 20) | (9ull << 25);
    static constexpr u64 pwch = 39 | (9 << 6);
};

// cxvisor's own map: PLV 0, so only cxvisor (PLV0) may access.
using HostLaFormat = LaTableFormat<0>;
static_assert(PageTableFormat<HostLaFormat>);

// A VM's guest-physical (GPA -> HPA) table under LVZ. The LVZ extension has no table format of
// its own: a guest access whose GPA misses in the TLB exits to cxvisor's TLB refill entry with the
// GPA in TLBRBADV (measured on the LVZ QEMU, ../shared/platform-notes.md), and the refill handler
// (boot.S) walks this tree with the same LDDIR/LDPTE as cxvisor's own (same PWCL/PWCH: 4 KiB pages,
// four levels, 2 MiB blocks) and fills a TLB entry tagged with the VM's GID (GTLBC.TGID). The
// translated access is the guest's, at the guest's privilege level, so leaves carry PLV 3 (every
// level may pass, RPLV = 0): the guest's own first stage decides which of its levels may use a
// page. RAM is MAT 1 (coherent cached), a passed-through device MAT 0; an emulated device is no
// entry at all, so the access exits (a zero leaf: page-invalid, Ecode 1/2, BADV = GPA).
using LvzGpaFormat = LaTableFormat<3ull << 2>;
static_assert(PageTableFormat<LvzGpaFormat>);

} // namespace arch
