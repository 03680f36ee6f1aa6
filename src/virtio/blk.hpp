// The virtio block device (virtio spec v1.2, 5.2 "Block Device") over a BlockBackend: a RAM disk
// from the VM package (private copy-on-write per VM life) or a region of the host's own disk
// (drivers/virtio_blk_host.hpp).
//
// Every request is parsed from the popped chain as a byte stream (2.6.4: the driver may split the
// header, data and status over descriptors as it likes): the 16-byte header from the readable
// part, the status byte as the last byte of the writable part. Every sector and length is checked
// against the disk size before the backend is called (the backend checks again), so a request
// past the end completes with VIRTIO_BLK_S_IOERR and never reaches outside the VM's disk.
//
// Locking: the transport's per-device lock around every Device call (device.hpp). The backend is
// this device's own; a host-region backend serialises on the host driver's lock below it.
#pragma once
#include "abi/vm_package.hpp"
#include "base/result.hpp"
#include "virtio/device.hpp"

namespace virtio {

inline constexpr u32 kSectorSize = 512;

// Request types (5.2.6) and status values.
inline constexpr u32 kBlkTIn = 0;
inline constexpr u32 kBlkTOut = 1;
inline constexpr u32 kBlkTFlush = 4;
inline constexpr u32 kBlkTGetId = 8;
inline constexpr u8 kBlkSOk = 0;
inline constexpr u8 kBlkSIoErr = 1;
inline constexpr u8 kBlkSUnsupp = 2;
inline constexpr u32 kBlkIdBytes = 20; // VIRTIO_BLK_ID_BYTES

// Feature bits (5.2.3).
inline constexpr u64 kBlkFSizeMax = 1ull << 1;
inline constexpr u64 kBlkFSegMax = 1ull << 2;
inline constexpr u64 kBlkFRo = 1ull << 5;
inline constexpr u64 kBlkFBlkSize = 1ull << 6;
inline constexpr u64 kBlkFFlush = 1ull << 9;

// The data part of one request in the VM's memory: `len` bytes from byte `skip` of the chain's
// device-writable segments (IN: the device writes them) or device-readable ones (OUT, after the
// 16-byte header). A backend moves the request's bytes with it, either by copying (read_at /
// write_at, GuestMemory's checked copies) or by DMA (GuestMemory::host_run: DmaBackend).
class RequestData {
public:
    RequestData(GuestMemory& mem, const Chain& chain, bool device_writes, u32 skip, u32 len)
        : m_mem(mem), m_chain(chain), m_device_writes(device_writes), m_skip(skip), m_len(len) {}
    u32 len() const { return m_len; }
    bool device_writes() const { return m_device_writes; }
    GuestMemory& memory() const { return m_mem; }
    // Calls f(gpa, pos, n) -> Result<void> for each guest piece of bytes [pos, pos + n) of the
    // data, in order, with [off, off + len) of the data (all of it by default). OutOfRange if the
    // chain's part is shorter.
    template <typename F> Result<void> for_each_piece(F&& f) const { return for_each_piece(0, m_len, f); }
    template <typename F> Result<void> for_each_piece(u32 off, u32 len, F&& f) const {
        u32 pos = off;
        off += m_skip;
        for (const Segment& s : m_chain.segments) {
            if (s.writable != m_device_writes) continue;
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
    // Copies bytes [pos, pos + n) of the data out of (read_at) or into (write_at) the guest.
    Result<void> read_at(u32 pos, void* dst, u32 n) const;
    Result<void> write_at(u32 pos, const void* src, u32 n) const;

private:
    GuestMemory& m_mem;
    const Chain& m_chain;
    bool m_device_writes;
    u32 m_skip, m_len;
};

// Storage behind one virtio-blk device. Offsets and lengths are bytes, multiples of kSectorSize;
// the device keeps every transfer inside size(), and a backend refuses (OutOfRange) anything
// outside it anyway. Called under the device's lock only, from the vCPU exit that notified.
class BlockBackend {
public:
    virtual ~BlockBackend() = default;
    // The disk size in bytes (a multiple of kSectorSize), fixed.
    virtual u64 size() const = 0;
    // Disk bytes [offset, offset + to.len()) into the guest's buffers (an IN request), and the
    // guest's buffers onto disk bytes [offset, offset + from.len()) (OUT). A failure may have
    // moved a part (the request completes with IOERR).
    virtual Result<void> read(u64 offset, const RequestData& to) = 0;
    virtual Result<void> write(u64 offset, const RequestData& from) = 0;
    // Everything written before has reached the backing store when this returns success.
    virtual Result<void> flush() = 0;
    // A new life of the VM begins: what lasts one life only (a RAM disk's private writes) goes.
    virtual void new_life() {}

protected:
    // Whether [offset, offset + len) is a sector-aligned range inside a disk of `size` bytes.
    static bool in_disk(u64 offset, u64 len, u64 size) {
        return offset % kSectorSize == 0 && len % kSectorSize == 0 && offset <= size && len <= size - offset;
    }
};

// One piece of host-physical memory a DMA device reads or writes.
struct HostSegment {
    u64 pa;
    u32 len;
};

// A backend whose storage is a scatter-gather DMA device (drivers/virtio_blk_host.hpp: the host
// machine's virtio-blk disk): zero-copy. The request's guest pieces are translated run by run
// into host-physical segments (GuestMemory::host_run: RAM only, lazy RAM backed, a copy-on-write
// page unshared before the device writes it), runs adjacent in host memory are merged, and the
// segments go to the device in as few requests as its limits allow, in order, at consecutive disk
// offsets. Nothing is ever handed to the device that GuestMemory refused: a run that cannot be had
// fails the request before the batch holding it is sent.
//
// Every device request must carry a multiple of kSectorSize bytes (5.2.6.1). When every guest
// piece starts and ends on a sector boundary (Linux's requests: whole pages, or O_DIRECT buffers
// aligned to the logical block size), so does every run (runs end at page boundaries), and the
// requests can be cut between any two segments. A request with a piece that does not (a driver
// splitting a sector over descriptors: legal, 2.6.4) goes through the backend's bounce buffer
// instead, bounce_bytes at a time; that copy is the only one left.
class DmaBackend : public BlockBackend {
public:
    // The most segments the device takes in one request; the most bytes per segment and per
    // request (both multiples of kSectorSize, > 0).
    struct Limits {
        u32 max_segments;
        u32 max_segment_bytes;
        u32 max_request_bytes;
    };
    // The most segments any device request may have here.
    static constexpr u32 kMaxSegments = kMaxChainSegments;

    Result<void> read(u64 offset, const RequestData& to) final { return transfer(offset, to); }
    Result<void> write(u64 offset, const RequestData& from) final { return transfer(offset, from); }
    u64 device_requests() const { return m_requests; } // sent since the backend was made (tests)
    u64 bounced_requests() const { return m_bounced; }

protected:
    // `bounce`: bounce_bytes (a multiple of kSectorSize) the device reaches at bus address
    // bounce_pa, owned by the derived backend.
    DmaBackend(u8* bounce, u64 bounce_pa, u32 bounce_bytes)
        : m_bounce(bounce), m_bounce_pa(bounce_pa), m_bounce_bytes(bounce_bytes) {}
    u8* bounce_buffer() const { return m_bounce; } // for the derived backend that owns it
    virtual Limits limits() const = 0;
    // One device request: disk bytes [offset, offset + sum of lengths) to the segments in order
    // (to_memory: an IN request) or from them. offset relative to this backend's disk.
    virtual Result<void> dma(bool to_memory, u64 offset, const HostSegment* segs, u32 count) = 0;

private:
    Result<void> transfer(u64 offset, const RequestData& d);
    Result<void> bounced(u64 offset, const RequestData& d);
    Result<void> send(bool to_memory, u64 offset, const HostSegment* segs, u32 count);

    u8* m_bounce;
    u64 m_bounce_pa;
    u32 m_bounce_bytes;
    u64 m_requests = 0, m_bounced = 0;
    HostSegment m_segs[kMaxSegments]; // the device request being built (4 KiB: not on the stack)
};

// A RAM disk over an image in the package (read-only memory cxvisor never writes). Writes go to
// private copies of kChunk-byte chunks made on first write, so each VM life starts from the image
// and no two VMs (or lives) see each other's writes; new_life() drops the copies. A request is
// copied once, directly between the image or chunks and the guest's pages (GuestMemory::read/
// write per piece, which clean what they write to the point of coherency).
class RamDiskBackend final : public BlockBackend {
public:
    static constexpr usize kChunk = 64 * KiB;
    // Memory for chunk copies and the chunk table: `alloc` returns `bytes` (a multiple of 4 KiB)
    // or nullptr; `free` takes back exactly what alloc gave.
    using AllocFn = void* (*)(usize bytes);
    using FreeFn = void (*)(void* p, usize bytes);

    // `size` a non-zero multiple of kSectorSize (InvalidArgument otherwise); NoMemory without
    // room for the chunk table.
    static Result<RamDiskBackend*> create(const u8* image, u64 size, AllocFn alloc, FreeFn free);
    ~RamDiskBackend() override;

    u64 size() const override { return m_size; }
    Result<void> read(u64 offset, const RequestData& to) override;
    // NoMemory when a chunk cannot be copied (the request fails, the disk stays consistent).
    Result<void> write(u64 offset, const RequestData& from) override;
    // The same on a host buffer (tests, and the disk's own checks).
    Result<void> read(u64 offset, void* dst, usize len);
    Result<void> write(u64 offset, const void* src, usize len);
    Result<void> flush() override { return {}; } // RAM: nothing to flush
    void new_life() override;
    usize private_chunks() const { return m_private; }

private:
    RamDiskBackend(const u8* image, u64 size, u8** table, usize chunks, AllocFn alloc, FreeFn free)
        : m_image(image), m_size(size), m_table(table), m_chunks(chunks), m_alloc(alloc), m_free(free) {}
    usize chunk_bytes(usize i) const { return i + 1 < m_chunks ? kChunk : usize(m_size - u64(i) * kChunk); }
    usize table_bytes() const { return align_up(m_chunks * sizeof(u8*), 4 * KiB); }
    // Calls f(disk bytes, pos, n) -> Result<void> for [offset, offset + len) chunk by chunk, pos
    // counting from 0; `writing` makes each chunk private first (NoMemory when it cannot be).
    template <typename F> Result<void> for_each_chunk(u64 offset, usize len, bool writing, F&& f);

    const u8* m_image;
    u64 m_size;
    u8** m_table; // m_chunks entries: the private copy of chunk i, or nullptr (still the image's)
    usize m_chunks;
    usize m_private = 0;
    AllocFn m_alloc;
    FreeFn m_free;
};

class BlockDevice final : public Device {
public:
    static constexpr u16 kQueueSize = 256;
    // Data segments per request (seg_max): a chain also carries the header and the status byte.
    static constexpr u32 kSegMax = kMaxChainSegments - 2;

    struct Options {
        bool read_only = false;
        const char* id = ""; // GET_ID's answer (at most kBlkIdBytes used)
    };
    // Takes ownership of `backend`, which moves each request's data between the guest's pages and
    // its storage itself (no buffer of the device's own in between).
    BlockDevice(BlockBackend* backend, const Options& opt);
    ~BlockDevice() override;

    u32 device_id() const override { return kDeviceIdBlock; }
    u64 device_features() const override;
    u16 queue_count() const override { return 1; }
    u16 queue_max_size(u16) const override { return kQueueSize; }
    u32 config_read(u32 offset, unsigned width) override;
    void reset() override {} // requests complete synchronously: nothing is ever in flight
    void notify(u16 index) override;
    // A new VM life: the backend drops what lasted one life; malformed requests are reported again.
    void new_life() override;

    BlockBackend& backend() { return *m_backend; }
    u64 capacity() const { return m_backend->size() / kSectorSize; }
    bool read_only() const { return m_read_only; }
    // Requests completed with each status since the device was made (tests, `vm show`).
    u64 completed(u8 status) const { return status < 3 ? m_completed[status] : 0; }
    u64 malformed() const { return m_malformed; }

private:
    Result<bool> next(SplitQueue& q);
    // Handles one chain; returns the bytes written into its writable part (for the used ring).
    u32 handle(const Chain& c);
    u8 execute(const Chain& c, u32 type, u64 sector);
    // Byte `off` of the chain's readable (or writable) part onward, len bytes.
    Result<void> chain_read(const Chain& c, u32 off, void* dst, u32 len);
    Result<void> chain_write(const Chain& c, u32 off, const void* src, u32 len);
    void complain(const char* what);

    BlockBackend* m_backend;
    bool m_read_only;
    char m_id[kBlkIdBytes] = {};
    Chain m_chain; // 4 KiB+: not on the stack
    u64 m_completed[3] = {};
    u64 m_malformed = 0;
    bool m_complained = false; // one line per life about a misbehaving driver or backend
};

// The image's virtio-blk device for EmuDevice `d` (type VirtioBlk, cfg checked by
// package_check_vm): its backend (a RAM disk over the package blob, or a region of the host
// disk). Errors (NotFound: no host disk; OutOfRange/Busy: a host region outside the disk or
// overlapping another device's; NoMemory) come with one console line naming VM, device
// and reason. The factory's VirtioBlk case (virtio/factory.cpp) calls this.
Result<Device*> create_block_device(const vm_package::EmuDevice& d, const u8* package, u64 package_size,
                                    const char* vm_name, u32 vm_id);

} // namespace virtio
