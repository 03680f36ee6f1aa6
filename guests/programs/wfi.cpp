// wfi: the virtual timer wakes WFI. CNTV fires CXV_WFI_MS (10) ms from now with IMASK = 0 while PSTATE.I stays
// masked: the interrupt is never taken, but a pending interrupt still completes WFI (Arm ARM D1,
// "Wait for Interrupt"), so the loop ends once CNTV_CTL_EL0.ISTATUS is set.
#include "rt.hpp"

#ifndef CXV_WFI_MS
#define CXV_WFI_MS 10 // the wfi-long variant sleeps 100 ms: longer than a scheduler slice
#endif

namespace {
uint64_t cntv_ctl() {
    uint64_t v;
    asm volatile("isb\n mrs %0, cntv_ctl_el0" : "=r"(v));
    return v;
}
} // namespace

void guest_main() {
    rt::test_start("wfi");
    const uint64_t freq = rt::counter_freq(), wait = freq * CXV_WFI_MS / 1000;
    rt::printf("CNTFRQ_EL0 = %lu Hz, waiting %lu ticks\n", freq, wait);
    rt::check(freq != 0, "CNTFRQ_EL0 is set");

    const uint64_t start = rt::counter(), deadline = start + wait;
    asm volatile("msr cntv_cval_el0, %0\n msr cntv_ctl_el0, %1\n isb" ::"r"(deadline), "r"(1ull));
    uint64_t wfis = 0, now = start;
    bool fired = false;
    while (!fired) {
        asm volatile("dsb sy\n wfi" ::: "memory");
        ++wfis;
        fired = cntv_ctl() & 4; // ISTATUS
        now = rt::counter();
        if (now - start > 100 * wait) break; // 100x the wait: the timer never woke us
    }
    asm volatile("msr cntv_ctl_el0, xzr\n isb");
    uint64_t elapsed = now - start;
    rt::printf("woke after %lu WFI, %lu ticks (%lu us)\n", wfis, elapsed, rt::ticks_to_us(elapsed));
    rt::check(fired, "CNTV_CTL_EL0.ISTATUS set within %d ms", 100 * CXV_WFI_MS);
    rt::check(elapsed >= wait, "at least %d ms elapsed", CXV_WFI_MS);
    rt::check((cntv_ctl() & 1) == 0, "timer disabled again");
}
