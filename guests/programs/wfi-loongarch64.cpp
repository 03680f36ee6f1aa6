// wfi, the loongarch64 part: the guest's own constant timer (LA Vol. 1 v1.10, 7.6.2 TCFG: En [0],
// InitVal [n-1:2], a one-shot count down at the counter's rate; 7.6.4 TICLR), its line enabled in
// ECFG.LIE [11] with CRMD.IE = 0: IDLE (4.2.10.5) ends when an enabled interrupt is pending, the
// interrupt itself is never taken. "Fired" is ESTAT.IS [11], the timer interrupt pending (7.4.5).
// Under LVZ the guest's timer is the guest's own CSR state; its IDLE exits to cxvisor (GSPR), which
// must wake the vCPU when the guest's timer fires.
#include "rt.hpp"

namespace wfi {

extern const char* const FIRED = "ESTAT.IS[11] (timer interrupt pending)";
void arm(uint64_t deadline) {
    const uint64_t now = rt::counter(), ticks = deadline > now ? deadline - now : 4;
    RT_CSRWR(rt::csr::TCFG, ((ticks + 3) & ~3ull) | rt::TCFG_EN); // InitVal: a multiple of 4
    RT_CSRXCHG(rt::csr::ECFG, rt::IS_TIMER, rt::IS_TIMER);
}
bool fired() { return RT_CSRRD(rt::csr::ESTAT) & rt::IS_TIMER; }
void disarm() {
    RT_CSRWR(rt::csr::TCFG, 0);
    RT_CSRWR(rt::csr::TICLR, 1);
    RT_CSRXCHG(rt::csr::ECFG, 0, rt::IS_TIMER);
}
bool disarmed() {
    return !(RT_CSRRD(rt::csr::TCFG) & rt::TCFG_EN) && !(RT_CSRRD(rt::csr::ECFG) & rt::IS_TIMER) &&
           !(RT_CSRRD(rt::csr::ESTAT) & rt::IS_TIMER);
}
void wait() { asm volatile("dbar 0\n idle 0" ::: "memory"); }

} // namespace wfi
