// wfi, the loongarch64 part: the guest's own constant timer (LA Vol. 1 v1.10, 7.6.2 TCFG: En [0],
// InitVal [n-1:2], a one-shot count down at the counter's rate; 7.6.4 TICLR), its line enabled in
// ECFG.LIE [11] with CRMD.IE = 0: IDLE (4.2.10.5) ends when an enabled interrupt is pending.
// "Fired" is ESTAT.IS [11] (7.4.5), the timer interrupt pending. The wfi-irq variant
// (CXV_WFI_TAKE=1) also takes it: once it is pending, CRMD.IE is opened for a moment and the
// runtime's exception entry must take it (Ecode 0 with IS [11]); the handler here clears it with
// TICLR. Under LVZ the guest's timer is the guest's own CSR state; its IDLE exits to cxvisor
// (GSPR), which must wake the vCPU when the guest's timer fires, also after descheduling it
// (wfi-long beside a hog on one CPU: lvz-pinned-share-cpu).
#include "rt.hpp"

namespace wfi {
namespace {
volatile uint64_t g_timer_taken;
bool on_interrupt(uint64_t estat) {
    if (!(estat & rt::IS_TIMER)) return false;
    RT_CSRWR(rt::csr::TICLR, 1); // the one-shot timer's interrupt, cleared (7.6.4)
    g_timer_taken = g_timer_taken + 1;
    return true;
}
} // namespace

#ifndef CXV_WFI_TAKE
#define CXV_WFI_TAKE 0
#endif
extern const char* const FIRED = CXV_WFI_TAKE ? "ESTAT.IS[11], then the timer interrupt taken," : "ESTAT.IS[11] (timer interrupt pending)";
void arm(uint64_t deadline) {
    rt::set_interrupt_handler(on_interrupt);
    const uint64_t now = rt::counter(), ticks = deadline > now ? deadline - now : 4;
    RT_CSRWR(rt::csr::TCFG, ((ticks + 3) & ~3ull) | rt::TCFG_EN); // InitVal: a multiple of 4
    RT_CSRXCHG(rt::csr::ECFG, rt::IS_TIMER, rt::IS_TIMER);
}
bool fired() {
    if (!(RT_CSRRD(rt::csr::ESTAT) & rt::IS_TIMER)) return false;
    if (!CXV_WFI_TAKE) return true;
    const uint64_t before = g_timer_taken;
    RT_CSRXCHG(rt::csr::CRMD, rt::CRMD_IE, rt::CRMD_IE); // taken here, at once: it is pending
    asm volatile("nop\n nop" ::: "memory");
    RT_CSRXCHG(rt::csr::CRMD, 0, rt::CRMD_IE);
    return g_timer_taken != before;
}
void disarm() {
    RT_CSRWR(rt::csr::TCFG, 0);
    RT_CSRWR(rt::csr::TICLR, 1);
    RT_CSRXCHG(rt::csr::ECFG, 0, rt::IS_TIMER);
    rt::set_interrupt_handler(nullptr);
}
bool disarmed() {
    return !(RT_CSRRD(rt::csr::TCFG) & rt::TCFG_EN) && !(RT_CSRRD(rt::csr::ECFG) & rt::IS_TIMER) &&
           !(RT_CSRRD(rt::csr::ESTAT) & rt::IS_TIMER);
}
void wait() { asm volatile("dbar 0\n idle 0" ::: "memory"); }

} // namespace wfi
