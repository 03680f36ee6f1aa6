// cxvisor's driver for the host's virtio-blk disk. See virtio_blk_host.hpp.
#include "drivers/virtio_blk_host.hpp"
#include "fdt/dma_capable.hpp"

#include "abi/vm_package.hpp"
#include "arch.hpp"
#include "base/format.hpp"
#include "base/string.hpp"
#include "kernel/frames.hpp"
#include "kernel/irq.hpp"
#include "kernel/log.hpp"
#include "kernel/percpu.hpp"
#include "kernel/timer.hpp"
#include <new>

namespace {

// virtio-mmio registers (4.2.2 version 2; 4.2.4 legacy version 1, where they differ).
constexpr u32 kMagic = 0x000, kVersion = 0x004, kDeviceId = 0x008;
constexpr u32 kDeviceFeatures = 0x010, kDeviceFeaturesSel = 0x014;
constexpr u32 kDriverFeatures = 0x020, kDriverFeaturesSel = 0x024;
constexpr u32 kLegacyGuestPageSize = 0x028;
constexpr u32 kQueueSel = 0x030, kQueueNumMax = 0x034, kQueueNum = 0x038;
constexpr u32 kLegacyQueueAlign = 0x03c, kLegacyQueuePfn = 0x040;
constexpr u32 kQueueReady = 0x044, kQueueNotify = 0x050;
constexpr u32 kInterruptStatus = 0x060, kInterruptAck = 0x064, kStatus = 0x070;
constexpr u32 kQueueDescLow = 0x080, kQueueDescHigh = 0x084;
constexpr u32 kQueueDriverLow = 0x090, kQueueDriverHigh = 0x094;
constexpr u32 kQueueDeviceLow = 0x0a0, kQueueDeviceHigh = 0x0a4;
constexpr u32 kConfig = 0x100;
constexpr u32 kMagicValue = 0x74726976; // "virt"

// Device status bits (2.1).
constexpr u32 kStAcknowledge = 1, kStDriver = 2, kStDriverOk = 4, kStFeaturesOk = 8, kStFailed = 128;

constexpr u64 kPage = 4096;
constexpr u32 kStatusOffset = 64;  // in the request page, after the 16-byte header
constexpr u32 kProbeOffset = 512;  // in the request page: init()'s read of sector 0

struct Desc {
    u64 addr;
    u32 len;
    u16 flags;
    u16 next;
};

HostDisk g_disk;
bool g_disk_ok;

// The device's addresses for cxvisor memory: cxvisor runs identity-mapped (kernel/frames.hpp,
// VA == PA), so a buffer's address is its bus address on a board without an IOMMU.
u64 bus_addr(const void* p) { return u64(uptr(p)); }

u32 read32(uptr a) { return *reinterpret_cast<volatile const u32*>(a); }

// Host-region claims: no two devices (of one VM or two) may hold overlapping regions.
struct Claim {
    u64 base = 0, size = 0;
    const HostRegionBackend* owner = nullptr;
};
constexpr usize kMaxClaims = vm_package::MAX_VMS * vm_package::MAX_EMU_DEVICES;
Claim g_claims[kMaxClaims];
Spinlock g_claims_lock;

IrqAction disk_irq(u32, void* ctx) {
    static_cast<HostDisk*>(ctx)->ack_interrupt(); // a late completion interrupt: lower the line
    return IrqAction::Done;
}

} // namespace

HostDisk::Probe HostDisk::probe(const Fdt& fdt) {
    FdtNode n{};
    for (;;) {
        auto next = fdt.find_compatible("virtio,mmio", n);
        if (next.is_error()) return {};
        n = next.value();
        auto reg = fdt.reg(n);
        if (reg.is_error() || reg.value().count() == 0 || !fdt.is_enabled(n)) continue;
        const FdtRange r = reg.value()[0];
        auto base = fdt.translate(n, r.base);
        if (base.is_error() || r.size < kConfig + 8 || base.value() % kPage + r.size > kPage) continue;
        const uptr a = uptr(base.value());
        const u32 version = read32(a + kVersion);
        if (read32(a + kMagic) == kMagicValue && (version == 1 || version == 2) &&
            read32(a + kDeviceId) == virtio::kDeviceIdBlock)
            return {true, {HostPhysAddr(base.value()), r.size}, fdt.name(n), arch::dt_device_irq(fdt, n),
                    dt_dma_coherent(fdt, n, arch::DMA_COHERENT_BY_DEFAULT)};
    }
}

