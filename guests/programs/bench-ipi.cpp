// bench-ipi: latency of an IPI from one vCPU to another that runs on a different physical CPU, in
// wall-clock time (QEMU without -icount: QEMU 7.2 with -icount and -smp 2 does not wake a WFI on a
// cross-CPU interrupt; shared/platform-notes.md). The IPI is the ISA's (bench-ipi-<isa>.cpp):
// aarch64 an SGI through the vGIC (ICC_SGI1R_EL1), riscv64 an SBI send_ipi (the target's SSIP).
// Config bench-ipi.toml: 2 vCPUs pinned to physical CPUs 0 and 1; bench/run.py runs it under
// cxvisor (-smp 2) and the same image directly on QEMU (-smp 2). Two cases, ROUNDS each:
//   ipi_wfi   vCPU 1 waits in WFI (under cxvisor: blocked, woken by the kick)
//   ipi_spin  vCPU 1 runs (spins with interrupts unmasked: under cxvisor, made to exit by the kick)
// Each round: vCPU 0 waits until vCPU 1 is ready, reads the counter, sends the IPI; vCPU 1's
// handler reads the counter first. Output, read by bench/run.py:
//   BENCHNS <name> <median ns> <min ns> <max ns> <rounds>
#include "bench-ipi.hpp"

namespace {
constexpr unsigned ROUNDS = 101;

volatile uint32_t g_seq, g_ready;

uint64_t ms_ticks(uint64_t ms) { return ms * rt::counter_freq() / 1000; }
volatile bool g_use_wfi;

void on_ipi() { __atomic_add_fetch(&g_seq, 1, __ATOMIC_RELEASE); }

[[noreturn]] void vcpu1(unsigned) {
    ipi::init_receiver(on_ipi);
    for (;;) {
        ipi::irq_off();
        __atomic_store_n(&g_ready, 1, __ATOMIC_RELEASE);
        if (g_use_wfi) {
            ipi::wait(); // woken by the IPI (taken below, once unmasked)
        } else {
            ipi::irq_on();
            const uint32_t seq = __atomic_load_n(&g_seq, __ATOMIC_ACQUIRE);
            while (__atomic_load_n(&g_seq, __ATOMIC_ACQUIRE) == seq) {
            }
        }
        ipi::irq_on();
        ipi::irq_off();
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
        // vCPU 1 ready (and, for WFI, given time to block: 2 ms), then the IPI.
        const uint64_t wait_end = rt::counter() + ms_ticks(2000);
        while (!__atomic_load_n(&g_ready, __ATOMIC_ACQUIRE) && rt::counter() < wait_end) {
        }
        const uint64_t settle = rt::counter() + ms_ticks(2);
        while (rt::counter() < settle) {
        }
        __atomic_store_n(&g_ready, 0, __ATOMIC_RELEASE);
        const uint32_t seq = __atomic_load_n(&g_seq, __ATOMIC_ACQUIRE);
        const uint64_t sent = rt::counter();
        ipi::send();
        const uint64_t end = sent + ms_ticks(2000);
        while (__atomic_load_n(&g_seq, __ATOMIC_ACQUIRE) == seq && rt::counter() < end) {
        }
        if (__atomic_load_n(&g_seq, __ATOMIC_ACQUIRE) == seq) {
            rt::check(false, "%s: round %u: the IPI did not arrive within 2 s", name, r);
            return false;
        }
        ns[r] = (ipi::taken_at - sent) * 1000000000 / rt::counter_freq();
    }
    sort(ns, ROUNDS);
    rt::printf("BENCHNS %s %lu %lu %lu %u\n", name, ns[ROUNDS / 2], ns[0], ns[ROUNDS - 1], ROUNDS);
    return true;
}
} // namespace

void guest_main() {
    rt::test_start("bench-ipi");
    ipi::init_sender();
    rt::check(rt::start_cpu(1, vcpu1) == 0, "vcpu 1 started");
    rt::check(measure("ipi_spin", false), "IPIs to a running vcpu 1 arrive");
    rt::check(measure("ipi_wfi", true), "IPIs to vcpu 1 in WFI arrive");
    rt::finish();
}
