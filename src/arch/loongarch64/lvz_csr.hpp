// The LVZ host-mode CSRs: their numbers and the values cxvisor writes, and the guest CSRs a vCPU
// owns. LoongArch virtualization extension (as Linux's arch/loongarch/include/asm/loongarch.h
// numbers it): GSTAT 0x50, GCFG 0x51, GINTC 0x52, GCNTC 0x53, GTLBC 0x15, TRGP 0x16. The LVZ QEMU
// fork (../shared/tools/qemu-lvz/README.md) puts GTLBC and TRGP at 0x54 and 0x55: cxvisor follows
// the manual and takes the fork's numbers only through the one switch below, chosen at boot by
// which number keeps a written TGID (vcpu.cpp virt_cpu_init). Pure; checked by
// tests/unit/arch/la_lvz_exit_test.cpp (LaLvzCsr.*).
#pragma once
#include "base/types.hpp"

namespace arch::lvz {

// The one switch for the fork's departures from the manual.
enum class CsrNumbering : u8 { Manual, QemuLvzFork };

struct HostCsrs {
    u32 gstat, gcfg, gintc, gcntc, gtlbc, trgp;
};
inline constexpr HostCsrs host_csrs(CsrNumbering n) {
    return n == CsrNumbering::Manual ? HostCsrs{0x50, 0x51, 0x52, 0x53, 0x15, 0x16}
                                     : HostCsrs{0x50, 0x51, 0x52, 0x53, 0x54, 0x55};
}

// GTLBC: GMTLBNum [5:0] (the guest's share of the MTLB), UseTGID bit 12 (TLB instructions of the
// host act on guest entries of TGID), TOTI bit 13, TGID [23:16].
inline constexpr u64 GTLBC_USE_TGID = 1u << 12, GTLBC_TOTI = 1u << 13;
inline constexpr u64 gtlbc_value(u32 tgid, u32 guest_mtlb_entries) {
    return u64(guest_mtlb_entries & 0x3F) | GTLBC_USE_TGID | u64(tgid & 0xFF) << 16;
}
// GSTAT: VM bit 0 (in guest mode), PVM bit 1 (the mode before the exception: ERTN enters the guest
// when it is set; the manual's and this file's "PGM"), GIDBIT [9:4] (how many GID bits exist), GID
// [23:16] (the running guest's ID).
inline constexpr u64 GSTAT_PGM = 1u << 1;
inline constexpr u64 gstat_for_entry(u32 gid) { return GSTAT_PGM | u64(gid & 0xFF) << 16; }
inline constexpr u32 gstat_gid_bits(u64 gstat) { return u32(gstat >> 4) & 0x3F; }

// GINTC: HWIS [7:0] (hardware interrupt lines 2..9 of the guest's ESTAT.IS the host asserts), PIP
// [15:8] (lines passed through from the host), HC [23:16] (lines the host clears). cxvisor injects
// through HWIS only.
inline constexpr u64 gintc_inject(u32 hwi_lines) { return u64(hwi_lines & 0xFF); }

// The guest CSRs a vCPU owns (the guest's own copies, reached from the host with GCSRRD/GCSRWR at
// the basic CSR numbers, LA Vol. 1 v1.10 table 7-1), saved by put() and written back by load() in
// this order. TCFG/TVAL (the guest timer) are handled apart (vcpu.cpp: the remaining count is
// carried across a deschedule); CPUID is the vCPU's id.
inline constexpr u16 GUEST_CSRS[] = {
    0x0,   // CRMD
    0x1,   // PRMD
    0x2,   // EUEN
    0x3,   // MISC
    0x4,   // ECFG
    0x5,   // ESTAT (IS[1:0] software interrupts, the last exception's codes)
    0x6,   // ERA
    0x7,   // BADV
    0x8,   // BADI
    0xC,   // EENTRY
    0x10,  // TLBIDX
    0x11,  // TLBEHI
    0x12,  // TLBELO0
    0x13,  // TLBELO1
    0x18,  // ASID
    0x19,  // PGDL
    0x1A,  // PGDH
    0x1C,  // PWCL
    0x1D,  // PWCH
    0x1E,  // STLBPS
    0x1F,  // RVACFG
    0x20,  // CPUID
    0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, // SAVE0..7
    0x40,  // TID
    0x43,  // CNTC
    0x60,  // LLBCTL
    0x88,  // TLBRENTRY
    0x89,  // TLBRBADV
    0x8A,  // TLBRERA
    0x8B,  // TLBRSAVE
    0x8C,  // TLBRELO0
    0x8D,  // TLBRELO1
    0x8E,  // TLBREHI
    0x8F,  // TLBRPRMD
    0x180, 0x181, 0x182, 0x183, // DMW0..3
};
inline constexpr usize GUEST_CSR_COUNT = sizeof(GUEST_CSRS) / sizeof(GUEST_CSRS[0]);
inline constexpr usize guest_csr_index(u16 csr) {
    for (usize i = 0; i < GUEST_CSR_COUNT; ++i)
        if (GUEST_CSRS[i] == csr) return i;
    return GUEST_CSR_COUNT;
}
inline constexpr u16 GCSR_CRMD = 0x0, GCSR_PRMD = 0x1, GCSR_ECFG = 0x4, GCSR_ESTAT = 0x5, GCSR_ERA = 0x6,
                     GCSR_BADV = 0x7, GCSR_BADI = 0x8, GCSR_EENTRY = 0xC, GCSR_CPUID = 0x20, GCSR_TCFG = 0x41,
                     GCSR_TVAL = 0x42, GCSR_TICLR = 0x44;

// The guest timer (LA Vol. 1 v1.10, 7.6.2 TCFG: En [0], Periodic [1], InitVal [n-1:2]; 7.6.3 TVAL:
// the remaining count; 7.6.4 TICLR). It lives in the core's guest CSRs, so put() stops it (another
// vCPU's guest must not see it) when another vCPU takes the core, and load() restarts it with the
// count that remained, less the time the vCPU was off the core (vcpu.cpp: a vCPU that comes back to
// a core nobody else used keeps its timer running meanwhile, untouched). An interrupt that came due
// meanwhile, or was pending and not yet cleared, is raised twice over: a one-shot timer restarts as
// a 4-tick one-shot, so the core's own timer asserts the line right after entry (an ESTAT bit the
// host writes need not be an interrupt the core takes: the LVZ QEMU shows it in ESTAT but never
// delivers it, lvz-wfi-irq), and ESTAT.IS[11] is written too (the LVZ QEMU starts no timer on a
// host's GCSRWR of TCFG). A periodic timer keeps its period and gets the bit written (a missed tick
// of a periodic timer is lost, as on any descheduled CPU).
struct GuestTimer {
    u64 tcfg = 0;       // what the guest wrote
    u64 remaining = 0;  // TVAL at put()
    bool pending = false; // ESTAT.IS[11] at put(): fired and not cleared yet
};
inline constexpr u64 TCFG_EN = 1, TCFG_PERIODIC = 2;
// A one-shot timer that reached 0 on the core has fired (pending says whether the guest has
// cleared it) and counts as stopped.
inline constexpr GuestTimer timer_save(u64 tcfg, u64 tval, bool pending) {
    if ((tcfg & TCFG_EN) && tval == 0 && !(tcfg & TCFG_PERIODIC)) return {tcfg & ~TCFG_EN, 0, pending};
    return {tcfg, tval, pending};
}
// The TCFG to write at load() after `elapsed` counter ticks off the core, and whether ESTAT.IS[11]
// must be written as well.
struct TimerRestore {
    u64 tcfg;
    bool raise;
};
inline constexpr u64 TIMER_REFIRE = TCFG_EN | 4; // a one-shot of the shortest count
inline constexpr TimerRestore timer_restore(const GuestTimer& t, u64 elapsed) {
    const bool en = t.tcfg & TCFG_EN, periodic = t.tcfg & TCFG_PERIODIC;
    const bool running = en && t.remaining > elapsed;
    const u64 left = running ? (t.remaining - elapsed + 3) & ~u64(3) : 0; // InitVal: a multiple of 4
    if (running) return {(t.tcfg & 3) | left, t.pending};
    if (!periodic && (en || t.pending)) return {TIMER_REFIRE, true}; // expired meanwhile, or still pending
    if (periodic && en) return {t.tcfg, true};                          // its next period; this one's bit
    return {t.tcfg, t.pending};                                         // stopped
}

} // namespace arch::lvz
