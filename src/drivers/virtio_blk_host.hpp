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
// Data moves by the device's DMA to and from the caller's buffer, which must be cxvisor RAM
// (identity-mapped, physically contiguous: frames_alloc memory). Guest memory is never handed to
// the host device: the virtio-blk device copies between the guest and its scratch buffer.
//
// Locking: one lock serialises every request; any CPU may call read/write/flush.
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
        u32 intid = 0;         // its interrupt (GIC INTID), 0: none known (the driver polls)
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
    // Sector-aligned transfers inside the disk, `buf` in cxvisor RAM; at most kMaxTransfer bytes.
    // OutOfRange outside the disk; Denied writing a read-only disk; Aborted when the device
    // answers with an error or does not answer within kTimeoutMs (the driver then stops for good:
    // the device may still own the buffers).
    static constexpr usize kMaxTransfer = 4 * MiB;
    Result<void> read(u64 offset, void* buf, usize len) { return request(virtio::kBlkTIn, offset, buf, len); }
    Result<void> write(u64 offset, const void* buf, usize len) {
        return request(virtio::kBlkTOut, offset, const_cast<void*>(buf), len);
    }
    // VIRTIO_BLK_T_FLUSH when the device has a write cache (VIRTIO_BLK_F_FLUSH); without it every
    // completed write is already durable (5.2.6.2), so there is nothing to do.
    Result<void> flush();
    // InterruptACK of whatever InterruptStatus holds: the device lowers its interrupt line.
    void ack_interrupt();

private:
    static constexpr u16 kQueueSize = 8; // one request (3 descriptors) at a time
    static constexpr u64 kTimeoutMs = 30'000;

    Result<void> setup(const Probe& p);
    Result<void> request(u32 type, u64 offset, void* buf, usize len);
    u32 reg(u32 off) const;
    void set_reg(u32 off, u32 v);

    uptr m_regs = 0;
    u32 m_intid = 0;           // enabled at the interrupt controller: a request sleeps in WFI
    u64 m_routed_to = ~0ull;   // the CPU (hardware id) the interrupt is routed to now
    u32 m_version = 0;
    u64 m_capacity = 0; // sectors
    bool m_read_only = false;
    bool m_flush = false;  // VIRTIO_BLK_F_FLUSH negotiated
    bool m_broken = false; // a request timed out: the device may still own the buffers
    u8* m_ring = nullptr;  // 2 pages: descriptors + available ring, then the used ring
    u8* m_req = nullptr;   // 1 page: request header at 0, status byte at 64
    u16 m_avail = 0, m_used = 0;
    Spinlock m_lock;
};

// A VM's region [offset, offset + size) of the host disk. The image checks at VM creation that the
// region lies inside the disk and overlaps no other VM's (claim()); writes are durable when a
// flush completes.
class HostRegionBackend final : public virtio::BlockBackend {
public:
    // NotFound without a host disk, OutOfRange when the region is not inside it, Busy when it
    // overlaps a region another live device holds; *why says which in words.
    static Result<HostRegionBackend*> create(u64 offset, u64 size, const char** why);
    ~HostRegionBackend() override;
    u64 size() const override { return m_size; }
    Result<void> read(u64 offset, void* dst, usize len) override;
    Result<void> write(u64 offset, const void* src, usize len) override;
    Result<void> flush() override;

private:
    HostRegionBackend(HostDisk& disk, u64 base, u64 size) : m_disk(disk), m_base(base), m_size(size) {}
    HostDisk& m_disk;
    u64 m_base, m_size;
};