void HostDisk::init(const Probe& p) {
    if (!p.found) return; // no line: most machines have no disk for cxvisor, and need none
    if (!p.dma_coherent) {
        kprint("cxvisor: host disk %s: not DMA-coherent (%s in the host DTB), and this driver does no cache "
               "maintenance for DMA; VMs with a host region cannot start\n",
               p.node, arch::DMA_COHERENT_BY_DEFAULT ? "\"dma-noncoherent\"" : "no \"dma-coherent\"");
        return;
    }
    if (auto r = g_disk.setup(p); r.is_error()) {
        kprint("cxvisor: host disk %s: initialisation failed (%s); VMs with a host region cannot start\n", p.node,
               error_name(r.error()));
        return;
    }
    // One read of sector 0 proves the whole path (queue, DMA, completion) before any VM relies on
    // it; a disk that cannot do that is not offered.
    if (auto r = g_disk.read(0, g_disk.m_req + kProbeOffset, virtio::kSectorSize); r.is_error()) {
        kprint("cxvisor: host disk %s: reading sector 0 failed (%s); VMs with a host region cannot start\n", p.node,
               error_name(r.error()));
        return;
    }
    g_disk_ok = true;
    if (p.intid) { // from now on a request sleeps until the disk's interrupt instead of spinning
        irq_register(p.intid, disk_irq, &g_disk);
        g_disk.m_intid = p.intid;
    }
    char irq[24] = "polled";
    if (p.intid) format(irq, sizeof irq, "interrupt %u", p.intid);
    kprint("cxvisor: host disk %s: %lu MiB%s (virtio-mmio v%u), %s\n", p.node, g_disk.capacity_bytes() / MiB,
           g_disk.m_read_only ? ", read-only" : "", g_disk.m_version, irq);
}

HostDisk* HostDisk::get() { return g_disk_ok ? &g_disk : nullptr; }

u32 HostDisk::reg(u32 off) const { return *reinterpret_cast<volatile const u32*>(m_regs + off); }
void HostDisk::set_reg(u32 off, u32 v) { *reinterpret_cast<volatile u32*>(m_regs + off) = v; }

