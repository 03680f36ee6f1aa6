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

// Storage behind one virtio-blk device. Offsets and lengths are bytes, multiples of kSectorSize;
// the device keeps every transfer inside size(), and a backend refuses (OutOfRange) anything
// outside it anyway. Called under the device's lock only.
class BlockBackend {
public:
    virtual ~BlockBackend() = default;
    // The disk size in bytes (a multiple of kSectorSize), fixed.
    virtual u64 size() const = 0;
    virtual Result<void> read(u64 offset, void* dst, usize len) = 0;
    virtual Result<void> write(u64 offset, const void* src, usize len) = 0;
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

// A RAM disk over an image in the package (read-only memory cxvisor never writes). Writes go to
// private copies of kChunk-byte chunks made on first write, so each VM life starts from the image
// and no two VMs (or lives) see each other's writes; new_life() drops the copies.
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
    Result<void> read(u64 offset, void* dst, usize len) override;
    // NoMemory when a chunk cannot be copied (the request fails, the disk stays consistent).
    Result<void> write(u64 offset, const void* src, usize len) override;
    Result<void> flush() override { return {}; } // RAM: nothing to flush
    void new_life() override;
    usize private_chunks() const { return m_private; }

private:
    RamDiskBackend(const u8* image, u64 size, u8** table, usize chunks, AllocFn alloc, FreeFn free)
        : m_image(image), m_size(size), m_table(table), m_chunks(chunks), m_alloc(alloc), m_free(free) {}
    usize chunk_bytes(usize i) const { return i + 1 < m_chunks ? kChunk : usize(m_size - u64(i) * kChunk); }
    usize table_bytes() const { return align_up(m_chunks * sizeof(u8*), 4 * KiB); }

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
        // Gives `scratch` back when the device is deleted (null: the caller keeps it).
        RamDiskBackend::FreeFn release_scratch = nullptr;
    };
    // Takes ownership of `backend`. `scratch` (scratch_size bytes, a multiple of kSectorSize, in
    // memory the backend can transfer to: a host-region backend's device reads it by DMA) carries
    // the data between guest memory and the backend; opt.release_scratch frees it with the device.
    BlockDevice(BlockBackend* backend, const Options& opt, u8* scratch, usize scratch_size);
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
    u8 transfer_in(const Chain& c, u64 offset, u32 len);
    u8 transfer_out(const Chain& c, u64 offset, u32 len);
    // Byte `off` of the chain's readable (or writable) part onward, len bytes.
    Result<void> chain_read(const Chain& c, u32 off, void* dst, u32 len);
    Result<void> chain_write(const Chain& c, u32 off, const void* src, u32 len);
    void complain(const char* what);

    BlockBackend* m_backend;
    bool m_read_only;
    char m_id[kBlkIdBytes] = {};
    u8* m_scratch;
    usize m_scratch_size;
    RamDiskBackend::FreeFn m_release_scratch;
    Chain m_chain; // 2 KiB+: not on the stack
    u64 m_completed[3] = {};
    u64 m_malformed = 0;
    bool m_complained = false; // one line per life about a misbehaving driver or backend
};

// The image's virtio-blk device for EmuDevice `d` (type VirtioBlk, cfg checked by
// package_check_vm): its backend (a RAM disk over the package blob, or a region of the host disk)
// and scratch buffer. Errors (NotFound: no host disk; OutOfRange/Busy: a host region outside the
// disk or overlapping another device's; NoMemory) come with one console line naming VM, device
// and reason. The factory's VirtioBlk case (virtio/factory.cpp) calls this.
Result<Device*> create_block_device(const vm_package::EmuDevice& d, const u8* package, u64 package_size,
                                    const char* vm_name, u32 vm_id);

} // namespace virtio
