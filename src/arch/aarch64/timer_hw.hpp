// Generic timer, hypervisor physical timer (Arm ARM D11 "The Generic Timer"; CNTHP_* D13.8).
#pragma once
#include "sysreg.hpp"

namespace arch {

inline u64 counter() {
    isb(); // CNTPCT reads may be speculated early otherwise (D11.2.2)
    return read_sysreg(cntpct_el0);
}
inline u64 counter_frequency() { return read_sysreg(cntfrq_el0); }
// CNTHP_CVAL_EL2 + CNTHP_CTL_EL2.ENABLE: the interrupt (PPI 26 on QEMU, from the DTB) fires when
// the counter reaches the deadline.
inline void timer_set_deadline(u64 deadline) {
    write_sysreg(cnthp_cval_el2, deadline);
    write_sysreg(cnthp_ctl_el2, 1);
    isb();
}
inline void timer_stop() { write_sysreg(cnthp_ctl_el2, 2); } // IMASK, disabled

} // namespace arch
