// isolation, the riscv64 part: below RAM, where QEMU virt has its boot ROM, test/reset device,
// RTC, CLINT, PLIC, virtio-mmio, flash and PCIe (the 16550 at 0x1000_0000 is the VM's own).
#include "rt.hpp"

extern const uint64_t g_host_probes[] = {0x00000000, 0x00100000, 0x00101000, 0x02000000, 0x0C000000, 0x0C200000,
                                         0x10001000, 0x20000000, 0x30000000, 0x40000000, 0x7FFFF000};
extern const unsigned g_host_probe_count = sizeof g_host_probes / sizeof g_host_probes[0];
