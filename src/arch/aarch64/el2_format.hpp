// aarch64 EL2 stage-1 translation format (non-VHE EL2 regime: one VA range through TTBR0_EL2, one
// privilege level) plus the MAIR_EL2 and TCR_EL2 values that go with it, so the hypervisor maps its
// own memory with the same walker as guest memory. Arm ARM DDI0487 D8.3 "Translation table
// descriptor formats", D8.4 "Memory access control", D19 MAIR_EL2 / TCR_EL2.
#pragma once
#include "arch/aarch64/stage2_format.hpp"

namespace arch {

// MAIR_EL2 (D8 "Memory region attributes", MAIR_EL2.Attr<n> fields):
//   Attr0 = 0x04  Device-nGnRE                        (AttrIndx 0: MMIO)
//   Attr1 = 0xff  Normal, Outer and Inner Write-Back Non-transient, Read- and Write-Allocate
//                 (AttrIndx 1: RAM)
inline constexpr u64 mair_device_ngnre = 0x04;
inline constexpr u64 mair_normal_wb = 0xff;
constexpr u64 mair_el2_value() { return mair_device_ngnre << 0 | mair_normal_wb << 8; }
static_assert(mair_el2_value() == 0xff04);

struct El2Format : Vmsa4k<El2Format> {
    static constexpr u64 attr_index_mask = u64(0b111) << 2; // AttrIndx[4:2] into MAIR_EL2
    static constexpr u64 attr_device = u64(0) << 2;
    static constexpr u64 attr_normal = u64(1) << 2;
    static constexpr u64 ap_res1 = bit(6);  // AP[1]: RES1 in a regime with one privilege level
    static constexpr u64 ap_ro = bit(7);    // AP[2]: read-only (EL2 cannot express "no access")
    static constexpr u64 xn = bit(54);      // XN: with one privilege level, bit 54 is XN, bit 53 RES0

    // Read is implied: every valid EL2 mapping is readable.
    static constexpr u64 leaf_attrs(MemFlags f) {
        u64 d = af | sh_inner | ap_res1 | (has(f, MemFlags::Device) ? attr_device : attr_normal);
        if (!has(f, MemFlags::Write)) d |= ap_ro;
        if (!has(f, MemFlags::Exec)) d |= xn;
        return d;
    }
    static constexpr MemFlags flags(u64 d) {
        MemFlags f = MemFlags::Read;
        if (!(d & ap_ro)) f = f | MemFlags::Write;
        if (!(d & xn)) f = f | MemFlags::Exec;
        if ((d & attr_index_mask) == attr_device) f = f | MemFlags::Device;
        return f;
    }
};
static_assert(PageTableFormat<El2Format>);

namespace el2_checks {
static_assert(El2Format::make_page(HostPhysAddr(0x4020'0000), MemFlags::Read | MemFlags::Write) == 0x0040'0000'4020'0747);
static_assert(El2Format::make_page(HostPhysAddr(0x4020'0000), MemFlags::Read | MemFlags::Exec) == 0x4020'07c7);
static_assert(El2Format::make_block(HostPhysAddr(0x0800'0000), MemFlags::Read | MemFlags::Write | MemFlags::Device) ==
              0x0040'0000'0800'0741);
static_assert(El2Format::flags(El2Format::make_page(HostPhysAddr(0), MemFlags::Write)) == (MemFlags::Read | MemFlags::Write));
} // namespace el2_checks

// EL2 translation setup derived from ID_AA64MMFR0_EL1.PARange. The hypervisor maps RAM and devices
// at VA == PA, so the VA range is the PA range (capped at 48 bits). Stage 1 has no concatenation:
// the start level follows from T0SZ (4 KiB granule: 40..48 bits level 0, 31..39 bits level 1).
struct El2Config {
    u32 va_bits;
    u32 start_level;
    u32 root_entries;
    u64 tcr; // TCR_EL2 with HCR_EL2.E2H = 0
    constexpr TableGeometry geometry() const { return {start_level, root_entries}; }
};
constexpr El2Config el2_config(u32 parange) {
    const u32 ps = parange < 5 ? parange : 5;
    const u32 va = parange_bits(ps);
    const u32 start = va <= 39 ? 1 : 0;
    const u64 tcr = u64(64 - va) << 0 // T0SZ[5:0]
                  | u64(0b01) << 8    // IRGN0: table walks Inner WB RA WA
                  | u64(0b01) << 10   // ORGN0: table walks Outer WB RA WA
                  | u64(0b11) << 12   // SH0: Inner Shareable
                  | u64(0b00) << 14   // TG0: 4 KiB granule
                  | u64(ps) << 16     // PS[18:16]: physical address size
                  | bit(23) | bit(31); // RES1
    return {va, start, 1u << (va - (12 + 9 * (3 - start))), tcr};
}
constexpr u64 tcr_el2_value(u32 parange) { return el2_config(parange).tcr; }
static_assert(tcr_el2_value(0b0100) == 0x8084'3514);

} // namespace arch
