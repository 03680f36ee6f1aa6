// walkupdate: a stage-1 table walk that must write its descriptor (hardware Access-flag update,
// FEAT_HAFDBS with TCR_EL1.HA = 1) while the table lies in RAM the VM may only read.
//
// walkupdate.toml loads this very image a second time, as the "ramdisk", into a read-only 2 MiB
// region at RO_BASE, so g_ro_l2 below has a copy there that the guest cannot write. An L1 entry
// of the guest's own tables points at that copy as a level-2 table whose entry 0 is a valid block
// with AF = 0. A load through it makes the walker set AF, i.e. write to read-only RAM: a stage-2
// permission fault on the stage-1 walk (S1PTW) that needs write permission. cxvisor must answer
// with a defined result: an external abort injected, or at worst the VM stopped. It must never
// map the page readable again and retry forever (the old code did: the walk counted as a read,
// the page was readable, so the fault was "fixed" and came back at once, forever).
// On a CPU without FEAT_HAFDBS the same load takes an Access flag fault at EL1 (no EL2 involved).
#include "rt.hpp"

namespace {
constexpr uint64_t RO_BASE = 0x42000000, IMAGE_BASE = 0x40080000;
constexpr uint64_t D_BLOCK = 1, D_TABLE = 3, D_DEV = 1 << 2, D_NORM = (2 << 2) | (3 << 8), D_AF = 1 << 10,
                   D_PXN = 1ull << 53, D_UXN = 1ull << 54;
constexpr uint64_t GIB = 1ull << 30;
// Level-2 table: entry 0 maps the guest's RAM block at 0x4000_0000 (Normal, AF = 0).
alignas(4096) const uint64_t g_ro_l2[512] = {0x40000000 | D_NORM | D_BLOCK};
alignas(4096) uint64_t g_l1[512];
} // namespace

void guest_main() {
    rt::test_start("walkupdate");
    uint64_t mmfr1;
    asm volatile("mrs %0, id_aa64mmfr1_el1" : "=r"(mmfr1));
    const unsigned hafdbs = unsigned(mmfr1 & 0xF);
    const uint64_t copy = RO_BASE + (reinterpret_cast<uint64_t>(g_ro_l2) - IMAGE_BASE);
    rt::check(*reinterpret_cast<volatile uint64_t*>(copy) == g_ro_l2[0], "the read-only copy of the table is in place (%lx)",
              copy);
    rt::Probe w = rt::probe_write(copy, 8, 0);
    rt::check(w.taken && rt::is_external_abort(w, copy, true), "the copy is read-only for the guest");

    // Identity map of the low 4 GiB as the runtime's, plus L1[5] -> the read-only level-2 table.
    g_l1[0] = 0x00000000 | D_BLOCK | D_DEV | D_AF | D_PXN | D_UXN;
    g_l1[1] = 0x40000000 | D_BLOCK | D_NORM | D_AF;
    g_l1[2] = 0x80000000 | D_BLOCK | D_DEV | D_AF | D_PXN | D_UXN;
    g_l1[3] = 0xC0000000 | D_BLOCK | D_DEV | D_AF | D_PXN | D_UXN;
    g_l1[5] = copy | D_TABLE;
    // TCR_EL1 as the runtime's (start.S), plus HA (bit 39) where the CPU has FEAT_HAFDBS.
    const uint64_t tcr = 25 | (1 << 8) | (1 << 10) | (3 << 12) | (1 << 23) | (2ull << 32) | (hafdbs ? 1ull << 39 : 0);
    asm volatile("dsb ish\n msr ttbr0_el1, %0\n msr tcr_el1, %1\n isb\n tlbi vmalle1\n dsb nsh\n isb" ::"r"(g_l1),
                 "r"(tcr)
                 : "memory");
    rt::printf("HAFDBS %u: loading through a block descriptor with AF = 0 in read-only RAM at %lx\n", hafdbs, copy);
    rt::Probe p = rt::probe_read(5 * GIB, 8);
    const unsigned dfsc = rt::esr_dfsc(p.esr);
    rt::printf("load: %s, ESR %lx (EC %x DFSC %x)\n", p.taken ? "exception" : "no exception", p.esr, rt::esr_ec(p.esr), dfsc);
    if (hafdbs)
        rt::check(p.taken && rt::esr_ec(p.esr) == rt::EC_DABT_CUR && dfsc == rt::DFSC_SEA,
                  "hardware AF update into read-only RAM -> external abort");
    else
        rt::check(p.taken && rt::esr_ec(p.esr) == rt::EC_DABT_CUR && (dfsc & 0x3C) == 0x08,
                  "no FEAT_HAFDBS: Access flag fault at EL1");
    rt::check(*reinterpret_cast<volatile uint64_t*>(copy) == g_ro_l2[0], "the read-only table is unchanged");
}
