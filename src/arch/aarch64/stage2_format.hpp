// aarch64 stage-2 translation format (VMSAv8-64, 4 KiB granule) and the VTCR_EL2 value that goes
// with it. Pure constexpr bit functions: the host unit tests check every encoding.
// Arm ARM DDI0487, D8 "The AArch64 Virtual Memory System Architecture":
//   D8.3 "Translation table descriptor formats", D8.2 "Translation process" (initial lookup level,
//   concatenated stage-2 tables), D19 VTCR_EL2 / ID_AA64MMFR0_EL1.
#pragma once
#include "addrspace/page_table_format.hpp"

namespace arch {

// The VMSAv8-64 descriptor skeleton shared by stage 1 and stage 2 with the 4 KiB granule (D8.3):
// bits[1:0] = 0b11 table (levels 0-2) or page (level 3), 0b01 block (levels 1-2), bit 0 clear invalid.
// Each format (Self) supplies only its leaf attribute bits, leaf_attrs(MemFlags).
template <typename Self> struct Vmsa4k {
    static constexpr u32 page_shift = 12;
    static constexpr u32 bits_per_level = 9;
    static constexpr u32 leaf_level = 3;

    static constexpr u64 desc_valid = bit(0);
    static constexpr u64 desc_table = bit(1);               // table or page; clear: block
    static constexpr u64 oa_mask = 0x0000'ffff'ffff'f000;   // OA[47:12] (no FEAT_LPA2: OAs <= 48 bits)
    static constexpr u64 sh_inner = u64(0b11) << 8;          // SH[9:8] Inner Shareable
    static constexpr u64 af = bit(10);                       // AF: set, so no Access flag faults

    // 1 GiB blocks at level 1, 2 MiB at level 2; a level-0 block would need FEAT_LPA2.
    static constexpr bool block_allowed(u32 level) { return level == 1 || level == 2; }
    // Stage-2 table descriptors have no attribute bits; stage-1 NSTable/APTable/XNTable stay 0.
    static constexpr u64 make_table(HostPhysAddr pa) { return (pa.value() & oa_mask) | desc_table | desc_valid; }
    static constexpr bool is_valid(u64 d) { return (d & desc_valid) != 0; }
    static constexpr bool is_table(u64 d, u32 level) { return level < leaf_level && (d & 3) == 3; }
    static constexpr bool is_block(u64 d, u32 level) { return level < leaf_level && (d & 3) == 1; }
    static constexpr HostPhysAddr address(u64 d) { return HostPhysAddr(d & oa_mask); }
    static constexpr u64 make_block(HostPhysAddr pa, MemFlags f) {
        return (pa.value() & oa_mask) | Self::leaf_attrs(f) | desc_valid;
    }
    static constexpr u64 make_page(HostPhysAddr pa, MemFlags f) { return make_block(pa, f) | desc_table; }
};

// Stage-2 block and page descriptors (D8.3, "Stage 2 ... attribute fields"), with HCR_EL2.FWB = 0.
struct Stage2Format : Vmsa4k<Stage2Format> {
    static constexpr u64 memattr_mask = u64(0b1111) << 2;   // MemAttr[5:2]
    static constexpr u64 memattr_normal_wb = u64(0b1111) << 2; // [5:4] outer WB, [3:2] inner WB
    static constexpr u64 memattr_device = u64(0b0001) << 2; // [5:4] 0b00 Device, [3:2] 0b01 nGnRE
    static constexpr u64 s2ap_read = bit(6);                // S2AP[0]: EL1/EL0 may read
    static constexpr u64 s2ap_write = bit(7);               // S2AP[1]: EL1/EL0 may write
    static constexpr u64 xn = bit(54);                      // XN[1:0] = 0b10: no execution at EL1 or EL0
                                                            // (and the plain XN bit without FEAT_XNX)
    static constexpr u64 leaf_attrs(MemFlags f) {
        u64 d = af | sh_inner | (has(f, MemFlags::Device) ? memattr_device : memattr_normal_wb);
        if (has(f, MemFlags::Read)) d |= s2ap_read;
        if (has(f, MemFlags::Write)) d |= s2ap_write;
        if (!has(f, MemFlags::Exec)) d |= xn;
        return d;
    }
    static constexpr MemFlags flags(u64 d) {
        MemFlags f = MemFlags::None;
        if (d & s2ap_read) f = f | MemFlags::Read;
        if (d & s2ap_write) f = f | MemFlags::Write;
        if (!(d & xn)) f = f | MemFlags::Exec;
        if ((d & memattr_mask) == memattr_device) f = f | MemFlags::Device;
        return f;
    }
};
static_assert(PageTableFormat<Stage2Format>);

// Sanity checks (hand-computed; the unit tests repeat them with the field breakdown).
namespace stage2_checks {
constexpr MemFlags rwx = MemFlags::Read | MemFlags::Write | MemFlags::Exec;
static_assert(Stage2Format::make_page(HostPhysAddr(0x4000'0000), rwx) == 0x4000'07ff);
static_assert(Stage2Format::make_block(HostPhysAddr(0x4020'0000), MemFlags::Read) == 0x0040'0000'4020'077d);
static_assert(Stage2Format::make_block(HostPhysAddr(0x0900'0000), MemFlags::Read | MemFlags::Write | MemFlags::Device) ==
              0x0040'0000'0900'07c5);
static_assert(Stage2Format::make_table(HostPhysAddr(0x4010'0000)) == 0x4010'0003);
static_assert(Stage2Format::flags(Stage2Format::make_page(HostPhysAddr(0), rwx | MemFlags::Device)) == (rwx | MemFlags::Device));
static_assert(Stage2Format::is_block(Stage2Format::make_block(HostPhysAddr(0), rwx), 2));
static_assert(!Stage2Format::is_table(Stage2Format::make_page(HostPhysAddr(0), rwx), 3));
} // namespace stage2_checks

// Output-address bits encoded by ID_AA64MMFR0_EL1.PARange, VTCR_EL2.PS and TCR_EL2.PS (same
// encoding). 0b0110 (52 bits) and reserved values give 48: 52-bit OAs with the 4 KiB granule need
// FEAT_LPA2 descriptors, which these formats do not use.
constexpr u32 parange_bits(u32 parange) {
    constexpr u32 bits[] = {32, 36, 40, 42, 44, 48};
    return bits[parange < 5 ? parange : 5];
}

// Stage-2 configuration derived from ID_AA64MMFR0_EL1.PARange (pass the field value).
struct Stage2Config {
    u32 ps;           // PS / PARange encoding used (<= 0b101)
    u32 ipa_bits;     // guest-physical address size = output size, <= 48
    u32 start_level;  // level of the root table
    u32 root_entries; // > 512: that many entries in concatenated 4 KiB tables
    u32 root_tables;  // 4 KiB tables that make up the root
    u64 root_bytes;   // size of the root, which is also its required alignment (VTTBR_EL2.BADDR)
    u64 vtcr;         // VTCR_EL2, VS (16-bit VMID) left 0: arch code ORs it in if it uses one
    constexpr TableGeometry geometry() const { return {start_level, root_entries}; }
};

// The IPA size is the full PA size (capped at 48). The walk starts at the highest level (fewest
// lookups) that can resolve it with at most 16 concatenated tables (D8.2 "concatenated translation
// tables" for the initial stage-2 lookup): a level-2 start resolves 22..34 bits, level 1 31..43,
// level 0 40..48. E.g. 40 bits = level 1 with 2 tables, 44 bits (cortex-a72) = level 0, 32 entries.
constexpr Stage2Config stage2_config(u32 parange) {
    const u32 ps = parange < 5 ? parange : 5;
    const u32 ipa = parange_bits(ps);
    const u32 start = ipa <= 34 ? 2 : ipa <= 43 ? 1 : 0;
    const u32 entries = 1u << (ipa - (12 + 9 * (3 - start)));
    const u32 tables = entries > 512 ? entries / 512 : 1;
    const u64 vtcr = u64(64 - ipa) << 0  // T0SZ[5:0]: IPA size is 2^(64-T0SZ)
                   | u64(2 - start) << 6 // SL0[7:6], 4 KiB granule: 0b00 level 2, 0b01 level 1, 0b10 level 0
                   | u64(0b01) << 8      // IRGN0: table walks Normal Inner WB RA WA
                   | u64(0b01) << 10     // ORGN0: table walks Normal Outer WB RA WA
                   | u64(0b11) << 12     // SH0: Inner Shareable
                   | u64(0b00) << 14     // TG0: 4 KiB granule
                   | u64(ps) << 16       // PS[18:16]: output (PA) size
                   | bit(31);            // RES1
    return {ps, ipa, start, entries, tables, u64(tables) * 4096, vtcr};
}
static_assert(stage2_config(0b0100).vtcr == 0x8004'3594 && stage2_config(0b0100).root_entries == 32);
static_assert(stage2_config(0b0010).start_level == 1 && stage2_config(0b0010).root_tables == 2);

} // namespace arch
