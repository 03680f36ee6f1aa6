// riscv64 G-stage (guest-physical -> host-physical) translation formats Sv39x4 and Sv48x4, and the
// hgatp value that goes with them. Pure constexpr bit functions: the host unit tests check every
// encoding (tests/unit/addrspace/format_test.cpp).
// RISC-V Privileged Spec 20211203:
//   4.3.1 "Addressing and Memory Protection" (PTE fields, R/W/X encodings; Sv39/Sv48 in 4.4/4.5
//   keep them and only widen the PPN), 4.3.2 "Virtual Address Translation Process" (A/D),
//   8.2.10 "Hypervisor Guest Address Translation and Protection Register (hgatp)",
//   8.5.1 "Guest Physical Address Translation" (the x4 variants: 2 extra GPA bits at the root,
//   16 KiB root aligned to 16 KiB; every G-stage access is checked as a U-mode access).
#pragma once
#include "mmu_format.hpp" // SvPte: the PTE layout shared with the host's own Sv39 tables

namespace arch {

// Named GStage* (not the generic Stage2*) so that one host test binary can include every ISA's
// format; arch_stage2.hpp binds arch::Stage2Format to it.
// Levels are numbered as the generic walker numbers them (mmu_format.hpp): level 3 holds 4 KiB
// pages, level 2 2 MiB megapages, level 1 1 GiB gigapages (SvPte::block_allowed; a 512 GiB
// Sv48x4 root leaf is never useful for a VM), level 0 the Sv48x4 root. One format serves both
// modes; only the geometry (root level) differs.
struct GStageFormat : SvPte<GStageFormat> {
    // RSW[9:8] belongs to the supervisor's software (4.3.1); cxvisor keeps in it what the
    // hardware encoding cannot say, so that flags() reports exactly what was mapped:
    static constexpr u64 sw_device = bit(8);   // mapped as MemFlags::Device (see leaf_bits)
    static constexpr u64 sw_noaccess = bit(9); // a leaf with no legal R/W/X encoding, kept with V=0

