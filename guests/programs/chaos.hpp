// chaos: what the randomized containment test shares across ISAs (chaos.cpp): its build-time
// knobs, the random number generator, the test's name and the run's first UNEXPECTED line. Each
// ISA's operations, model and driver are programs/chaos-<isa>.cpp (chaos::arch_main).
//
// Knobs (compile definitions; guests/CMakeLists.txt sets them per variant):
//   CXV_CHAOS_SEED      the seed (xorshift64); chaos-2 and chaos-s1..s6 fix other seeds
//   CXV_CHAOS_OPS       operations of vCPU 0
//   CXV_CHAOS_PROGRESS  a progress line every this many operations
//   CXV_CHAOS_CRASH     1: chaos-crash, a shorter run ending with an MMIO instruction cxvisor
//                       cannot emulate (the VM must be stopped)
//   CXV_CHAOS_CRASH_KIND which such instruction (-1: from the seed; the ISA part lists them)
#pragma once
#include <stdint.h>

#include "rt.hpp"

#ifndef CXV_CHAOS_SEED
#define CXV_CHAOS_SEED 0x00C4A05C0FFEE001ull
#endif
#ifndef CXV_CHAOS_CRASH
#define CXV_CHAOS_CRASH 0
#endif
#ifndef CXV_CHAOS_OPS
#if CXV_CHAOS_CRASH
#define CXV_CHAOS_OPS 1500
#else
#define CXV_CHAOS_OPS 20000
#endif
#endif
#ifndef CXV_CHAOS_PROGRESS
#define CXV_CHAOS_PROGRESS 2500
#endif
#ifndef CXV_CHAOS_CRASH_KIND
#define CXV_CHAOS_CRASH_KIND -1 // -1: chosen by the seed
#endif

namespace chaos {

struct Rng {
    uint64_t s;
    uint64_t next() { // xorshift64 (Marsaglia 13/7/17)
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        return s;
    }
    uint64_t below(uint64_t n) { return n ? next() % n : 0; }
    bool chance(unsigned pct) { return below(100) < pct; }
    int64_t range(int64_t lo, int64_t hi) { return lo + int64_t(below(uint64_t(hi - lo + 1))); }
    static Rng seeded(uint64_t seed) { return {seed ? seed : 0x9E3779B97F4A7C15ull}; } // xorshift needs s != 0
};

// The first UNEXPECTED line of the whole run (any vCPU) is kept and printed again next to the
// final checks: the line itself may be thousands of lines before the end of the console, out of
// the harness's last-lines dump (chaos-seeds-2 once failed that way).
void keep_first_unexpected(const char* text);
void print_first_unexpected(); // "first UNEXPECTED of this run: ..." if there was one

// One unexpected outcome of an operation: counted always, printed in full for the first 30 of a
// vCPU (one line each, so the seed and op index reproduce it: "UNEXPECTED vcpu <v> op <n>: ...")
// and kept if it is the run's first. `c` is the ISA's per-vCPU context with cpu, op, failures.
template <typename Ctx> bool note_unexpected(Ctx& c) { return ++c.failures <= 30; }
#define UNEXPECTED(c, fmt, ...)                                                                          \
    do {                                                                                                 \
        if (chaos::note_unexpected(c)) {                                                                 \
            char text_[200];                                                                             \
            rt::format(text_, sizeof text_, "vcpu %u op %lu: " fmt, (c).cpu, (c).op, ##__VA_ARGS__);   \
            rt::printf("UNEXPECTED %s\n", text_);                                                       \
            chaos::keep_first_unexpected(text_);                                                         \
        }                                                                                                \
    } while (0)

// "<what>: <label>: <name> <count>..." on one line (sep between entries): the summary's statistics.
void print_counts(const char* what, const char* label, const char* const* names, const uint64_t* counts, unsigned n,
                  const char* sep);

// The ISA's part (chaos-<isa>.cpp): the whole run, on the boot vCPU, after the test was named.
void arch_main();

// For an ISA part that runs on its boot vCPU alone (x86_64, loongarch64): its context, and its
// whole run: CXV_CHAOS_OPS operations of `N` kinds drawn from the seed, `do_op(ctx, rng, kind)`
// each, progress lines, the counts by kind (`names`) and the verdict.
struct OneVcpuCtx {
    unsigned cpu;
    uint64_t op;
    uint64_t failures;
};
template <unsigned N, typename DoOp> void run_on_one_vcpu(const char* const* names, DoOp do_op) {
    OneVcpuCtx c{0, 0, 0};
    Rng r = Rng::seeded(CXV_CHAOS_SEED);
    uint64_t counts[N] = {};
    rt::printf("seed %lx, %lu operations\n", uint64_t(CXV_CHAOS_SEED), uint64_t(CXV_CHAOS_OPS));
    for (c.op = 0; c.op < CXV_CHAOS_OPS; ++c.op) {
        const unsigned kind = unsigned(r.below(N));
        ++counts[kind];
        do_op(c, r, kind);
        if ((c.op + 1) % CXV_CHAOS_PROGRESS == 0) rt::printf("progress %lu/%lu\n", c.op + 1, uint64_t(CXV_CHAOS_OPS));
    }
    print_counts("vcpu 0", "operations", names, counts, N, ",");
    print_first_unexpected();
    rt::check(c.failures == 0, "vcpu 0: every operation behaved as the model says (%lu unexpected)", c.failures);
}

} // namespace chaos
