// Shared timing of the bench guests (bench, bench-irq): each figure is the guest's counter over
// ITERS iterations, printed for bench/run.py as
//   BENCH <name> <counter ticks per iteration x 1000> <counter frequency>
// Under QEMU -icount the counter advances per executed instruction, so the numbers are
// reproducible (bench/run.py converts ticks to instructions). The cases are the ISA's
// (bench-<isa>.cpp, bench-irq-<isa>.cpp): instructions, firmware calls and device registers differ.
#pragma once
#include "rt.hpp"

namespace bench {

inline constexpr uint64_t ITERS = 1000;

inline void report(const char* name, uint64_t ticks) {
    rt::printf("BENCH %s %lu %lu\n", name, ticks * 1000 / ITERS, rt::counter_freq());
}

// body() once to warm up (first-touch effects stay out of the numbers), then ITERS times, timed.
template <typename F> void run(const char* name, F body) {
    body();
    const uint64_t t0 = rt::counter();
    for (uint64_t i = 0; i < ITERS; ++i) body();
    report(name, rt::counter() - t0);
}

// An interrupt latency: start(i) makes the interrupt come and returns the counter value it counts
// from; the handler stores its first counter read in `at` and then counts `seen` up. ITERS rounds
// after a warm-up, each waiting for the handler (spinning); reports the sum of (at - from), i.e.
// the mean per round. A round without the interrupt within 1 s fails the check instead of hanging.
template <typename F> bool latency(const char* name, volatile uint64_t& at, volatile uint32_t& seen, F start) {
    uint64_t sum = 0;
    for (uint64_t i = 0; i <= ITERS; ++i) {
        const uint32_t before = seen;
        const uint64_t from = start(i);
        const uint64_t end = from + rt::counter_freq();
        while (seen == before)
            if (rt::counter() > end) return rt::check(false, "%s: round %lu: no interrupt within 1 s", name, i);
        if (i == 0) continue; // warm-up
        sum += at - from;
    }
    report(name, sum);
    return true;
}

// The ISA's cases (bench-<isa>.cpp / bench-irq-<isa>.cpp).
void cases();

} // namespace bench
