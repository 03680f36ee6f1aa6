// cxvisor's own driver for the host machine's virtio-blk disk (virtio spec v1.2: 4.2 "Virtio Over
// MMIO", 5.2 "Block Device", 3.1 "Device Initialization"), and the block backend that gives a VM
// one region of that disk.
//
// One disk: the first virtio,mmio node of the host DTB whose DeviceID is 2 (QEMU: `-drive
// file=disk.img,format=raw,if=none,id=d0 -device virtio-blk-device,drive=d0`). Both register
// layouts are driven: version 2 (modern) and version 1 (legacy, QEMU's default for virtio-mmio
// unless `-global virtio-mmio.force-legacy=false`). One queue, one request at a time: cxvisor's
// requests are synchronous anyway, they come from a vCPU's exit. The requesting CPU waits for the
// used ring in WFI with the disk's interrupt routed to it (masked: it only wakes the CPU), so that
// under an emulator the waiting CPU's thread sleeps and leaves the host's cores to the emulated
// disk's I/O; without a known interrupt it polls.
//
// Scatter-gather, zero-copy: a request is a header, N data descriptors (host-physical segments:
// the guest's own pages, translated by GuestMemory::host_run) and a status byte. Queue size: the
// largest power of two <= min(QueueNumMax, 256) (three pages of ring in either layout: 16 * 256
// bytes of descriptors on the first page, the available ring on the second, the used ring at the
// next page boundary after them, where the legacy layout puts it), so that one host request
// carries a whole guest request of seg_max 254 (virtio/blk.hpp) when the disk allows as many.
// Segments per request: min(queue size - 2, seg_max if the disk offers VIRTIO_BLK_F_SEG_MAX, else
// 1 as Linux assumes); bytes per segment: size_max rounded down to whole sectors if it offers
// VIRTIO_BLK_F_SIZE_MAX (5.2.3, 5.2.4). HostRegionBackend (a DmaBackend, virtio/blk.hpp) cuts the
// guest's requests to these limits.
//
// Cache coherency: the driver issues no cache maintenance for request memory (its rings, the
// header page, or the guest pages a request names), so it takes a disk only if its DMA is
// coherent: its DTB node has "dma-coherent", or the ISA's default is coherent and the node does
// not say "dma-noncoherent" (Devicetree Specification v0.4, 2.3.10-2.3.11; QEMU's aarch64 virt
// board sets dma-coherent on every virtio-mmio node, its riscv64 virt relies on RISC-V's coherent
// default: QEMU's devices access RAM directly); any other disk is refused at init() with one line. A guest running with its caches off sees what the disk wrote, since the disk
// writes memory, not a cache. (The bounce path wrote the guest's pages through cxvisor's cacheable map and cleaned
// them to the point of coherency for that guest; with DMA there is no CPU write to clean.)
//
// Why DMA into a guest's pages is safe: see HostRegionBackend below.
//
// Locking: one lock serialises every request; any CPU may call read/transfer/flush.
#pragma once
#include "addrspace/addr.hpp"
#include "base/result.hpp"
#include "fdt/fdt.hpp"
#include "kernel/spinlock.hpp"
#include "virtio/blk.hpp"

class HostDisk {
public:
    // What probe() found: the register window of the disk's virtio-mmio slot.
    struct Probe {
        bool found = false;
        PhysRange mmio{};
        const char* node = ""; // the DTB node's name
        u32 intid = 0;         // its host interrupt (arch::dt_device_irq), 0: none known (the driver polls)
        bool dma_coherent = false; // DMA is cache-coherent (fdt/dma_capable.hpp dt_dma_coherent)
    };
    // Boot CPU, before cxvisor's MMU maps any device: reads each virtio,mmio node's Magic, Version
    // and DeviceID at its physical address (with the MMU off every access is Device memory). The
    // caller then maps `mmio` as a device region for init().
    static Probe probe(const Fdt& fdt);
    // Boot CPU, after the heap and frame allocator and with `p.mmio` mapped: the driver
    // initialisation of 3.1.1 and one queue. Prints one line either way. Without a disk (or when
    // it fails), present() is false and every VM with a host region fails to start with one line.
    static void init(const Probe& p);
    static HostDisk* get(); // nullptr unless init() succeeded

