// wfi, the aarch64 part: the EL1 virtual timer (CNTV), IMASK = 0 with PSTATE.I masked.
#include "rt.hpp"

namespace wfi {
namespace {
uint64_t cntv_ctl() {
    uint64_t v;
    asm volatile("isb\n mrs %0, cntv_ctl_el0" : "=r"(v));
    return v;
}
} // namespace

extern const char* const FIRED = "CNTV_CTL_EL0.ISTATUS";
void arm(uint64_t deadline) {
    asm volatile("msr cntv_cval_el0, %0\n msr cntv_ctl_el0, %1\n isb" ::"r"(deadline), "r"(1ull));
}
bool fired() { return cntv_ctl() & 4; } // ISTATUS
void disarm() { asm volatile("msr cntv_ctl_el0, xzr\n isb"); }
bool disarmed() { return (cntv_ctl() & 1) == 0; } // ENABLE
void wait() { asm volatile("dsb sy\n wfi" ::: "memory"); }
} // namespace wfi
