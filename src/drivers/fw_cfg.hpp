// cxvisor's driver for QEMU's firmware configuration device, fw_cfg (QEMU docs/specs/fw_cfg.rst,
// QEMU 7.2; devicetree binding qemu,fw-cfg-mmio), used for one thing: reading the VM package from
// a fw_cfg file (vmm/boot_medium.hpp).
//
// Only the MMIO form with the DMA interface: the node "qemu,fw-cfg-mmio" of the host DTB (QEMU's
// aarch64, riscv64 and loongarch64 virt boards; x86 has the I/O-port form, which cxvisor does not
// drive). Registers: data at +0, selector at +8, DMA address at +16, big-endian on MMIO. Every
// transfer goes through the DMA interface: an FWCfgDmaAccess descriptor (control, length,
// address, all big-endian) whose address is written to the DMA register, high half then low half
// (the low half starts it); QEMU performs it before the write completes, and the control word
// reads 0 when it succeeded, with bit 0 set when it failed. A file is read by selecting its key
// and skipping to the offset (one descriptor), then reading (a second).
//
// Cache coherency: no cache maintenance is done for the DMA (the descriptor, the directory buffer
// or the destination frames), so only a DMA-coherent fw_cfg is used (its node says
// "dma-coherent", as QEMU's do, or the ISA's default is coherent; fdt/dma_capable.hpp). A guest
// running with its caches off then sees what the device wrote, since it writes memory, not a cache.
//
// The descriptor and directory entry live in cxvisor's image (identity-mapped: their address is
// their bus address). open() and File::read_at_boot run on the boot CPU alone with the MMU off
// (physical addresses; no lock: with the MMU off every access is to Device memory, where the
// architecture does not promise that a lock's exclusive accesses work). Once cxvisor's tables map
// the window, File::read may run on any CPU; one lock serialises its transfers.
#pragma once
#include "addrspace/addr.hpp"
#include "addrspace/image_medium.hpp"
#include "base/result.hpp"
#include "fdt/fdt.hpp"

namespace fw_cfg {

// What the host DTB says: the register window, and whether its DMA is coherent.
struct Probe {
    bool found = false;
    PhysRange mmio{};
    bool dma_coherent = false;
};
Probe probe(const Fdt& fdt);

// One fw_cfg file (an item with a directory entry, key 0x20 and up), read by DMA.
class File final : public ImageMedium {
public:
    File() = default;
    File(u16 key, u32 size) : m_key(key), m_size(size) {}
    u64 size() const { return m_size; }
    Result<void> read(u64 offset, HostPhysAddr dst, usize len) override;
    Result<void> read_at_boot(u64 offset, HostPhysAddr dst, usize len); // boot CPU alone, no lock

private:
    u16 m_key = 0;
    u32 m_size = 0;
};

// Uses the device `p` found. Checks the signature and the DMA interface, then looks `name` up in
// the file directory. Errors: NotFound (no such file: not an error for the caller), Unsupported
// (no DMA-coherent fw_cfg with the DMA interface), DeviceError (a transfer failed).
Result<File> open(const Probe& p, const char* name);

} // namespace fw_cfg
