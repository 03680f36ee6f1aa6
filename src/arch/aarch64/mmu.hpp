// The hypervisor's own EL2 stage-1 translation: identity map (VA == PA) built with the generic
// page-table walker in the El2Format. RAM is RW and never executable; cxvisor's text is RX and its
// rodata R; device regions are Device-nGnRE. SCTLR_EL2.WXN backs this up in hardware. Above it,
// one page per CPU serves as the host window for memory the identity map does not cover.
#pragma once
#include "addrspace/addr.hpp"
#include "base/result.hpp"

namespace arch {

struct MmuRegion {
    u64 base;
    u64 size;
    bool device;
};

// Boot CPU: builds the tables and turns the MMU on, and installs the host window
// (frames_set_host_window). Secondary CPUs: mmu_enable_secondary().
Result<void> mmu_init(const MmuRegion* ram, usize ram_count, const MmuRegion* devices, usize device_count);
void mmu_enable_secondary();

// The host window (see kernel/frames.hpp HostWindowRead): each CPU owns one 4 KiB slot of EL2 VA
// above everything the identity map covers. A read maps the page read-only and execute-never with
// the guest's memory type into the calling CPU's slot, copies, and unmaps it again (TLBI VAE2IS),
// so nothing stays mapped in between. Denied for memory the identity map already covers (a second
// mapping with another memory type would be a mismatched-attribute alias: Arm ARM DDI0487 K.a,
// B2 "Mismatched memory attributes"), for Device memory other than naturally aligned 4-byte words, and for addresses beyond
// the CPU's physical address size. Caller: frames_access_host, interrupts masked.
Result<void> host_window_read(HostPhysAddr pa, void* dst, usize len, bool device);

} // namespace arch
