// cxvisor's own translation on x86_64: a 4-level identity map (VA == PA) built with the generic
// walker in HostX86Format (page_format.hpp). RAM is RW + NX, cxvisor's text RX, its rodata R + NX,
// its device windows (LAPIC, IOAPICs) RW + NX uncached. Low memory (below 1 MiB: BIOS data, the
// AP trampoline) is not mapped: the APs leave the trampoline on the boot tables (boot.S).
#pragma once
#include "kernel/host_platform.hpp"

namespace arch {

// Boot CPU: builds the tables and loads CR3 (EFER.NXE first). Other CPUs: mmu_enable_secondary().
// (kernel/host_identity_map.hpp: RAM, p.devices and `extra` windows.)
Result<void> mmu_init(const HostPlatform& p, const PhysRange* extra, usize extra_count);
void mmu_enable_secondary();

} // namespace arch