Result<void> HostDisk::setup(const Probe& p) {
    m_regs = uptr(p.mmio.base.value());
    m_version = reg(kVersion);
    // 3.1.1: reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK (version 2), queues, DRIVER_OK.
    set_reg(kStatus, 0);
    for (u32 i = 0; i < 1000000 && reg(kStatus) != 0; ++i) arch::cpu_relax(); // 4.2.3.1: reset completes at 0
    if (reg(kStatus) != 0) return Error::Busy;
    set_reg(kStatus, kStAcknowledge);
    set_reg(kStatus, kStAcknowledge | kStDriver);
    set_reg(kDeviceFeaturesSel, 0);
    const u64 offered_lo = reg(kDeviceFeatures);
    set_reg(kDeviceFeaturesSel, 1);
    const u64 offered = offered_lo | u64(reg(kDeviceFeatures)) << 32;
    // Only what this driver uses: FLUSH (a write cache to flush), RO, the segment limits SEG_MAX
    // and SIZE_MAX (their config fields are valid only when negotiated, 5.2.4), and VERSION_1 on a
    // modern device (which must offer it: 4.2.2.2 ... a version 2 device without it is legacy-only).
    u64 want = virtio::kBlkFFlush | virtio::kBlkFRo | virtio::kBlkFSegMax | virtio::kBlkFSizeMax;
    if (m_version == 2) {
        if (!(offered & virtio::kFVersion1)) return Error::Unsupported;
        want |= virtio::kFVersion1;
    }
    const u64 accepted = offered & want;
    set_reg(kDriverFeaturesSel, 0);
    set_reg(kDriverFeatures, u32(accepted));
    set_reg(kDriverFeaturesSel, 1);
    set_reg(kDriverFeatures, u32(accepted >> 32));
    u32 status = kStAcknowledge | kStDriver;
    if (m_version == 2) {
        status |= kStFeaturesOk;
        set_reg(kStatus, status);
        if (!(reg(kStatus) & kStFeaturesOk)) {
            set_reg(kStatus, status | kStFailed);
            return Error::Unsupported;
        }
    }
    m_flush = accepted & virtio::kBlkFFlush;
    m_read_only = accepted & virtio::kBlkFRo;
    m_capacity = u64(reg(kConfig)) | u64(reg(kConfig + 4)) << 32; // 5.2.4 capacity, read before DRIVER_OK
    // 5.2.4: size_max at 8 (the most bytes in one segment), seg_max at 12 (the most segments in a
    // request). Without SIZE_MAX any segment size is fine; without SEG_MAX, one data segment per
    // request, as Linux's driver assumes.
    m_seg_bytes = u32(kMaxTransfer);
    if (accepted & virtio::kBlkFSizeMax) {
        const u32 size_max = reg(kConfig + 8);
        if (size_max < m_seg_bytes) m_seg_bytes = size_max - size_max % virtio::kSectorSize;
    }
    const u32 seg_max = accepted & virtio::kBlkFSegMax ? reg(kConfig + 12) : 1;
    if (m_seg_bytes == 0) { // not one sector in a descriptor: this driver cannot use the disk
        set_reg(kStatus, status | kStFailed);
        return Error::Unsupported;
    }

    auto ring = frames_alloc(kRingPages, kPage);
    auto req = frames_alloc(1, kPage);
    if (ring.is_error() || req.is_error()) {
        if (ring.is_ok()) frames_free(ring.value(), kRingPages);
        if (req.is_ok()) frames_free(req.value(), 1);
        set_reg(kStatus, status | kStFailed);
        return Error::NoMemory;
    }
    m_ring = reinterpret_cast<u8*>(ring.value().value()); // identity map: frames are reachable as is
    m_req = reinterpret_cast<u8*>(req.value().value());

    set_reg(kQueueSel, 0);
    const u32 max = reg(kQueueNumMax);
    // The largest power of two (2.7: split queue sizes are) within both the device's maximum and
    // the ring pages; at least header, one segment and the status.
    m_queue_size = kMaxQueueSize;
    while (m_queue_size > max) m_queue_size /= 2;
    // A legacy device finds the rings from a 32-bit page frame number (4.2.4: QueuePFN).
    const bool unreachable = m_version == 1 && bus_addr(m_ring) / kPage > 0xffff'ffffull;
    if (m_queue_size < 4 || unreachable || (m_version == 2 ? reg(kQueueReady) : reg(kLegacyQueuePfn)) != 0) {
        frames_free(ring.value(), kRingPages);
        frames_free(req.value(), 1);
        set_reg(kStatus, status | kStFailed);
        return Error::Unsupported;
    }
    const u32 budget = u32(m_queue_size - 2);
    m_seg_budget = seg_max == 0 ? 1 : seg_max < budget ? seg_max : budget;
    set_reg(kQueueNum, m_queue_size);
    // 4.2.4 (legacy, QueueAlign 4096): the used ring at the first page boundary after the
    // descriptors (16 bytes each) and the available ring (flags, idx, ring[], used_event); the
    // modern layout takes the same places.
    m_used_offset = align_up(16 * u64(m_queue_size) + 6 + 2 * u64(m_queue_size), kPage);
    const u64 desc = bus_addr(m_ring), avail = desc + 16 * m_queue_size, used = desc + m_used_offset;
    if (m_version == 2) {
        set_reg(kQueueDescLow, u32(desc)), set_reg(kQueueDescHigh, u32(desc >> 32));
        set_reg(kQueueDriverLow, u32(avail)), set_reg(kQueueDriverHigh, u32(avail >> 32));
        set_reg(kQueueDeviceLow, u32(used)), set_reg(kQueueDeviceHigh, u32(used >> 32));
        set_reg(kQueueReady, 1);
    } else {
        // 4.2.4: the legacy layout is descriptors, available ring, then the used ring at the next
        // QueueAlign boundary, all found from one page frame number.
        set_reg(kLegacyGuestPageSize, u32(kPage));
        set_reg(kLegacyQueueAlign, u32(kPage));
        set_reg(kLegacyQueuePfn, u32(desc / kPage));
    }
    set_reg(kStatus, status | kStDriverOk);
    return {};
}

