// The hypervisor's own EL2 stage-1 translation: identity map (VA == PA) built with the generic
// page-table walker in the El2Format. RAM is RW and never executable; cxvisor's text is RX and its
// rodata R; device regions are Device-nGnRE. SCTLR_EL2.WXN backs this up in hardware.
#pragma once
#include "addrspace/addr.hpp"
#include "base/result.hpp"

namespace arch {

struct MmuRegion {
    u64 base;
    u64 size;
    bool device;
};

// Boot CPU: builds the tables and turns the MMU on. Secondary CPUs: mmu_enable_secondary().
Result<void> mmu_init(const MmuRegion* ram, usize ram_count, const MmuRegion* devices, usize device_count);
void mmu_enable_secondary();

} // namespace arch