    u64 capacity_bytes() const { return m_capacity * virtio::kSectorSize; }
    bool read_only() const { return m_read_only; }
    // One request of `type` (kBlkTIn: the disk writes the segments; kBlkTOut: it reads them) at
    // byte `offset`: count (1..segment_budget()) segments of host-physical memory, each at most
    // segment_bytes() and all together a non-zero multiple of the sector size, at most
    // kMaxTransfer, inside the disk (else OutOfRange). Denied writing a read-only disk; DeviceError
    // when the device answers with an error or does not answer within kTimeoutMs (the driver then
    // resets the device, so that it no longer owns the segments, and stops for good).
    static constexpr usize kMaxTransfer = 4 * MiB;
    Result<void> transfer(u32 type, u64 offset, const virtio::HostSegment* segs, u32 count);
    // The one-segment case for a buffer in cxvisor RAM (identity-mapped: its address is its bus
    // address): init()'s probe read.
    Result<void> read(u64 offset, void* buf, usize len);
    u32 segment_budget() const { return m_seg_budget; }
    u32 segment_bytes() const { return m_seg_bytes; }
    u16 queue_size() const { return m_queue_size; }
    // VIRTIO_BLK_T_FLUSH when the device has a write cache (VIRTIO_BLK_F_FLUSH); without it every
    // completed write is already durable (5.2.6.2), so there is nothing to do.
    Result<void> flush();
    // InterruptACK of whatever InterruptStatus holds: the device lowers its interrupt line.
    void ack_interrupt();

private:
    static constexpr u16 kMaxQueueSize = 256; // descriptors of one request: header, segments, status
    static constexpr usize kRingPages = 3;
    static constexpr u64 kTimeoutMs = 30'000;

    Result<void> setup(const Probe& p);
    Result<void> request(u32 type, u64 offset, const virtio::HostSegment* segs, u32 count);
    // After a timeout: reset the device (4.2.3.1) and wait until Status reads 0, after which it
    // may no longer touch the request's memory (2.4.1). false: it did not confirm.
    bool reset_device();
    u32 reg(u32 off) const;
    void set_reg(u32 off, u32 v);

    uptr m_regs = 0;
    u32 m_intid = 0;           // enabled at the interrupt controller: a request sleeps in WFI
    u64 m_routed_to = ~0ull;   // the CPU (hardware id) the interrupt is routed to now
    u32 m_version = 0;
    u64 m_capacity = 0; // sectors
    bool m_read_only = false;
    bool m_flush = false;  // VIRTIO_BLK_F_FLUSH negotiated
    bool m_broken = false; // a request timed out: the driver stopped using the device
    u16 m_queue_size = 0;
    u32 m_seg_budget = 1;  // data segments per request
    u32 m_seg_bytes = 0;   // bytes per segment
    u8* m_ring = nullptr;  // kRingPages pages: descriptors + available ring, then the used ring
    u64 m_used_offset = 0; // of the used ring in m_ring
    u8* m_req = nullptr;   // 1 page: request header at 0, status byte at 64
    u16 m_avail = 0, m_used = 0;
    Spinlock m_lock;
};

// A VM's region [offset, offset + size) of the host disk. The image checks at VM creation that the
// region lies inside the disk and overlaps no other VM's (claim()); writes are durable when a
// flush completes. The host disk moves the data by DMA straight to and from the guest's pages
// (virtio::DmaBackend); a page of cxvisor RAM serves as the bounce buffer for requests that split
// a sector over descriptors.
//
// Why it is safe to let the disk DMA into a VM's pages: the frames a request names stay that
// VM's until the request has completed. (a) A request runs entirely inside the exit of the vCPU
// that notified (BlockDevice::notify, under the device lock; the host request is waited for
// there), and a VM's RAM is freed only by AddrSpace::reset() in Vm::end_life/finish_stop (or
// begin_life, for a VM that does not run), which run after every vCPU of the VM went off and
// after reset_virtio() took each device's lock, i.e. after any request in flight completed.
// (b) No stage-2 change of a running VM moves or frees a private frame: a fault backs a hole, an
// unshare replaces a borrowed image frame (never freed while the VM lives; a request the device
// writes never names one, host_run unshares first), splitting a block keeps its frames, and unmap
// is used only for shared-memory regions, which GuestRam never hands out. A request that times
// out resets the disk before it returns, so the disk no longer owns the memory (see HostDisk).
class HostRegionBackend final : public virtio::DmaBackend {
public:
    // NotFound without a host disk, OutOfRange when the region is not inside it, Busy when it
    // overlaps a region another live device holds, NoMemory without a page for the bounce
    // buffer; *why says which in words.
    static Result<HostRegionBackend*> create(u64 offset, u64 size, const char** why);
    ~HostRegionBackend() override;
    u64 size() const override { return m_size; }
    Result<void> flush() override;

private:
    HostRegionBackend(HostDisk& disk, u64 base, u64 size, u8* bounce);
    Limits limits() const override;
    Result<void> dma(bool to_memory, u64 offset, const virtio::HostSegment* segs, u32 count) override;
    HostDisk& m_disk;
    u64 m_base, m_size;
};