Result<void> HostDisk::read(u64 offset, void* buf, usize len) {
    const virtio::HostSegment seg{bus_addr(buf), u32(len)};
    if (len > kMaxTransfer) return Error::OutOfRange;
    return request(virtio::kBlkTIn, offset, &seg, 1);
}

Result<void> HostDisk::transfer(u32 type, u64 offset, const virtio::HostSegment* segs, u32 count) {
    if (type != virtio::kBlkTIn && type != virtio::kBlkTOut) return Error::InvalidArgument;
    return request(type, offset, segs, count);
}

Result<void> HostDisk::request(u32 type, u64 offset, const virtio::HostSegment* segs, u32 count) {
    if (type != virtio::kBlkTFlush) {
        if (count == 0 || count > m_seg_budget) return Error::OutOfRange;
        u64 len = 0;
        for (u32 i = 0; i < count; ++i) {
            if (segs[i].len == 0 || segs[i].len > m_seg_bytes) return Error::OutOfRange;
            len += segs[i].len;
        }
        if (offset % virtio::kSectorSize || len % virtio::kSectorSize || len > kMaxTransfer ||
            offset > capacity_bytes() || len > capacity_bytes() - offset)
            return Error::OutOfRange;
    }
    if (type == virtio::kBlkTOut && m_read_only) return Error::Denied;
    SpinlockGuard guard(m_lock);
    if (m_broken) return Error::DeviceError;
    auto* desc = reinterpret_cast<volatile Desc*>(m_ring);
    // Header (5.2.6): type, reserved, sector; then the data segments, then the status byte.
    auto* hdr = reinterpret_cast<volatile u32*>(m_req);
    hdr[0] = type;
    hdr[1] = 0;
    *reinterpret_cast<volatile u64*>(m_req + 8) = offset / virtio::kSectorSize;
    m_req[kStatusOffset] = 0xFF;
    auto put = [&](u16 i, u64 addr, u32 n, u16 flags) {
        desc[i].addr = addr;
        desc[i].len = n;
        desc[i].flags = flags;
        desc[i].next = u16(i + 1);
    };
    u16 n = 0;
    put(n++, bus_addr(m_req), 16, virtio::kDescFNext);
    const u16 data_flags = u16(virtio::kDescFNext | (type == virtio::kBlkTIn ? virtio::kDescFWrite : 0));
    if (type != virtio::kBlkTFlush)
        for (u32 i = 0; i < count; ++i) put(n++, segs[i].pa, segs[i].len, data_flags);
    put(n, bus_addr(m_req + kStatusOffset), 1, virtio::kDescFWrite);
    // Available ring: flags, idx, ring[queue size] (2.7.6). Chain head 0 every time: one request
    // is ever in flight.
    auto* avail = reinterpret_cast<volatile u16*>(m_ring + 16 * m_queue_size);
    avail[2 + m_avail % m_queue_size] = 0;
    arch::dma_barrier(); // descriptors and ring entry before the index the device reads
    avail[1] = ++m_avail;
    arch::dma_barrier(); // the index before the notification
    if (m_intid && m_routed_to != this_cpu().hw_id) { // the completion must wake this CPU
        m_routed_to = this_cpu().hw_id;
        arch::irq_enable_shared_on(m_intid, m_routed_to);
    }
    set_reg(kQueueNotify, 0);
    // Used ring: flags, idx, ring[] (2.7.8).
    auto* used_idx = reinterpret_cast<volatile u16*>(m_ring + m_used_offset + 2);
    const u64 deadline = uptime_us() + kTimeoutMs * 1000;
    while (*used_idx == m_used) {
        if (uptime_us() > deadline) {
            m_broken = true;
            // The segments may be a VM's pages, which go back to the frame allocator when the VM
            // stops: the device must let go of them before this returns.
            if (reset_device())
                kprint("cxvisor: host disk: no answer to a request within %lu s; the host disk is reset and disabled\n",
                       kTimeoutMs / 1000);
            else
                kprint("cxvisor: host disk: no answer to a request within %lu s, and no confirmed reset; the host disk "
                       "is disabled, but may still write the memory of its last request\n",
                       kTimeoutMs / 1000);
            return Error::DeviceError;
        }
        // The disk's interrupt (routed here before the notification) or any other wakes the CPU;
        // interrupts stay masked, WFI wakes on a pending one all the same. The deadline is looked
        // at after every wake-up (cxvisor's timer tick is one).
        if (m_intid) arch::wfi();
        else arch::cpu_relax();
    }
    arch::dma_barrier(); // the used index before the status and data the device wrote
    ++m_used;
    ack_interrupt(); // the line low again before this CPU goes back to its run loop
    const u8 st = m_req[kStatusOffset];
    return st == virtio::kBlkSOk ? Result<void>() : Error::DeviceError;
}

