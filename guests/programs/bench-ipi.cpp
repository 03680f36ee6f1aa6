// bench-ipi: latency of an SGI from one vCPU to another that runs on a different physical CPU, in
// wall-clock time (QEMU without -icount: QEMU 7.2 with -icount and -smp 2 does not wake a WFI on a
// cross-CPU SGI; shared/platform-notes.md). Config bench-ipi.toml: 2 vCPUs pinned to physical CPUs
// 0 and 1, interrupt_mode "emulated"; bench/run.py runs it under cxvisor (-smp 2) and the same image
// directly on QEMU (-smp 2), whose GIC delivers the SGI itself. Two cases, ROUNDS each:
//   ipi_wfi   vCPU 1 waits in WFI (under cxvisor: blocked, woken by the kick)
//   ipi_spin  vCPU 1 runs (spins with interrupts unmasked: under cxvisor, made to exit by the kick)
// Each round: vCPU 0 waits until vCPU 1 is ready, reads the counter, writes ICC_SGI1R_EL1; vCPU 1's
// handler reads the counter first. Output, read by bench/run.py:
//   BENCHNS <name> <median ns> <min ns> <max ns> <rounds>
#include "gic.hpp"

namespace gic = rt::gic;

namespace {
constexpr unsigned ROUNDS = 101;
constexpr uint32_t SGI = 3;

volatile uint64_t g_sent, g_taken;
volatile uint32_t g_seq, g_ready;
volatile bool g_use_wfi;

void sgi_handler(uint32_t, void*) {
    g_taken = rt::counter();
    __atomic_add_fetch(&g_seq, 1, __ATOMIC_RELEASE);
}

[[noreturn]] void vcpu1(unsigned) {
    gic::cpu_init();
    gic::set_handler(SGI, sgi_handler);
    gic::configure(SGI, 0x80, gic::Trigger::Edge);
    gic::enable(SGI);
    for (;;) {
        gic::irq_disable();
        __atomic_store_n(&g_ready, 1, __ATOMIC_RELEASE);
        if (g_use_wfi) {
            gic::wfi(); // woken by the SGI (taken below, once unmasked)
        } else {
            gic::irq_enable();
            const uint32_t seq = __atomic_load_n(&g_seq, __ATOMIC_ACQUIRE);
            while (__atomic_load_n(&g_seq, __ATOMIC_ACQUIRE) == seq) {
            }
        }
        gic::irq_enable();
        gic::irq_disable();
    }
}

void sort(uint64_t* v, unsigned n) {
    for (unsigned i = 1; i < n; ++i)
        for (unsigned j = i; j > 0 && v[j - 1] > v[j]; --j) {
            const uint64_t t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
}

bool measure(const char* name, bool use_wfi) {
    uint64_t ns[ROUNDS];
    g_use_wfi = use_wfi;
    for (unsigned r = 0; r < ROUNDS; ++r) {
        // vCPU 1 ready (and, for WFI, given time to block: 2 ms), then the SGI.
        const uint64_t wait_end = rt::counter() + rt::ms_to_ticks(2000);
        while (!__atomic_load_n(&g_ready, __ATOMIC_ACQUIRE) && rt::counter() < wait_end) {
        }
        const uint64_t settle = rt::counter() + rt::ms_to_ticks(2);
        while (rt::counter() < settle) {
        }
        __atomic_store_n(&g_ready, 0, __ATOMIC_RELEASE);
        const uint32_t seq = __atomic_load_n(&g_seq, __ATOMIC_ACQUIRE);
        const uint64_t sent = rt::counter();
        gic::send_sgi(SGI, 1u << 1);
        const uint64_t end = sent + rt::ms_to_ticks(2000);
        while (__atomic_load_n(&g_seq, __ATOMIC_ACQUIRE) == seq && rt::counter() < end) {
        }
        if (__atomic_load_n(&g_seq, __ATOMIC_ACQUIRE) == seq) {
            rt::check(false, "%s: round %u: the SGI did not arrive within 2 s", name, r);
            return false;
        }
        ns[r] = (g_taken - sent) * 1000000000 / rt::counter_freq();
    }
    sort(ns, ROUNDS);
    rt::printf("BENCHNS %s %lu %lu %lu %u\n", name, ns[ROUNDS / 2], ns[0], ns[ROUNDS - 1], ROUNDS);
    return true;
}
} // namespace

void guest_main() {
    rt::test_start("bench-ipi");
    gic::dist_init();
    gic::cpu_init();
    rt::check(rt::start_cpu(1, vcpu1) == 0, "vcpu 1 started");
    rt::check(measure("ipi_spin", false), "SGIs to a running vcpu 1 arrive");
    rt::check(measure("ipi_wfi", true), "SGIs to vcpu 1 in WFI arrive");
    rt::finish();
}
