// A per-vCPU timer that cxvisor emulates in host counter ticks, for guests' timers the hardware
// does not virtualize: the aarch64 EL1 physical timer (CNTP_CTL/CVAL/TVAL_EL0, trapped by
// CNTHCTL_EL2.EL1PCEN = 0; Arm ARM DDI0487 K.a D11.2 "The AArch64 view of the Generic Timer"), and
// later the RISC-V SBI timer. The model is the generic timer's: a compare value, ENABLE and IMASK,
// a condition met when the counter reaches the compare value, and a level-sensitive private
// interrupt asserted while ENABLE && !IMASK && condition. Its interrupt reaches the guest through
// the VM's controller: the line follows every register write, and a host timer event at the
// compare value raises it while the vCPU runs elsewhere, is descheduled or waits in WFI.
#pragma once
#include "base/types.hpp"
#include "kernel/timer.hpp"

enum class TimerReg : u8 { None, Control, Compare, Countdown };

struct EmulatedTimer {
    static constexpr u64 CTL_ENABLE = 1, CTL_IMASK = 2, CTL_ISTATUS = 4; // CNTP_CTL_EL0 bits

    u64 ctl = 0;  // ENABLE and IMASK as written (ISTATUS is computed)
    u64 cval = 0; // compare value in host counter ticks
    u32 intid = 0; // its private interrupt (the backend names it with each access; 0 before any)
    TimerEvent event;

    bool condition(u64 now) const { return (ctl & CTL_ENABLE) && now >= cval; }
    bool line(u64 now) const { return condition(now) && !(ctl & CTL_IMASK); }

    // A register read at counter value `now`. Countdown (TVAL) is the signed 32-bit distance to the
    // compare value (D11.2.4: TimerValue = CompareValue - Counter, 32 bits, sign-extended).
    u64 read(TimerReg r, u64 now) const {
        switch (r) {
        case TimerReg::Control: return ctl | (condition(now) ? CTL_ISTATUS : 0);
        case TimerReg::Compare: return cval;
        case TimerReg::Countdown: return u64(i64(i32(u32(cval - now))));
        default: return 0;
        }
    }
    // A register write; ISTATUS is read-only and other control bits are RES0.
    void write(TimerReg r, u64 value, u64 now) {
        switch (r) {
        case TimerReg::Control: ctl = value & (CTL_ENABLE | CTL_IMASK); break;
        case TimerReg::Compare: cval = value; break;
        case TimerReg::Countdown: cval = now + u64(i64(i32(u32(value)))); break;
        default: break;
        }
    }
    void reset() { ctl = cval = 0; }
};
