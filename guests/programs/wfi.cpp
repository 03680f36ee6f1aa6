// wfi: the guest's own timer wakes WFI. The timer fires CXV_WFI_MS (10) ms from now, enabled at
// the timer but masked at the CPU: the interrupt is never taken, but a pending interrupt still
// completes WFI (aarch64: Arm ARM D1 "Wait for Interrupt"; riscv64: Privileged Spec 20211203, 3.3.3
// WFI, which "resumes ... if any interrupt is pending, even if disabled globally"), so the loop ends
// once the timer says it fired. The timer itself is the ISA's (programs/wfi-<isa>.cpp).
#include "rt.hpp"

#ifndef CXV_WFI_MS
#define CXV_WFI_MS 10 // the wfi-long variant sleeps 100 ms: longer than a scheduler slice
#endif

// The ISA's part (wfi-<isa>.cpp): the guest's timer, on this vCPU.
namespace wfi {
extern const char* const FIRED; // what says the timer fired, for the messages
void arm(uint64_t deadline);    // fire at counter() == deadline, pending but never taken
bool fired();
void disarm();
bool disarmed();
void wait(); // one WFI (with whatever barrier the ISA wants before it)
} // namespace wfi

void guest_main() {
    rt::test_start("wfi");
    const uint64_t freq = rt::counter_freq(), wait = freq * CXV_WFI_MS / 1000;
    rt::printf("counter frequency %lu Hz, waiting %lu ticks\n", freq, wait);
    rt::check(freq != 0, "the counter frequency is set");

    const uint64_t start = rt::counter(), deadline = start + wait;
    wfi::arm(deadline);
    uint64_t wfis = 0, now = start;
    bool fired = false;
    while (!fired) {
        wfi::wait();
        ++wfis;
        fired = wfi::fired();
        now = rt::counter();
        if (now - start > 100 * wait) break; // 100x the wait: the timer never woke us
    }
    wfi::disarm();
    uint64_t elapsed = now - start;
    rt::printf("woke after %lu WFI, %lu ticks (%lu us)\n", wfis, elapsed, rt::ticks_to_us(elapsed));
    rt::check(fired, "%s set within %d ms", wfi::FIRED, 100 * CXV_WFI_MS);
    rt::check(elapsed >= wait, "at least %d ms elapsed", CXV_WFI_MS);
    rt::check(wfi::disarmed(), "timer disabled again");
}
