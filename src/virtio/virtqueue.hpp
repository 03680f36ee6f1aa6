// Split virtqueue, device side (virtio spec v1.2, 2.7 "Split Virtqueues").
//
// The transport (virtio-mmio, next step) gives the queue its size, the three ring addresses and the
// negotiated ring features, then calls activate() when the driver writes QueueReady. A device pops
// available descriptor chains as bounded lists of guest-physical segments, does the I/O through
// GuestMemory, pushes a used element and asks needs_notify() whether to raise the interrupt.
//
// Everything in the rings is written by the guest and is checked before use: indices, addresses,
// lengths, flags, chain shape. Any violation marks the queue broken with a specific QueueFault and
// every later operation fails with Error::BadFormat until reset(); the transport reports the fault
// and sets DEVICE_NEEDS_RESET (4.2.2.1). The queue never touches memory except through GuestMemory,
// so a hostile ring cannot reach outside the VM's RAM.
#pragma once
#include "base/result.hpp"
#include "base/static_vec.hpp"
#include "virtio/guest_memory.hpp"

namespace virtio {

// Largest queue size this implementation accepts (the transport's QueueNumMax may be smaller). The
// spec allows 32768 for split queues (2.7); 1024 is what Linux drivers use at most in practice and
// keeps the per-queue bookkeeping bitmaps at 128 bytes each.
inline constexpr u16 kMaxQueueSize = 1024;
// Largest number of data segments one chain may carry. Devices advertise limits below this (e.g.
// virtio-blk seg_max 254, what QEMU's own device offers for its 256-entry queue: a guest's 1 MiB
// of scattered 4 KiB pages is one request); a chain with more is rejected, not truncated.
inline constexpr usize kMaxChainSegments = 256;

// Descriptor flags (2.7.5).
inline constexpr u16 kDescFNext = 1;
inline constexpr u16 kDescFWrite = 2;
inline constexpr u16 kDescFIndirect = 4;
// Ring flags (2.7.6, 2.7.8).
inline constexpr u16 kAvailFNoInterrupt = 1;
inline constexpr u16 kUsedFNoNotify = 1;

// Why a queue was marked broken. Each guest error has its own value so the transport's report
// says exactly what the driver did wrong.
enum class QueueFault : u8 {
    None,
    BadSize,               // size 0, not a power of two, or above the device's maximum (2.7)
    BadRingAddress,        // ring misaligned (2.7 alignment table) or its extent wraps 2^64
    RingOutsideRam,        // a ring is not entirely in the VM's RAM
    RingAccess,            // a ring read/write was refused by GuestMemory
    AvailIdxJump,          // avail idx moved by more than the queue size, or backwards (2.7.6)
    HeadOutOfRange,        // avail ring entry >= queue size
    HeadInFlight,          // avail ring offered a head the device has not returned yet
    NextOutOfRange,        // next >= table size (2.7.5)
    Loop,                  // a chain revisits a descriptor, so is longer than its table (2.7.5.2)
    TooManySegments,       // more data segments than kMaxChainSegments
    BufferOutsideRam,      // a buffer is not entirely in the VM's RAM
    BufferWraps,           // addr + len wraps 2^64
    TotalLengthOverflow,   // chain longer than 2^32 - 1 bytes in total (2.7.5.2)
    ReadableAfterWritable, // device-readable after device-writable (2.7.4.2)
    IndirectNotNegotiated, // INDIRECT flag without VIRTIO_F_INDIRECT_DESC (2.7.5.3.1)
    IndirectWithNext,      // INDIRECT and NEXT together (2.7.5.3.1)
    NestedIndirect,        // INDIRECT inside an indirect table (2.7.5.3.1)
    IndirectBadLength,     // table length 0, not a multiple of 16, or above the queue size
    IndirectOutsideRam,    // table not entirely in the VM's RAM, or wraps 2^64
};

const char* queue_fault_name(QueueFault f);

// What the transport latched for this queue (virtio-mmio QueueNum, QueueDesc*, QueueDriver*,
// QueueDevice*) plus the negotiated ring features.
struct QueueConfig {
    u16 size = 0;
    u64 desc = 0;   // descriptor table
    u64 driver = 0; // available ring
    u64 device = 0; // used ring
    bool event_idx = false;     // VIRTIO_F_EVENT_IDX (bit 29)
    bool indirect_desc = false; // VIRTIO_F_INDIRECT_DESC (bit 28)
};

struct Segment {
    u64 gpa;
    u32 len;
    bool writable; // device-writable (VIRTQ_DESC_F_WRITE)
};

// One popped chain. Readable segments come first, then writable ones (enforced by pop()).
struct Chain {
    u16 head = 0;
    StaticVec<Segment, kMaxChainSegments> segments;
    u32 readable_len = 0;
    u32 writable_len = 0;

