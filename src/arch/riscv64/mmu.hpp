// cxvisor's own HS-mode translation: an Sv39 identity map (VA == PA) built with the generic
// page-table walker in HostSv39Format. RAM is RW and never executable, cxvisor's text RX, its
// rodata R; its device windows RW. Sv39 rather than Sv48: every RISC-V hart with paging that has
// Sv48 also has Sv39 (Privileged Spec 20211203, 4.1.11: Sv48 implementations must support Sv39),
// one level fewer per walk, and QEMU virt's RAM and devices all lie below 2^38; a machine with
// RAM above that is refused at boot with a clear error.
#pragma once
#include "kernel/host_platform.hpp"

namespace arch {

// Boot hart: builds the tables and turns translation on. Other harts: mmu_enable_secondary().
// (kernel/host_identity_map.hpp: RAM, p.devices and `extra` windows.)
Result<void> mmu_init(const HostPlatform& p, const PhysRange* extra, usize extra_count);
void mmu_enable_secondary();

// Boot hart, translation still off: the widest satp mode this hart implements, as virtual-address
// bits (57, 48, 39; 0 if none of them). A VS-mode guest gets the same modes for its satp (Privileged
// Spec 20211203, 8.2.18 "vsatp": when V=1 vsatp substitutes for satp and a write of an unsupported
// MODE is ignored), and cxvisor cannot narrow them without trapping every satp write (hstatus.VTVM),
// so this is what the guest's device tree says (mmu-type, prepare_guest_dt). Measured, not read
// from the host DT: QEMU 7.2's DT says "riscv,sv48" while its harts take Sv57.
u32 satp_probe_va_bits();

} // namespace arch