bool HostDisk::reset_device() {
    set_reg(kStatus, 0);
    const u64 deadline = uptime_us() + 1'000'000;
    while (reg(kStatus) != 0)
        if (uptime_us() > deadline) return false;
        else arch::cpu_relax();
    return true;
}

void HostDisk::ack_interrupt() { set_reg(kInterruptAck, reg(kInterruptStatus)); }

Result<void> HostDisk::flush() {
    if (!m_flush) return {};
    return request(virtio::kBlkTFlush, 0, nullptr, 0);
}

// --- HostRegionBackend ---

Result<HostRegionBackend*> HostRegionBackend::create(u64 offset, u64 size, const char** why) {
    HostDisk* disk = HostDisk::get();
    if (!disk) {
        *why = "the host has no virtio-blk disk for cxvisor (QEMU: -drive file=...,if=none,format=raw,id=d0 "
               "-device virtio-blk-device,drive=d0)";
        return Error::NotFound;
    }
    if (size == 0 || offset % virtio::kSectorSize || size % virtio::kSectorSize || offset > disk->capacity_bytes() ||
        size > disk->capacity_bytes() - offset) {
        *why = "the host region does not lie inside the host disk";
        return Error::OutOfRange;
    }
    SpinlockGuard guard(g_claims_lock);
    Claim* free_slot = nullptr;
    for (Claim& c : g_claims) {
        if (!c.owner) {
            if (!free_slot) free_slot = &c;
        } else if (offset < c.base + c.size && c.base < offset + size) {
            *why = "the host region overlaps another virtio-blk device's";
            return Error::Busy;
        }
    }
    if (!free_slot) {
        *why = "too many host regions";
        return Error::NoMemory;
    }
    auto bounce = frames_alloc(1, kPage);
    if (bounce.is_error()) {
        *why = "out of memory for the block device's bounce page";
        return Error::NoMemory;
    }
    auto* b = new (std::nothrow) HostRegionBackend(*disk, offset, size, reinterpret_cast<u8*>(bounce.value().value()));
    if (!b) {
        frames_free(bounce.value(), 1);
        *why = "out of memory";
        return Error::NoMemory;
    }
    *free_slot = {offset, size, b};
    return b;
}

// The bounce page is cxvisor RAM (identity-mapped): its address is its bus address.
HostRegionBackend::HostRegionBackend(HostDisk& disk, u64 base, u64 size, u8* bounce)
    : DmaBackend(bounce, bus_addr(bounce), u32(kPage)), m_disk(disk), m_base(base), m_size(size) {}

HostRegionBackend::~HostRegionBackend() {
    {
        SpinlockGuard guard(g_claims_lock);
        for (Claim& c : g_claims)
            if (c.owner == this) c = {};
    }
    frames_free(HostPhysAddr(bus_addr(bounce_buffer())), 1);
}

HostRegionBackend::Limits HostRegionBackend::limits() const {
    return Limits{m_disk.segment_budget(), m_disk.segment_bytes(), u32(HostDisk::kMaxTransfer)};
}

Result<void> HostRegionBackend::dma(bool to_memory, u64 offset, const virtio::HostSegment* segs, u32 count) {
    u64 len = 0;
    for (u32 i = 0; i < count; ++i) len += segs[i].len;
    if (!in_disk(offset, len, m_size)) return Error::OutOfRange; // never outside the region
    return m_disk.transfer(to_memory ? virtio::kBlkTIn : virtio::kBlkTOut, m_base + offset, segs, count);
}

Result<void> HostRegionBackend::flush() { return m_disk.flush(); }
