// Interrupt injection into a loongarch64 guest under LVZ: which mechanism carries which line, what
// the vCPU writes at entry, and when a halted vCPU wakes. Pure (the vCPU, vcpu.cpp, does the CSR
// accesses); tests/unit/arch/la_lvz_irq_test.cpp (LaLvzIrq.*) checks it.
//
// The lines are the guest's ESTAT.IS bits (LoongArch Reference Manual Vol. 1 v1.10, "LA Vol. 1",
// 7.4.5 ESTAT and 7.4.4 ECFG.LIE; 6.2.1 the interrupt is taken while CRMD.IE = 1 and IS & LIE != 0):
// SWI0-1 [1:0], HWI0-7 [9:2], PMC [10], TI [11], IPI [12]. Under the virtualization extension
// (LoongArch Reference Manual Vol. 3 "Virtualization", the host-mode GINTC register; field names as
// Linux's arch/loongarch/include/asm/loongarch.h gives them: HWIS/VIP [7:0], HWIP/PIP [15:8],
// HWIC/HC [23:16]) the host asserts the guest's hardware lines HWI0-7 through GINTC.HWIS, which the
// core ORs into the guest's ESTAT.IS[9:2] while HWIS holds them; HWIP would pass host lines through
// and HWIC clear them, neither of which cxvisor uses (every device line the guest sees comes from
// its own virtual interrupt controller). The timer [11] is the guest's own (its TCFG/TVAL); the
// IPI [12] and the software lines have no GINTC field, so the host writes them into the guest's
// ESTAT with GCSRXCHG, as Linux's KVM does for IPI and timer (arch/loongarch/kvm/interrupt.c: TI,
// IPI and SWI through the guest ESTAT, HWI0-7 through GINTC).
#pragma once
#include "base/types.hpp"
#include "lvz_csr.hpp"

namespace arch::lvz {

inline constexpr u64 IS_SWI = 0x3, IS_HWI = 0xFFull << 2, IS_PMC = 1u << 10, IS_TI = 1u << 11, IS_IPI = 1u << 12,
                     IS_ALL = 0x1FFF;
inline constexpr u64 CRMD_IE = 1u << 2;

// HWI0-7 as the guest sees them: line n is ESTAT.IS[2 + n] (GINTC.HWIS carries them: lvz_csr.hpp
// gintc_inject).
inline constexpr u64 hwi_as_estat(u8 hwi_lines) { return u64(hwi_lines) << 2; }

// What the guest sees in ESTAT.IS once the vCPU's injections are in: the guest's own bits (its
// timer, its software lines, an IPI written earlier) with the IPI bit and the HWI lines replaced by
// what cxvisor presents now.
inline constexpr u64 presented_is(u64 guest_estat, u8 hwi_lines, bool ipi) {
    return (guest_estat & IS_ALL & ~(IS_HWI | IS_IPI)) | hwi_as_estat(hwi_lines) | (ipi ? IS_IPI : 0);
}

// IDLE ends once an interrupt the guest enabled in ECFG.LIE is pending, whatever CRMD.IE says (LA
// Vol. 1 4.2.10.5 "IDLE"): the halted vCPU's wake-up test, with the timer counted once its
// deadline has passed (timer_due) although no core has raised its bit yet.
inline constexpr bool wakes_from_idle(u64 ecfg, u64 guest_estat, u8 hwi_lines, bool ipi, bool timer_due) {
    const u64 is = presented_is(guest_estat, hwi_lines, ipi) | (timer_due ? IS_TI : 0);
    return (is & ecfg & IS_ALL) != 0;
}

// Where the LVZ QEMU fork departs from this (../shared/tools/qemu-lvz/README.md; read from the
// fork's helpers in its binary, docs/porting.md "loongarch64"): it raises the guest's interrupt
// request only at an ERTN into the guest that finds the guest's CRMD.IE already 1 and ESTAT.IS &
// ECFG.LIE != 0 (an ERTN with IE = 0 withdraws the request), and when the guest's own timer fires,
// or the guest writes TICLR, while the core is in guest mode. An interrupt pending at an entry with
// CRMD.IE = 0 is not taken when the guest sets IE afterwards, as LA Vol. 1 6.2.1 says it must be,
// but at the next entry that finds IE = 1 (every exit is one: HVCL, IDLE, MMIO, a host interrupt).
// A guest that idles with IE = 1 (Linux's arch_cpu_idle) takes it at its wake-up entry; one that
// idles with IE = 0 and opens IE for a moment afterwards (lvz-wfi-irq) does not. Nothing the host
// can do between two entries raises the request for the guest's next instructions: the fork's
// guest timer runs only in guest mode and fires from QEMU's main loop, too late for a guest run of
// a few instructions (tried: a 1-tick guest timer armed at every such entry changed nothing in 10
// runs).

} // namespace arch::lvz