    void clear() {
        head = 0;
        segments.clear();
        readable_len = 0;
        writable_len = 0;
    }
};

class SplitQueue {
public:
    // max_size: the device's QueueNumMax (at most kMaxQueueSize).
    SplitQueue(GuestMemory& mem, u16 max_size);

    // QueueReady written with 1: check the configuration and start. A bad configuration marks the
    // queue broken (BadSize / BadRingAddress / RingOutsideRam) and returns Error::BadFormat.
    Result<void> activate(const QueueConfig& cfg);
    // Device reset or QueueReady 0: forget all state, including a fault.
    void reset();

    bool ready() const { return m_ready; }
    bool broken() const { return m_fault != QueueFault::None; }
    QueueFault fault() const { return m_fault; }
    const QueueConfig& config() const { return m_cfg; }
    u16 last_avail() const { return m_last_avail; }
    u16 used_idx() const { return m_used_idx; }
    u16 max_size() const { return m_max_size; }

    // Take the next available chain into out. Returns false when the ring is empty. A malformed
    // chain or ring marks the queue broken and returns Error::BadFormat; a queue that is not ready
    // returns Error::InvalidArgument (a transport bug, not a guest fault).
    Result<bool> pop(Chain& out);

    // Return chain `head` to the driver with `written` bytes written into its writable segments
    // (2.7.8). head must be a chain popped and not yet pushed, and written at most its writable
    // length: violations are device bugs and return Error::InvalidArgument without breaking the
    // queue.
    Result<void> push(const Chain& chain, u32 written);

    // After one or more push(): whether the driver wants an interrupt now (2.7.7: used_event with
    // VIRTIO_F_EVENT_IDX, else VIRTQ_AVAIL_F_NO_INTERRUPT).
    Result<bool> needs_notify();

    // Ask the driver for (enable) or to suppress (disable) available-buffer notifications (2.7.10:
    // avail_event with VIRTIO_F_EVENT_IDX, else VIRTQ_USED_F_NO_NOTIFY). With EVENT_IDX, enable
    // asks for a notification when the driver makes the next buffer available.
    Result<void> set_driver_notifications(bool enable);

private:
    struct Desc {
        u64 addr;
        u32 len;
        u16 flags;
        u16 next;
    };
    // Walk state of one table (the queue's own, or one indirect table).
    struct Table {
        u64 base;
        u32 entries;
    };

    Error fail(QueueFault f);
    Result<u16> read_u16(u64 gpa);
    Result<void> write_u16(u64 gpa, u16 v);
    Result<Desc> read_desc(const Table& t, u16 index, QueueFault on_error);
    Result<void> walk(const Table& t, u16 first, bool is_indirect, Chain& out);
    Result<void> add_segment(const Desc& d, Chain& out);

    static bool test_bit(const u64* bits, u32 i) { return (bits[i / 64] >> (i % 64)) & 1; }
    static void set_bit(u64* bits, u32 i) { bits[i / 64] |= 1ull << (i % 64); }
    static void clear_bit(u64* bits, u32 i) { bits[i / 64] &= ~(1ull << (i % 64)); }
    void clear_bits(u64* bits, u32 count);

    u64 avail_ring_entry(u16 slot) const { return m_cfg.driver + 4 + 2ull * slot; }
    u64 used_event_addr() const { return m_cfg.driver + 4 + 2ull * m_cfg.size; }
    u64 used_ring_entry(u16 slot) const { return m_cfg.device + 4 + 8ull * slot; }
    u64 avail_event_addr() const { return m_cfg.device + 4 + 8ull * m_cfg.size; }

    GuestMemory& m_mem;
    u16 m_max_size;
    QueueConfig m_cfg;
    bool m_ready = false;
    QueueFault m_fault = QueueFault::None;
    u16 m_last_avail = 0;   // next avail ring slot to consume
    u16 m_shadow_avail = 0; // last avail idx read from the ring
    u16 m_used_idx = 0;     // next used ring slot to fill
    u16 m_signalled_used = 0;
    bool m_signalled_valid = false; // m_signalled_used holds the used idx of a past needs_notify
    u64 m_visited[kMaxQueueSize / 64] = {};
    // Descriptors are read a block at a time during one walk (read_desc): one GuestMemory::read
    // (in the image a stage-2 walk under the VM's address-space lock) per kDescBlock descriptors
    // instead of one per descriptor; Linux's chains and indirect tables are in order. Valid for
    // one walk only: the driver may rewrite descriptors between chains.
    static constexpr u32 kDescBlock = 32;
    u8 m_desc_block[kDescBlock * 16];
    u64 m_block_base = 0;   // the table the block came from
    u32 m_block_first = 0;  // its first index
    u32 m_block_count = 0;  // 0: nothing cached
    u64 m_in_flight[kMaxQueueSize / 64] = {};
};

} // namespace virtio
