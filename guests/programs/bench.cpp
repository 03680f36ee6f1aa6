// bench: guest-visible cost of exits, measured with CNTVCT_EL0. Under QEMU -icount the counter
// advances per executed instruction, so the numbers are reproducible. Output, one line per
// benchmark (machine-readable, read by bench/):
//   BENCH <name> <counter ticks per iteration x 1000> <CNTFRQ_EL0>
#include "rt.hpp"

namespace {
constexpr uint64_t ITERS = 1000;

template <typename F> void bench(const char* name, F body) {
    body(); // warm up (first-touch effects stay out of the numbers)
    uint64_t t0 = rt::counter();
    for (uint64_t i = 0; i < ITERS; ++i) body();
    uint64_t t1 = rt::counter();
    rt::printf("BENCH %s %lu %lu\n", name, (t1 - t0) * 1000 / ITERS, rt::counter_freq());
}
} // namespace

void guest_main() {
    rt::test_start("bench");
    bench("add100", [] {
        asm volatile(".rept 100\n add x9, x9, #1\n .endr" ::: "x9");
    });
    if (rt::hypercalls_available())
        bench("hvc_nop", [] { rt::hvc_call(cxv_abi::HC_NOP); });
    else
        rt::check(false, "HC_NOP available");
    bench("mmio_read", [] { (void)rt::read32(rt::UART_BASE + 0x018); });
    // Null PSCI calls, HVC #0 like hvc_nop. PSCI_VERSION is a constant cxvisor's exit vector answers
    // itself (boot.S low64_sync); PSCI_FEATURES depends on its argument and takes the full exit
    // path, for comparison. On bare QEMU (no EL2) QEMU's own PSCI answers the HVC.
    bench("psci_version", [] { (void)rt::hvc_call(cxv_abi::PSCI_VERSION); });
    bench("psci_features", [] { (void)rt::hvc_call(cxv_abi::PSCI_FEATURES, cxv_abi::PSCI_CPU_ON_64); });
}
