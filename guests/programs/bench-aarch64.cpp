// bench, the aarch64 cases (bench.cpp, bench.hpp), timed with CNTVCT_EL0.
#include "bench.hpp"

void bench::cases() {
    run("add100", [] {
        asm volatile(".rept 100\n add x9, x9, #1\n .endr" ::: "x9");
    });
    if (rt::hypercalls_available())
        run("hvc_nop", [] { rt::hvc_call(cxv_abi::HC_NOP); });
    else
        rt::check(false, "HC_NOP available");
    run("mmio_read", [] { (void)rt::read32(rt::UART_BASE + 0x018); });
    // Null PSCI calls, HVC #0 like hvc_nop. PSCI_VERSION is a constant cxvisor's exit vector answers
    // itself (boot.S low64_sync); PSCI_FEATURES depends on its argument and takes the full exit
    // path, for comparison. On bare QEMU (no EL2) QEMU's own PSCI answers the HVC.
    run("psci_version", [] { (void)rt::hvc_call(cxv_abi::PSCI_VERSION); });
    run("psci_features", [] { (void)rt::hvc_call(cxv_abi::PSCI_FEATURES, cxv_abi::PSCI_CPU_ON_64); });
}
