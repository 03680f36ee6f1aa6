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

Result<void> RamDiskBackend::read(u64 offset, void* dst, usize len) {
    if (!in_disk(offset, len, m_size)) return Error::OutOfRange;
    auto* out = static_cast<u8*>(dst);
    while (len) {
        const usize i = usize(offset / kChunk), at = usize(offset % kChunk);
        const usize n = len < kChunk - at ? len : kChunk - at;
        const u8* src = m_table[i] ? m_table[i] + at : m_image + offset;
        memcpy(out, src, n);
        out += n, offset += n, len -= n;
    }
    return {};
}

Result<void> RamDiskBackend::write(u64 offset, const void* src, usize len) {
    if (!in_disk(offset, len, m_size)) return Error::OutOfRange;
    auto* in = static_cast<const u8*>(src);
    while (len) {
        const usize i = usize(offset / kChunk), at = usize(offset % kChunk);
        const usize n = len < kChunk - at ? len : kChunk - at;
        if (!m_table[i]) {
            auto* copy = static_cast<u8*>(m_alloc(kChunk));
            if (!copy) return Error::NoMemory; // earlier chunks of this write are in: the guest sees IOERR
            memcpy(copy, m_image + u64(i) * kChunk, chunk_bytes(i));
            m_table[i] = copy;
            ++m_private;
        }
        memcpy(m_table[i] + at, in, n);
        in += n, offset += n, len -= n;
    }
    return {};
}

// --- BlockDevice ---

BlockDevice::BlockDevice(BlockBackend* backend, const Options& opt, u8* scratch, usize scratch_size)
    : m_backend(backend), m_read_only(opt.read_only), m_scratch(scratch),
      m_scratch_size(align_down(scratch_size, kSectorSize)), m_release_scratch(opt.release_scratch) {
    for (u32 i = 0; i < kBlkIdBytes && opt.id && opt.id[i]; ++i) m_id[i] = opt.id[i];
}

BlockDevice::~BlockDevice() {
    delete m_backend;
    if (m_release_scratch) m_release_scratch(m_scratch, m_scratch_size);
}

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
        return type == kBlkTIn ? transfer_in(c, sector * kSectorSize, len)
                               : transfer_out(c, sector * kSectorSize, len);
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

u8 BlockDevice::transfer_in(const Chain& c, u64 offset, u32 len) {
    for (u32 done = 0; done < len;) {
        const u32 n = len - done < m_scratch_size ? len - done : u32(m_scratch_size);
        if (m_backend->read(offset + done, m_scratch, n).is_error()) {
            complain("the backing store failed a read");
            return kBlkSIoErr;
        }
        if (chain_write(c, done, m_scratch, n).is_error()) return kBlkSIoErr;
        done += n;
    }
    return kBlkSOk;
}

u8 BlockDevice::transfer_out(const Chain& c, u64 offset, u32 len) {
    for (u32 done = 0; done < len;) {
        const u32 n = len - done < m_scratch_size ? len - done : u32(m_scratch_size);
        if (chain_read(c, kHeaderBytes + done, m_scratch, n).is_error()) return kBlkSIoErr;
        if (m_backend->write(offset + done, m_scratch, n).is_error()) {
            complain("the backing store failed a write");
            return kBlkSIoErr;
        }
        done += n;
    }
    return kBlkSOk;
}

namespace {

// Walks [off, off + len) of the readable (writable) segments of c, calling f(gpa, pos, n) per
// piece; pos counts from 0. OutOfRange if the part is shorter.
template <typename F> Result<void> for_each_piece(const Chain& c, bool writable, u32 off, u32 len, F&& f) {
    u32 pos = 0;
    for (const Segment& s : c.segments) {
        if (s.writable != writable) continue;
        if (len == 0) break;
        if (off >= s.len) {
            off -= s.len;
            continue;
        }
        const u32 n = s.len - off < len ? s.len - off : len;
        TRY(f(s.gpa + off, pos, n));
        pos += n, len -= n, off = 0;
    }
    if (len) return Error::OutOfRange;
    return {};
}

} // namespace

Result<void> BlockDevice::chain_read(const Chain& c, u32 off, void* dst, u32 len) {
    auto* out = static_cast<u8*>(dst);
    GuestMemory& mem = transport().memory();
    return for_each_piece(c, false, off, len, [&](u64 gpa, u32 pos, u32 n) { return mem.read(gpa, out + pos, n); });
}

Result<void> BlockDevice::chain_write(const Chain& c, u32 off, const void* src, u32 len) {
    auto* in = static_cast<const u8*>(src);
    GuestMemory& mem = transport().memory();
    return for_each_piece(c, true, off, len, [&](u64 gpa, u32 pos, u32 n) { return mem.write(gpa, in + pos, n); });
}

} // namespace virtio
