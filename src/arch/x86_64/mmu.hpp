// cxvisor's own translation on x86_64: an identity map (VA == PA) built with the generic walker in
// HostX86Format (page_format.hpp), 5-level where the CPU offers LA57 (CPUID 7.0:ECX[16]), else
// 4-level. boot.S made that choice before paging was on (CR4.LA57 cannot change in long mode) and
// entered long mode on boot tables of that depth; mmu_init builds cxvisor's tables to the depth
// CR4 says. RAM is RW + NX, cxvisor's text RX, its rodata R + NX, its device windows (LAPIC,
// IOAPICs) RW + NX uncached. Low memory (below 1 MiB: BIOS data, the AP trampoline) is not mapped:
// the APs leave the trampoline on the boot tables (boot.S).
#pragma once
#include "kernel/host_platform.hpp"
#include "page_format.hpp"

namespace arch {

// The paging this CPU runs in (CR4.LA57), the same on every CPU.
X86Paging host_paging();

// Boot CPU: builds the tables and loads CR3 (EFER.NXE first). Other CPUs: mmu_enable_secondary().
// (kernel/host_identity_map.hpp: RAM, p.devices and `extra` windows.)
Result<void> mmu_init(const HostPlatform& p, const PhysRange* extra, usize extra_count);
void mmu_enable_secondary();

} // namespace arch