    // Leaf bits. U: G-stage accesses count as U-mode accesses (8.5.1). A and D are set up front:
    // without Svadu a G-stage access that would need A or D set raises a guest-page fault
    // (4.3.2 step 7, 8.5.1), which cxvisor has no reason to take.
    // Two MemFlags sets have no PTE encoding: write without read (XWR = x10 is reserved, 4.3.1
    // Table "Encoding of PTE R/W/X fields") and no permission at all (XWR = 000 means "pointer to
    // the next level"). The hardware gets less than was asked, never more: W is dropped without R,
    // and a leaf left with neither R nor X is written with V=0 (every access faults; the
    // hardware ignores the other bits of an invalid PTE) and sw_noaccess, so the walker still
    // sees a mapping there. flags() decodes what the hardware grants, so a fault on such a leaf is
    // a permission fault, never a "fixed, re-run" loop (AddrSpace::handle_fault).
    // Device memory: the memory type comes from the PMAs of the physical address (3.6) and the
    // Svpbmt PBMT bits are reserved on harts without it (QEMU 7.2 has none), so Device is
    // recorded in sw_device only.
    static constexpr u64 leaf_bits(MemFlags f) {
        u64 e = u | a | d;
        const bool rd = has(f, MemFlags::Read), ex = has(f, MemFlags::Exec);
        if (rd) e |= r;
        if (rd && has(f, MemFlags::Write)) e |= w;
        if (ex) e |= x;
        if (has(f, MemFlags::Device)) e |= sw_device;
        return (rd || ex) ? e | v : e | sw_noaccess;
    }
    // SvPte's leaves are always valid; these may not be (sw_noaccess).
    static constexpr u64 make_block(HostPhysAddr pa, MemFlags f) { return ppn(pa) | leaf_bits(f); }
    static constexpr u64 make_page(HostPhysAddr pa, MemFlags f) { return make_block(pa, f); }
    static constexpr bool is_valid(u64 e) { return (e & (v | sw_noaccess)) != 0; }
    static constexpr bool is_block(u64 e, u32 level) { return level < leaf_level && is_valid(e) && !is_table(e, level); }
    static constexpr MemFlags flags(u64 e) {
        MemFlags f = MemFlags::None;
        if (e & v) {
            if (e & r) f = f | MemFlags::Read;
            if (e & w) f = f | MemFlags::Write;
            if (e & x) f = f | MemFlags::Exec;
        }
        if (e & sw_device) f = f | MemFlags::Device;
        return f;
    }
};
static_assert(PageTableFormat<GStageFormat>);

// Sanity checks (hand-computed; the unit tests repeat them with the field breakdown).
namespace gstage_checks {
constexpr MemFlags rwx = MemFlags::Read | MemFlags::Write | MemFlags::Exec;
// PPN 0x80000 << 10 = 0x2000_0000 | D A U X W R V = 0xdf
static_assert(GStageFormat::make_page(HostPhysAddr(0x8000'0000), rwx) == 0x2000'00df);
static_assert(GStageFormat::make_table(HostPhysAddr(0x8010'0000)) == 0x2004'0001);
static_assert(GStageFormat::is_table(0x2004'0001, 1) && !GStageFormat::is_table(0x2004'0001, 3));
static_assert(GStageFormat::flags(GStageFormat::make_page(HostPhysAddr(0), MemFlags::Write)) == MemFlags::None);
} // namespace gstage_checks

// hgatp.MODE values (8.2.10, table 8.4). Sv57x4 (10) is probed and reported but never used: the
// generic walker has four levels (0-3), and 50 guest-physical bits (Sv48x4) are 1 PiB, far beyond
// any VM cxvisor builds.
enum class GStageMode : u32 { Sv39x4 = 8, Sv48x4 = 9 };
constexpr u32 HGATP_MODE_SV57X4 = 10;

constexpr const char* gstage_mode_name(GStageMode m) { return m == GStageMode::Sv48x4 ? "Sv48x4" : "Sv39x4"; }

// What the boot hart's hgatp kept when each MODE was written (8.2.10: MODE is WARL, "a write to
// hgatp with an unsupported MODE value is not ignored as it is for satp. Instead, the fields of
// hgatp are WARL in the normal way"), and the widest satp mode the harts translate, as
// virtual-address bits (39/48/57): measured on the boot hart (mmu.hpp satp_probe_va_bits: an
// unsupported satp MODE write has no effect, 4.1.11), narrowed by the host DT's mmu-type where it
// states one (riscv/cpus.yaml: "the largest MMU address translation mode supported").
struct GStageProbe {
    bool keeps_sv39x4 = false;
    bool keeps_sv48x4 = false;
    bool keeps_sv57x4 = false;
    u32 va_bits = 0;
};

// The G-stage mode cxvisor uses (`ok` false when there is none it can use): the widest mode that
// both the hgatp read-back and the hart's satp modes allow, i.e. the largest guest-physical space
// (Sv48x4: 2^50 bytes; Sv39x4: 2^41) at the price of one more level per G-stage walk on a TLB miss.
// Both are needed: QEMU 7.2 reads back every hgatp MODE value 0-15 as written (measured,
// /work/shared/riscv-notes.md section 1), so the read-back alone would claim anything there, and
// a hart that translates at most Sv39 has no reason to walk Sv48x4 tables. Sv39 is the least an
// RV64 hart with the H extension translates (chapter 8 introduction), so Sv39x4 needs only the
// read-back.
struct GStageChoice {
    GStageMode mode;
    bool ok;
};
constexpr GStageChoice choose_gstage_mode(const GStageProbe& p) {
    if (p.keeps_sv48x4 && p.va_bits >= 48) return {GStageMode::Sv48x4, true};
    return {GStageMode::Sv39x4, p.keeps_sv39x4};
}

// One G-stage configuration.
struct GStageConfig {
    GStageMode mode;
    u32 gpa_bits;     // 41 (Sv39x4) or 50 (Sv48x4): the x4 root resolves 2 more bits than Sv39/Sv48
    u32 start_level;  // 1 for Sv39x4 (three levels), 0 for Sv48x4 (four)
    u32 root_entries; // 2048: 16 KiB root (8.5.1)
    u64 root_bytes;   // 16 KiB, which is also the alignment hgatp.PPN needs
    constexpr TableGeometry geometry() const { return {start_level, root_entries}; }
    // hgatp = MODE[63:60] | VMID[57:44] | PPN[43:0] of the root (8.2.10). vmid must fit the
    // hart's VMIDLEN (at most 14 bits); the caller passes 0 where it does not.
    constexpr u64 hgatp(HostPhysAddr root, u64 vmid) const {
        return u64(mode) << 60 | (vmid & 0x3fff) << 44 | ((root.value() >> 12) & ((u64(1) << 44) - 1));
    }
};

constexpr GStageConfig gstage_config(GStageMode mode) {
    return mode == GStageMode::Sv48x4 ? GStageConfig{mode, 50, 0, 2048, 16384} : GStageConfig{mode, 41, 1, 2048, 16384};
}
static_assert(gstage_config(GStageMode::Sv39x4).hgatp(HostPhysAddr(0x8020'4000), 5) == 0x8000'5000'0008'0204);

} // namespace arch
