// bench-irq, the aarch64 cases (bench-irq.cpp, bench.hpp): config bench-irq.toml (1 vCPU,
// interrupt_mode "emulated"); bench/run.py runs it under cxvisor and on bare QEMU. Figures:
//   add100        100 adds in the bench loop (the loop's own cost: add100 - 100)
//   gicd_typer    a 32-bit read of GICD_TYPER in the bench loop (an emulated MMIO read)
//   irq_timer     CNTV_CVAL_EL0 -> the timer handler's first counter read (the guest spins)
//   irq_sgi_self  the counter read before the ICC_SGI1R_EL1 write -> the handler's first read
//   eoi_pair      two counter reads around one ICC_EOIR1_EL1 write (in the SGI handler)
//   counter_pair  two counter reads around nothing (the baseline of eoi_pair)
// Precision: a counter tick is 16 instructions under -icount shift=0 (CNTFRQ 62.5 MHz). The SGI
// rounds start at 16 different instruction phases (dither()), so their mean is exact; the timer
// fires on a tick boundary (CVAL is in ticks), so irq_timer is the latency rounded down to a
// multiple of 16 instructions.
// Each handler's path includes the guest's own vector and dispatcher (runtime/aarch64/start.S, gic.cpp);
// the bare-QEMU run of the same image shows that share.
#include "bench.hpp"
#include "gic.hpp"

namespace gic = rt::gic;

namespace {
using bench::ITERS;
using bench::report;
constexpr uint32_t SGI = 1;

// Executes exactly k (0..15) NOPs: a jump into a NOP sled, to start a measurement at another
// instruction phase relative to the counter's ticks.
void dither(uint64_t k) {
    asm volatile("adr x9, 1f\n"
                 "sub x9, x9, %0, lsl #2\n"
                 "br x9\n"
                 ".rept 15\n nop\n .endr\n"
                 "1:" ::"r"(k & 15)
                 : "x9", "memory");
}

volatile uint64_t g_at;   // the handler's first counter read
volatile uint32_t g_seen; // handler runs
uint64_t g_eoi_ticks, g_pair_ticks;

void timer_handler(uint32_t, void*) {
    g_at = rt::counter();
    rt::vtimer_stop();
    g_seen = g_seen + 1;
}

void sgi_handler(uint32_t intid, void*) {
    g_at = rt::counter();
    const uint64_t a = rt::counter();
    gic::write_eoir1(intid);
    const uint64_t b = rt::counter();
    gic::ended(intid, true, false);
    const uint64_t c = rt::counter();
    const uint64_t d = rt::counter();
    g_eoi_ticks += b - a;
    g_pair_ticks += d - c;
    g_seen = g_seen + 1;
}

} // namespace

void bench::cases() {
    gic::dist_init();
    gic::cpu_init();
    gic::set_handler(gic::PPI_VTIMER, timer_handler);
    gic::configure(gic::PPI_VTIMER, 0x80, gic::Trigger::Level);
    gic::set_handler(SGI, sgi_handler);
    gic::configure(SGI, 0x80, gic::Trigger::Edge);

    run("add100", [] { asm volatile(".rept 100\n add x9, x9, #1\n .endr" ::: "x9"); });
    run("gicd_typer", [] { (void)rt::read32(gic::gicd_base() + gic::GICD_TYPER); });

    gic::irq_enable();
    // The timer is armed 100 ticks ahead and the guest spins on g_seen until its handler ran.
    latency("irq_timer", g_at, g_seen, [](uint64_t) {
        const uint64_t cval = rt::counter() + 100;
        rt::vtimer_arm(cval);
        return cval;
    });
    g_eoi_ticks = g_pair_ticks = 0;
    const uint32_t sgis_before = g_seen;
    latency("irq_sgi_self", g_at, g_seen, [](uint64_t i) {
        dither(i);
        const uint64_t t = rt::counter();
        gic::send_sgi(SGI, 1u << 0);
        return t;
    });
    // eoi_pair/counter_pair summed over the measured rounds and the warm-up: ITERS + 1 of each.
    rt::check(g_seen - sgis_before == ITERS + 1, "every SGI taken once (%u)", g_seen - sgis_before);
    report("eoi_pair", g_eoi_ticks * ITERS / (ITERS + 1));
    report("counter_pair", g_pair_ticks * ITERS / (ITERS + 1));
    rt::check(gic::spurious_count() == 0, "no spurious interrupt (%lu)", gic::spurious_count());
}
