// LoongArch64 control and status registers, IOCSR accesses and CPUCFG, as cxvisor uses them.
// Manual: "LoongArch Reference Manual Volume 1: Basic Architecture", v1.10 (Loongson, 2023):
// chapter 7 "Control and Status Registers" (numbers below: table 7-1), 2.2.10.5 CPUCFG (table
// 2-8..2-12), 4.2.10.1 CSRRD/CSRWR/CSRXCHG, 4.2.10.2 IOCSR access instructions.
// Pure register access: no state. Included by arch.hpp, so generic code sees only arch::.
#pragma once
#include "base/types.hpp"

namespace la {

// 7.1 table 7-1.
enum : u32 {
    CSR_CRMD = 0x0, CSR_PRMD = 0x1, CSR_EUEN = 0x2, CSR_MISC = 0x3, CSR_ECFG = 0x4, CSR_ESTAT = 0x5,
    CSR_ERA = 0x6, CSR_BADV = 0x7, CSR_BADI = 0x8, CSR_EENTRY = 0xC,
    CSR_TLBIDX = 0x10, CSR_TLBEHI = 0x11, CSR_TLBELO0 = 0x12, CSR_TLBELO1 = 0x13, CSR_ASID = 0x18,
    CSR_PGDL = 0x19, CSR_PGDH = 0x1A, CSR_PGD = 0x1B, CSR_PWCL = 0x1C, CSR_PWCH = 0x1D, CSR_STLBPS = 0x1E,
    CSR_CPUID = 0x20, CSR_PRCFG1 = 0x21,
    CSR_SAVE0 = 0x30,
    CSR_TID = 0x40, CSR_TCFG = 0x41, CSR_TVAL = 0x42, CSR_CNTC = 0x43, CSR_TICLR = 0x44,
    CSR_TLBRENTRY = 0x88, CSR_TLBRBADV = 0x89, CSR_TLBRERA = 0x8A, CSR_TLBRSAVE = 0x8B, CSR_TLBREHI = 0x8E,
    CSR_TLBRPRMD = 0x8F,
    CSR_DMW0 = 0x180, CSR_DMW1 = 0x181,
};

// CRMD (7.4.1): PLV [1:0], IE [2], DA [3], PG [4], DATF [6:5], DATM [8:7].
inline constexpr u64 CRMD_IE = 1u << 2, CRMD_DA = 1u << 3, CRMD_PG = 1u << 4;
// ECFG.LIE / ESTAT.IS (7.4.4, 7.4.5): bit 0-1 software, 2-9 HWI0-7, 10 PMC, 11 timer, 12 IPI.
inline constexpr u32 IS_HWI0 = 2, IS_HWI_COUNT = 8, IS_TIMER = 11, IS_IPI = 12;
// TCFG (7.6.2): En [0], Periodic [1], InitVal [n-1:2] (a multiple of 4 ticks).
inline constexpr u64 TCFG_EN = 1, TCFG_PERIODIC = 2;

template <u32 N> inline u64 csr_read() {
    u64 v;
    asm volatile("csrrd %0, %1" : "=r"(v) : "i"(N) : "memory");
    return v;
}
template <u32 N> inline void csr_write(u64 v) { asm volatile("csrwr %0, %1" : "+r"(v) : "i"(N) : "memory"); }
// CSRXCHG: bits of `mask` take `value`'s, the rest keep theirs (4.2.10.1).
template <u32 N> inline void csr_xchg(u64 value, u64 mask) {
    asm volatile("csrxchg %0, %1, %2" : "+r"(value) : "r"(mask), "i"(N) : "memory");
}

inline u32 iocsr_read32(u64 a) {
    u32 v;
    asm volatile("iocsrrd.w %0, %1" : "=r"(v) : "r"(a) : "memory");
    return v;
}
inline u64 iocsr_read64(u64 a) {
    u64 v;
    asm volatile("iocsrrd.d %0, %1" : "=r"(v) : "r"(a) : "memory");
    return v;
}
inline void iocsr_write32(u64 a, u32 v) { asm volatile("iocsrwr.w %0, %1" ::"r"(v), "r"(a) : "memory"); }
inline void iocsr_write64(u64 a, u64 v) { asm volatile("iocsrwr.d %0, %1" ::"r"(v), "r"(a) : "memory"); }
inline void iocsr_write8(u64 a, u8 v) { asm volatile("iocsrwr.b %0, %1" ::"r"(u32(v)), "r"(a) : "memory"); }

inline u32 cpucfg(u32 word) {
    u64 v;
    asm volatile("cpucfg %0, %1" : "=r"(v) : "r"(u64(word)));
    return u32(v);
}

// RDTIME.D (4.2.10.4): the constant-frequency stable counter, shared by all cores.
inline u64 rdtime() {
    u64 t, id;
    asm volatile("rdtime.d %0, %1" : "=r"(t), "=r"(id));
    return t;
}

// DBAR 0: a full completion barrier for every access kind (2.2.8.1).
inline void dbar() { asm volatile("dbar 0" ::: "memory"); }
// IBAR 0: later instruction fetches see earlier stores of this core (2.2.8.2).
inline void ibar() { asm volatile("ibar 0" ::: "memory"); }

} // namespace la
