// spin: a CPU hog for time-slicing tests. A fixed amount of work (200 M loop iterations, ~0.3 s
// alone on QEMU TCG, so it spans many scheduler slices) in four parts, a progress line after each;
// it finishes after bounded work however the CPU is shared.
//
// The spin-long variant (-DCXV_SPIN_MIN_MS=n) also makes each part last at least n/4 ms of virtual
// time, so that "spin 4/4" comes at least n ms after the start whatever the host's speed: a test
// can then say "the other VM on this CPU must finish before the hog" (pinned-share-cpu) without
// betting on how fast QEMU runs the fixed work.
#include "rt.hpp"

#ifndef CXV_SPIN_MIN_MS
#define CXV_SPIN_MIN_MS 0
#endif

void guest_main() {
    rt::test_start("spin");
    constexpr uint64_t PARTS = 4, ITERS = 200'000'000 / PARTS, CHUNK = 1'000'000;
    const uint64_t part_ticks = rt::counter_freq() * CXV_SPIN_MIN_MS / 1000 / PARTS;
    uint64_t x = 0x9E3779B97F4A7C15, start = rt::counter(), iters = 0;
    for (uint64_t part = 1; part <= PARTS; ++part) {
        const uint64_t part_start = rt::counter();
        for (uint64_t done = 0; done < ITERS || rt::counter() - part_start < part_ticks; done += CHUNK) {
            for (uint64_t i = 0; i < CHUNK; ++i) {
                x = x * 6364136223846793005ull + 1442695040888963407ull;
                asm volatile("" : "+r"(x)); // keep the loop real
            }
            iters += CHUNK;
        }
        rt::printf("spin %lu/%lu\n", part, PARTS);
    }
    rt::printf("spin: %lu M iterations in %lu us of virtual time, x=%lx\n", iters / 1'000'000,
               rt::ticks_to_us(rt::counter() - start), x);
}
