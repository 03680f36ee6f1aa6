// isolation, the x86_64 part: above the VM's RAM, where a PC has its PCI hole, IOAPIC, HPET, local
// APIC and the BIOS ROM (none of which an x86 VM of cxvisor's has: each must abort).
#include "rt.hpp"

extern const uint64_t g_host_probes[] = {0xE0000000, 0xFEC00000, 0xFED00000, 0xFEE00000, 0xFFFC0000, 0xFFFFF000};
extern const unsigned g_host_probe_count = sizeof g_host_probes / sizeof g_host_probes[0];
