// System register access. Names as in the Arm ARM (DDI0487); registers the assembler may not know
// by name on -march=armv8-a are spelled by encoding (S3_<op1>_C<n>_C<m>_<op2>).
#pragma once
#include "base/types.hpp"

#define read_sysreg(reg)                                                                           \
    ({                                                                                             \
        u64 _v;                                                                                    \
        asm volatile("mrs %0, " #reg : "=r"(_v));                                                  \
        _v;                                                                                        \
    })
#define write_sysreg(reg, v) asm volatile("msr " #reg ", %0" ::"r"(u64(v)) : "memory")

namespace arch {

inline void isb() { asm volatile("isb" ::: "memory"); }
inline void dsb_ish() { asm volatile("dsb ish" ::: "memory"); }
inline void dsb_ishst() { asm volatile("dsb ishst" ::: "memory"); }
inline void dsb_sy() { asm volatile("dsb sy" ::: "memory"); }
inline void wfi() { asm volatile("wfi" ::: "memory"); }
inline void wfe() { asm volatile("wfe" ::: "memory"); }
inline void sev() { asm volatile("sev" ::: "memory"); }
inline void cpu_relax() { asm volatile("yield" ::: "memory"); }

// Runs `op` on the address of each `step`-byte line of [a, end), four lines per loop iteration: a
// 2 MiB block is 32768 cache lines, and under emulation a loop's compare and branch cost as much
// as the maintenance instruction itself.
template <typename Op> inline void each_line(uptr a, uptr end, usize step, Op op) {
    for (; a + 4 * step <= end; a += 4 * step) {
        op(a);
        op(a + step);
        op(a + 2 * step);
        op(a + 3 * step);
    }
    for (; a < end; a += step) op(a);
}
// D7.5.1 (cache maintenance by VA): clean to the point of coherency, so that a guest running with
// its MMU (and so its caches) off sees data the hypervisor wrote through its cacheable mapping.
inline void clean_dcache_range(const void* p, usize size) {
    u64 ctr = read_sysreg(ctr_el0);
    u64 line = 4ull << bits(ctr, 19, 16); // DminLine: log2 words
    each_line(align_down(uptr(p), line), uptr(p) + size, line, [](uptr a) { asm volatile("dc cvac, %0" ::"r"(a) : "memory"); });
    dsb_ish();
}
// Zeroes [p, p + size) of Normal memory, then cleans it to the point of coherency (a guest with
// its caches off reads RAM directly). DC ZVA (DDI0487 K.a, "DC ZVA, Data Cache Zero by VA"; block
// size from DCZID_EL0.BS) zeroes a whole block per instruction, several times fewer than stores,
// where it is allowed (DCZID_EL0.DZP = 0) and the range is block-aligned; DC ZVA to Device memory
// faults, so with the EL2 MMU still off (SCTLR_EL2.M = 0: all accesses are Device) it uses stores.
inline void zero_and_clean(void* p, usize size) {
    const u64 dczid = read_sysreg(dczid_el0);
    const usize block = 4ull << bits(dczid, 3, 0);
    const bool mmu_on = read_sysreg(sctlr_el2) & 1;
    if (mmu_on && !(dczid & (1u << 4)) && (uptr(p) % block) == 0 && (size % block) == 0)
        each_line(uptr(p), uptr(p) + size, block, [](uptr a) { asm volatile("dc zva, %0" ::"r"(a) : "memory"); });
    else
        __builtin_memset(p, 0, size);
    clean_dcache_range(p, size);
}
inline void invalidate_icache_all() {
    asm volatile("ic ialluis" ::: "memory");
    dsb_ish();
    isb();
}

} // namespace arch
