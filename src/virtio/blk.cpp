// virtio-blk device (virtio spec v1.2, 5.2). See blk.hpp.
#include "virtio/blk.hpp"

#include "base/string.hpp"
#include "kernel/log.hpp"

namespace virtio {

namespace {

// struct virtio_blk_req's fixed part (5.2.6): le32 type, le32 reserved, le64 sector.
constexpr u32 kHeaderBytes = 16;

// The device configuration layout (5.2.4), up to what this device fills in.
constexpr u32 kCfgCapacity = 0;  // le64, in 512-byte sectors
constexpr u32 kCfgSizeMax = 8;   // le32 (VIRTIO_BLK_F_SIZE_MAX: not offered)
constexpr u32 kCfgSegMax = 12;   // le32
constexpr u32 kCfgBlkSize = 20;  // le32
constexpr u32 kCfgNumQueues = 34; // le16 (VIRTIO_BLK_F_MQ: not offered; reads 0 as the spec allows)
constexpr u32 kCfgBytes = 72;    // struct virtio_blk_config, through secure_erase_sector_alignment

u64 le_load(const u8* p, unsigned n) {
    u64 v = 0;
    for (unsigned i = 0; i < n; ++i) v |= u64(p[i]) << (8 * i);
    return v;
}

} // namespace

// --- RamDiskBackend ---

Result<RamDiskBackend*> RamDiskBackend::create(const u8* image, u64 size, AllocFn alloc, FreeFn free) {
    if (!image || size == 0 || size % kSectorSize) return Error::InvalidArgument;
    const usize chunks = usize((size + kChunk - 1) / kChunk);
    const usize table_len = align_up(chunks * sizeof(u8*), 4 * KiB);
    auto* table = static_cast<u8**>(alloc(table_len));
    if (!table) return Error::NoMemory;
    memset(table, 0, table_len);
    auto* d = new (std::nothrow) RamDiskBackend(image, size, table, chunks, alloc, free);
    if (!d) {
        free(table, table_len);
        return Error::NoMemory;
    }
    return d;
}

RamDiskBackend::~RamDiskBackend() {
    new_life();
    m_free(m_table, table_bytes());
}

void RamDiskBackend::new_life() {
    for (usize i = 0; i < m_chunks; ++i)
        if (m_table[i]) {
            m_free(m_table[i], kChunk);
            m_table[i] = nullptr;
        }
    m_private = 0;
}

template <typename F> Result<void> RamDiskBackend::for_each_chunk(u64 offset, usize len, bool writing, F&& f) {
    if (!in_disk(offset, len, m_size)) return Error::OutOfRange;
    for (usize pos = 0; pos < len;) {
        const u64 at = offset + pos;
        const usize i = usize(at / kChunk), in_chunk = usize(at % kChunk);
        const usize n = len - pos < kChunk - in_chunk ? len - pos : kChunk - in_chunk;
        if (writing && !m_table[i]) {
            auto* copy = static_cast<u8*>(m_alloc(kChunk));
            if (!copy) return Error::NoMemory; // earlier chunks of this write are in: the guest sees IOERR
            memcpy(copy, m_image + u64(i) * kChunk, chunk_bytes(i));
            m_table[i] = copy;
            ++m_private;
        }
        // The image is only ever read: `writing` made the chunk private above.
        u8* disk = m_table[i] ? m_table[i] + in_chunk : const_cast<u8*>(m_image + at);
        TRY(f(disk, pos, n));
        pos += n;
    }
    return {};
}

Result<void> RamDiskBackend::read(u64 offset, const RequestData& to) {
    return for_each_chunk(offset, to.len(), false,
                          [&](const u8* disk, usize pos, usize n) { return to.write_at(u32(pos), disk, u32(n)); });
}

Result<void> RamDiskBackend::write(u64 offset, const RequestData& from) {
    return for_each_chunk(offset, from.len(), true,
                          [&](u8* disk, usize pos, usize n) { return from.read_at(u32(pos), disk, u32(n)); });
}

Result<void> RamDiskBackend::read(u64 offset, void* dst, usize len) {
    auto* out = static_cast<u8*>(dst);
    return for_each_chunk(offset, len, false, [&](const u8* disk, usize pos, usize n) -> Result<void> {
        memcpy(out + pos, disk, n);
        return {};
    });
}

Result<void> RamDiskBackend::write(u64 offset, const void* src, usize len) {
    auto* in = static_cast<const u8*>(src);
    return for_each_chunk(offset, len, true, [&](u8* disk, usize pos, usize n) -> Result<void> {
        memcpy(disk, in + pos, n);
        return {};
    });
}

// --- RequestData ---

Result<void> RequestData::read_at(u32 pos, void* dst, u32 n) const {
    auto* out = static_cast<u8*>(dst);
    return for_each_piece(pos, n, [&](u64 gpa, u32 at, u32 m) { return m_mem.read(gpa, out + (at - pos), m); });
}

Result<void> RequestData::write_at(u32 pos, const void* src, u32 n) const {
    auto* in = static_cast<const u8*>(src);
    return for_each_piece(pos, n, [&](u64 gpa, u32 at, u32 m) { return m_mem.write(gpa, in + (at - pos), m); });
}

// --- DmaBackend ---

Result<void> DmaBackend::send(bool to_memory, u64 offset, const HostSegment* segs, u32 count) {
    ++m_requests;
    return dma(to_memory, offset, segs, count);
}

Result<void> DmaBackend::transfer(u64 offset, const RequestData& d) {
    const Limits lim = limits();
    if (lim.max_segments == 0 || lim.max_segment_bytes < kSectorSize || lim.max_request_bytes < kSectorSize ||
        lim.max_segment_bytes % kSectorSize || lim.max_request_bytes % kSectorSize)
        return Error::InvalidArgument; // a device with these limits cannot carry a sector
    bool whole_sectors = true;
    TRY(d.for_each_piece([&](u64 gpa, u32, u32 n) -> Result<void> {
        whole_sectors &= (gpa | n) % kSectorSize == 0;
        return {};
    }));
    if (!whole_sectors) return bounced(offset, d);

    const bool to_memory = d.device_writes();
    const u32 max_segments = lim.max_segments < kMaxSegments ? lim.max_segments : kMaxSegments;
    HostSegment* segs = m_segs; // under the device's lock: one request at a time
    u32 count = 0, bytes = 0; // the device request being built, at disk offset `at`
    u64 at = offset;
    auto flush = [&]() -> Result<void> {
        if (count == 0) return {};
        TRY(send(to_memory, at, segs, count));
        at += bytes;
        count = bytes = 0;
        return {};
    };
    GuestMemory& mem = d.memory();
    TRY(d.for_each_piece([&](u64 gpa, u32, u32 n) -> Result<void> {
        while (n) {
            const HostRun run = TRY(mem.host_run(gpa, n, to_memory));
            // Runs end at page boundaries or at the piece's end (GuestMemory's contract), so a run
            // of a piece of whole sectors is whole sectors: every cut below falls between sectors.
            if (run.len == 0 || run.len > n || run.len % kSectorSize) return Error::BadFormat;
            u64 pa = run.pa;
            u32 left = u32(run.len);
            gpa += left, n -= left;
            while (left) {
                u32 take = left < lim.max_request_bytes - bytes ? left : lim.max_request_bytes - bytes;
                HostSegment* last = count ? &segs[count - 1] : nullptr;
                if (last && last->pa + last->len == pa && last->len < lim.max_segment_bytes) {
                    const u32 room = lim.max_segment_bytes - last->len; // adjacent in host memory: one segment
                    take = take < room ? take : room;
                    last->len += take;
                } else {
                    if (count == max_segments) { // the segment budget is spent: send what there is
                        TRY(flush());
                        continue;
                    }
                    take = take < lim.max_segment_bytes ? take : lim.max_segment_bytes;
                    segs[count++] = HostSegment{pa, take};
                }
                pa += take, left -= take, bytes += take;
                if (bytes == lim.max_request_bytes) TRY(flush());
            }
        }
        return {};
    }));
    return flush();
}

// A request with a sector split over pieces: through the bounce buffer, one device request of at
// most bounce_bytes at a time (the old path, kept for drivers Linux is not).
Result<void> DmaBackend::bounced(u64 offset, const RequestData& d) {
    const Limits lim = limits();
    u32 step = m_bounce_bytes < lim.max_segment_bytes ? m_bounce_bytes : lim.max_segment_bytes;
    step = align_down(step < lim.max_request_bytes ? step : lim.max_request_bytes, kSectorSize);
    if (!m_bounce || step == 0) return Error::Unsupported;
    ++m_bounced;
    const bool to_memory = d.device_writes();
    for (u32 done = 0; done < d.len();) {
        const u32 n = d.len() - done < step ? d.len() - done : step;
        if (!to_memory) TRY(d.read_at(done, m_bounce, n));
        const HostSegment seg{m_bounce_pa, n};
        TRY(send(to_memory, offset + done, &seg, 1));
        if (to_memory) TRY(d.write_at(done, m_bounce, n));
        done += n;
    }
    return {};
}

// --- BlockDevice ---

BlockDevice::BlockDevice(BlockBackend* backend, const Options& opt) : m_backend(backend), m_read_only(opt.read_only) {
    for (u32 i = 0; i < kBlkIdBytes && opt.id && opt.id[i]; ++i) m_id[i] = opt.id[i];
}

BlockDevice::~BlockDevice() { delete m_backend; }

u64 BlockDevice::device_features() const {
    // FLUSH: the guest's flush reaches the backing store (a host disk: its own flush) before the
    // request completes, so a guest's write-back cache assumptions hold.
    return kBlkFSegMax | kBlkFBlkSize | kBlkFFlush | (m_read_only ? kBlkFRo : 0);
}

u32 BlockDevice::config_read(u32 offset, unsigned width) {
    u8 cfg[kCfgBytes] = {};
    const u64 cap = capacity();
    for (unsigned i = 0; i < 8; ++i) cfg[kCfgCapacity + i] = u8(cap >> (8 * i));
    for (unsigned i = 0; i < 4; ++i) {
        cfg[kCfgSegMax + i] = u8(kSegMax >> (8 * i));
        cfg[kCfgBlkSize + i] = u8(kSectorSize >> (8 * i));
    }
    (void)kCfgSizeMax, (void)kCfgNumQueues;
    if (width > 4 || offset >= kCfgBytes || width > kCfgBytes - offset) return 0;
    return u32(le_load(cfg + offset, width));
}

void BlockDevice::new_life() {
    m_backend->new_life();
    m_complained = false;
}

void BlockDevice::complain(const char* what) {
    if (m_complained) return; // a driver looping on bad requests must not flood the console
    m_complained = true;
    kprint("cxvisor: vm %s: %s: %s (further ones this life not reported)\n", transport().vm_name(),
           transport().device_name(), what);
}

// The next available chain into m_chain. When the ring looks empty and VIRTIO_F_EVENT_IDX is in
// use, the driver notifies again only past avail_event: publish where we are, then look once more
// for a buffer that came in meanwhile (2.7.10).
Result<bool> BlockDevice::next(SplitQueue& q) {
    if (TRY(q.pop(m_chain))) return true;
    TRY(q.set_driver_notifications(true));
    return q.pop(m_chain);
}

void BlockDevice::notify(u16 index) {
    if (index != 0) return;
    SplitQueue& q = transport().queue(0);
    if (!q.ready() || q.broken()) return;
    bool pushed = false;
    for (;;) {
        auto got = next(q);
        if (got.is_error()) {
            if (got.error() == Error::BadFormat) transport().queue_fault(0);
            break;
        }
        if (!got.value()) break;
        const u32 written = handle(m_chain);
        if (q.push(m_chain, written).is_error()) { // written <= writable_len by construction
            transport().queue_fault(0);
            break;
        }
        pushed = true;
    }
    if (pushed) transport().used(0);
}

u32 BlockDevice::handle(const Chain& c) {
    // The status byte is the last byte of the writable part: without one, nothing can be told.
    if (c.writable_len == 0) {
        ++m_malformed;
        complain("a request without a status byte (completed with nothing written)");
        return 0;
    }
    u8 hdr[kHeaderBytes];
    u8 status;
    if (c.readable_len < kHeaderBytes || chain_read(c, 0, hdr, kHeaderBytes).is_error()) {
        ++m_malformed;
        complain("a request shorter than its 16-byte header");
        status = kBlkSIoErr;
    } else {
        status = execute(c, u32(le_load(hdr, 4)), le_load(hdr + 8, 8));
    }
    ++m_completed[status];
    if (chain_write(c, c.writable_len - 1, &status, 1).is_error()) return 0;
    // Like QEMU: the whole writable part counts as written (data, or GET_ID's area, and status).
    return c.writable_len;
}

u8 BlockDevice::execute(const Chain& c, u32 type, u64 sector) {
    const u64 capacity = this->capacity();
    switch (type) {
    case kBlkTIn:
    case kBlkTOut: {
        const u32 len = type == kBlkTIn ? c.writable_len - 1 : c.readable_len - kHeaderBytes;
        // 5.2.6.1: data a multiple of 512 bytes; the whole range inside the disk, checked without
        // ever forming sector * 512 for a sector past the end (no overflow for any guest value).
        if (len % kSectorSize) {
            complain("a request whose data is not a multiple of 512 bytes");
            return kBlkSIoErr;
        }
        if (sector > capacity || len / kSectorSize > capacity - sector) {
            complain("a request past the end of the disk (refused)");
            return kBlkSIoErr;
        }
        if (type == kBlkTOut && m_read_only) return kBlkSIoErr; // 5.2.6.2: VIRTIO_BLK_F_RO
        // The data: IN fills the writable part before the status byte, OUT takes the readable
        // part after the header.
        const RequestData data(transport().memory(), c, type == kBlkTIn, type == kBlkTIn ? 0 : kHeaderBytes, len);
        auto done = type == kBlkTIn ? m_backend->read(sector * kSectorSize, data)
                                    : m_backend->write(sector * kSectorSize, data);
        if (done.is_ok()) return kBlkSOk;
        // GuestMemory refuses with OutOfRange (IN into RAM the guest may not write); anything
        // else is the backing store's.
        if (done.error() == Error::OutOfRange) complain("a request whose buffers the device may not use (refused)");
        else complain(type == kBlkTIn ? "the backing store failed a read" : "the backing store failed a write");
        return kBlkSIoErr;
    }
    case kBlkTFlush:
        if (m_backend->flush().is_error()) {
            complain("the backing store failed a flush");
            return kBlkSIoErr;
        }
        return kBlkSOk;
    case kBlkTGetId: {
        const u32 room = c.writable_len - 1;
        const u32 n = room < kBlkIdBytes ? room : kBlkIdBytes;
        if (n == 0) return kBlkSIoErr;
        return chain_write(c, 0, m_id, n).is_ok() ? kBlkSOk : kBlkSIoErr;
    }
    default: return kBlkSUnsupp; // discard, write-zeroes, lifetime...: not offered
    }
}

Result<void> BlockDevice::chain_read(const Chain& c, u32 off, void* dst, u32 len) {
    return RequestData(transport().memory(), c, false, off, len).read_at(0, dst, len);
}

Result<void> BlockDevice::chain_write(const Chain& c, u32 off, const void* src, u32 len) {
    return RequestData(transport().memory(), c, true, off, len).write_at(0, src, len);
}

} // namespace virtio
