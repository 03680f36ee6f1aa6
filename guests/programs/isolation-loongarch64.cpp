// isolation, the loongarch64 part: outside the VM's RAM, where QEMU LoongArch virt has its PCH-PIC,
// RTC, boot flash, fw_cfg, the page after its UART (the VM's 16550 is the page at 0x1fe0_0000),
// PCI configuration space and PCI MMIO (hw/loongarch/virt.c); none of it is the VM's.
#include "rt.hpp"

extern const uint64_t g_host_probes[] = {0x10000000, 0x100D0100, 0x1C000000, 0x1E020000,
                                         0x1FE01000, 0x20000000, 0x40000000};
extern const unsigned g_host_probe_count = sizeof g_host_probes / sizeof g_host_probes[0];
