// Plays the driver side of a split virtqueue in FakeGuestMemory: fills descriptors, offers chains
// on the available ring and reads the used ring, all by raw little-endian stores as a guest would.
#pragma once
#include "fake_guest_memory.hpp"
#include "virtio/virtqueue.hpp"

#include <ostream>

namespace virtio {
// GoogleTest prints a QueueFault by its name instead of a byte dump.
inline void PrintTo(QueueFault f, std::ostream* os) { *os << queue_fault_name(f); }
} // namespace virtio

struct RingBuilder {
    static constexpr u64 kRamBase = 0x4000'0000;
    static constexpr u64 kRamSize = 1 * MiB;
    static constexpr u64 kDesc = kRamBase;
    static constexpr u64 kAvail = kRamBase + 0x4000;
    static constexpr u64 kUsed = kRamBase + 0x8000;
    static constexpr u64 kBuffers = kRamBase + 0x10000;

    FakeGuestMemory mem;
    u16 size;
    u16 avail_idx = 0;

    // ram_size: smaller for tests that build thousands of rings (at least kSmallRam: rings,
    // buffers and the indirect-table area at +0x20000 fit).
    static constexpr u64 kSmallRam = 0x30000;
    explicit RingBuilder(u16 queue_size, u64 ram_size = kRamSize) : size(queue_size) { mem.add_ram(kRamBase, ram_size); }

    virtio::QueueConfig config(bool event_idx = false, bool indirect = true) const {
        return virtio::QueueConfig{size, kDesc, kAvail, kUsed, event_idx, indirect};
    }
    void desc_at(u64 table, u16 i, u64 addr, u32 len, u16 flags, u16 next = 0) {
        const u64 d = table + 16ull * i;
        mem.put64(d, addr);
        mem.put32(d + 8, len);
        mem.put16(d + 12, flags);
        mem.put16(d + 14, next);
    }
    void desc(u16 i, u64 addr, u32 len, u16 flags, u16 next = 0) { desc_at(kDesc, i, addr, len, flags, next); }
    // Put head in the next avail slot and publish it.
    void offer(u16 head) {
        mem.put16(kAvail + 4 + 2ull * (avail_idx % size), head);
        ++avail_idx;
        mem.put16(kAvail + 2, avail_idx);
    }
    void set_avail_idx(u16 v) {
        avail_idx = v;
        mem.put16(kAvail + 2, v);
    }
    void set_avail_flags(u16 v) { mem.put16(kAvail, v); }
    void set_used_event(u16 v) { mem.put16(kAvail + 4 + 2ull * size, v); }
    u16 used_idx() { return mem.get16(kUsed + 2); }
    u16 used_flags() { return mem.get16(kUsed); }
    u16 avail_event() { return mem.get16(kUsed + 4 + 8ull * size); }
    u32 used_id(u16 slot) { return mem.get32(kUsed + 4 + 8ull * (slot % size)); }
    u32 used_len(u16 slot) { return mem.get32(kUsed + 8 + 8ull * (slot % size)); }
};
