// spin: a CPU hog for time-slicing tests. A fixed amount of work (200 M loop iterations, ~0.3 s
// alone on QEMU TCG, so it spans many scheduler slices) in four parts, a progress line after each;
// it finishes after bounded work however the CPU is shared.
#include "rt.hpp"

void guest_main() {
    rt::test_start("spin");
    constexpr uint64_t PARTS = 4, ITERS = 200'000'000 / PARTS;
    uint64_t x = 0x9E3779B97F4A7C15, start = rt::counter();
    for (uint64_t part = 1; part <= PARTS; ++part) {
        for (uint64_t i = 0; i < ITERS; ++i) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            asm volatile("" : "+r"(x)); // keep the loop real
        }
        rt::printf("spin %lu/%lu\n", part, PARTS);
    }
    rt::printf("spin: %lu us of virtual time, x=%lx\n", rt::ticks_to_us(rt::counter() - start), x);
}
