// isolation, the aarch64 part: below RAM, where QEMU virt has its flash, GIC, RTC, virtio-mmio,
// PCIe (the PL011 at 0x0900_0000 is the VM's own).
#include "rt.hpp"

extern const uint64_t g_host_probes[] = {0x00000000, 0x04000000, 0x08000000, 0x080A0000, 0x09001000, 0x09010000,
                                         0x09030000, 0x0A000000, 0x10000000, 0x3EFF0000, 0x3FFFF000};
extern const unsigned g_host_probe_count = sizeof g_host_probes / sizeof g_host_probes[0];
