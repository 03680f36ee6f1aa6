// Split virtqueue, device side. Section numbers are virtio spec v1.2 (OASIS, 2022).
#include "virtio/virtqueue.hpp"

namespace virtio {

namespace {

// All ring fields are little-endian (2.4 "Structure Size and Alignment" / 1.4); decode bytes so
// the code is right on a big-endian host too.
u16 le16(const u8* p) { return static_cast<u16>(p[0] | (p[1] << 8)); }
u32 le32(const u8* p) { return static_cast<u32>(le16(p)) | (static_cast<u32>(le16(p + 2)) << 16); }
u64 le64(const u8* p) { return static_cast<u64>(le32(p)) | (static_cast<u64>(le32(p + 4)) << 32); }
void put_le16(u8* p, u16 v) {
    p[0] = static_cast<u8>(v);
    p[1] = static_cast<u8>(v >> 8);
}
void put_le32(u8* p, u32 v) {
    put_le16(p, static_cast<u16>(v));
    put_le16(p + 2, static_cast<u16>(v >> 16));
}

// [base, base + len) ends at or below 2^64 - 1 (len 0 never wraps).
bool wraps(u64 base, u64 len) { return len != 0 && len - 1 > ~0ull - base; }

constexpr u64 kDescBytes = 16;

} // namespace

const char* queue_fault_name(QueueFault f) {
    switch (f) {
    case QueueFault::None: return "none";
    case QueueFault::BadSize: return "queue size not a power of two in 1..max";
    case QueueFault::BadRingAddress: return "ring misaligned or wrapping the address space";
    case QueueFault::RingOutsideRam: return "ring outside the VM's RAM";
    case QueueFault::RingAccess: return "ring access refused";
    case QueueFault::AvailIdxJump: return "available index moved by more than the queue size";
    case QueueFault::HeadOutOfRange: return "available ring entry out of range";
    case QueueFault::HeadInFlight: return "available ring offered a chain still in use";
    case QueueFault::NextOutOfRange: return "descriptor next out of range";
    case QueueFault::Loop: return "descriptor chain loops";
    case QueueFault::TooManySegments: return "descriptor chain has too many buffers";
    case QueueFault::BufferOutsideRam: return "buffer outside the VM's RAM";
    case QueueFault::BufferWraps: return "buffer wraps the address space";
    case QueueFault::TotalLengthOverflow: return "descriptor chain longer than 4 GiB";
    case QueueFault::ReadableAfterWritable: return "device-readable buffer after a device-writable one";
    case QueueFault::IndirectNotNegotiated: return "indirect descriptor without VIRTIO_F_INDIRECT_DESC";
    case QueueFault::IndirectWithNext: return "indirect descriptor with NEXT";
    case QueueFault::NestedIndirect: return "indirect descriptor inside an indirect table";
    case QueueFault::IndirectBadLength: return "indirect table length invalid";
    case QueueFault::IndirectOutsideRam: return "indirect table outside the VM's RAM";
    }
    return "unknown queue fault";
}

SplitQueue::SplitQueue(GuestMemory& mem, u16 max_size)
    : m_mem(mem), m_max_size(max_size > kMaxQueueSize ? kMaxQueueSize : max_size) {}

void SplitQueue::reset() {
    m_cfg = QueueConfig{};
    m_ready = false;
    m_fault = QueueFault::None;
    m_last_avail = 0;
    m_shadow_avail = 0;
    m_used_idx = 0;
    m_signalled_used = 0;
    m_signalled_valid = false;
    clear_bits(m_visited, kMaxQueueSize);
    clear_bits(m_in_flight, kMaxQueueSize);
}

Error SplitQueue::fail(QueueFault f) {
    // The first fault is the cause; later ones are consequences.
    if (m_fault == QueueFault::None) m_fault = f;
    return Error::BadFormat;
}

void SplitQueue::clear_bits(u64* bits, u32 count) {
    for (u32 w = 0; w < (count + 63) / 64; ++w) bits[w] = 0;
}

Result<void> SplitQueue::activate(const QueueConfig& cfg) {
    reset();
    m_cfg = cfg;
    // 2.7: Queue Size is a power of 2 (split queues, at most 32768; the device's QueueNumMax here).
    if (cfg.size == 0 || (cfg.size & (cfg.size - 1)) != 0 || cfg.size > m_max_size)
        return fail(QueueFault::BadSize);
    // 2.7 alignment table: descriptor table 16, available ring 2, used ring 4.
    if (!is_aligned(cfg.desc, 16) || !is_aligned(cfg.driver, 2) || !is_aligned(cfg.device, 4))
        return fail(QueueFault::BadRingAddress);
    // 2.7 sizes: 16 * size; 6 + 2 * size; 6 + 8 * size (the trailing event field counted even
    // without EVENT_IDX, as the spec's size table does).
    const u64 desc_len = kDescBytes * cfg.size;
    const u64 avail_len = 6 + 2ull * cfg.size;
    const u64 used_len = 6 + 8ull * cfg.size;
    if (wraps(cfg.desc, desc_len) || wraps(cfg.driver, avail_len) || wraps(cfg.device, used_len))
        return fail(QueueFault::BadRingAddress);
    if (!m_mem.is_ram(cfg.desc, desc_len) || !m_mem.is_ram(cfg.driver, avail_len) ||
        !m_mem.is_ram(cfg.device, used_len))
        return fail(QueueFault::RingOutsideRam);
    m_ready = true;
    return {};
}

Result<u16> SplitQueue::read_u16(u64 gpa) {
    u8 b[2];
    if (m_mem.read(gpa, b, sizeof b).is_error()) return fail(QueueFault::RingAccess);
    return le16(b);
}

Result<void> SplitQueue::write_u16(u64 gpa, u16 v) {
    u8 b[2];
    put_le16(b, v);
    if (m_mem.write(gpa, b, sizeof b).is_error()) return fail(QueueFault::RingAccess);
    return {};
}

Result<SplitQueue::Desc> SplitQueue::read_desc(const Table& t, u16 index, QueueFault on_error) {
    if (t.base != m_block_base || index < m_block_first || index >= m_block_first + m_block_count) {
        // The aligned block around index, within the table (which activate() or the indirect
        // descriptor showed to be RAM as a whole).
        const u32 first = index & ~(kDescBlock - 1);
        const u32 count = t.entries - first < kDescBlock ? t.entries - first : kDescBlock;
        m_block_count = 0;
        if (m_mem.read(t.base + kDescBytes * first, m_desc_block, count * kDescBytes).is_error()) return fail(on_error);
        m_block_base = t.base, m_block_first = first, m_block_count = count;
    }
    const u8* b = m_desc_block + kDescBytes * (index - m_block_first);
    // 2.7.5: le64 addr, le32 len, le16 flags, le16 next.
    return Desc{le64(b), le32(b + 8), le16(b + 12), le16(b + 14)};
}

Result<bool> SplitQueue::pop(Chain& out) {
    if (broken()) return Error::BadFormat;
    if (!m_ready) return Error::InvalidArgument;
    const u16 mask = static_cast<u16>(m_cfg.size - 1);
    if (m_last_avail == m_shadow_avail) {
        const u16 idx = TRY(read_u16(m_cfg.driver + 2));
        // 2.7.6: the driver adds at most size entries ahead of the device; anything else (more,
        // or a step backwards, which is a huge step modulo 2^16) is a corrupt index.
        if (static_cast<u16>(idx - m_last_avail) > m_cfg.size) return fail(QueueFault::AvailIdxJump);
        m_shadow_avail = idx;
        if (idx == m_last_avail) return false;
        // Ring entries written before idx must be read after it (2.7.13.3 memory barrier).
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
    }
    const u16 head = TRY(read_u16(avail_ring_entry(m_last_avail & mask)));
    if (head >= m_cfg.size) return fail(QueueFault::HeadOutOfRange);
    if (test_bit(m_in_flight, head)) return fail(QueueFault::HeadInFlight);
    out.clear();
    out.head = head;
    TRY(walk(Table{m_cfg.desc, m_cfg.size}, head, false, out));
    set_bit(m_in_flight, head);
    ++m_last_avail;
    return true;
}

Result<void> SplitQueue::walk(const Table& table, u16 first, bool is_indirect, Chain& out) {
    Table t = table;
    bool indirect = is_indirect;
    u16 i = first;
    clear_bits(m_visited, t.entries);
    m_block_count = 0; // what an earlier walk read may have been rewritten since
    for (;;) {
        // 2.7.5.2: loops are forbidden. A table of N entries cannot hold a longer chain without
        // revisiting one, so this bitmap also bounds every chain by the table (queue) size.
        if (test_bit(m_visited, i)) return fail(QueueFault::Loop);
        set_bit(m_visited, i);
        const Desc d = TRY(read_desc(t, i, indirect ? QueueFault::IndirectOutsideRam : QueueFault::RingAccess));
        if (d.flags & kDescFIndirect) {
            // 2.7.5.3.1: only with the feature, never with NEXT, never inside an indirect table.
            // 2.7.5.3.2: a direct chain may end in one indirect descriptor; its WRITE is ignored.
            if (indirect) return fail(QueueFault::NestedIndirect);
            if (!m_cfg.indirect_desc) return fail(QueueFault::IndirectNotNegotiated);
            if (d.flags & kDescFNext) return fail(QueueFault::IndirectWithNext);
            // Linux may build indirect tables longer than the queue when it has the feature, so
            // the bound is the largest queue this implementation supports (as QEMU does).
            if (d.len == 0 || d.len % kDescBytes != 0 || d.len / kDescBytes > kMaxQueueSize)
                return fail(QueueFault::IndirectBadLength);
            if (wraps(d.addr, d.len) || !m_mem.is_ram(d.addr, d.len))
                return fail(QueueFault::IndirectOutsideRam);
            t = Table{d.addr, d.len / static_cast<u32>(kDescBytes)};
            indirect = true;
            i = 0;
            clear_bits(m_visited, t.entries);
            continue;
        }
        TRY(add_segment(d, out));
        if (!(d.flags & kDescFNext)) return {};
        if (d.next >= t.entries) return fail(QueueFault::NextOutOfRange);
        i = d.next;
    }
}

Result<void> SplitQueue::add_segment(const Desc& d, Chain& out) {
    // A zero-length buffer carries no data: nothing to check or hand to the device.
    if (d.len == 0) return {};
    const bool writable = d.flags & kDescFWrite;
    // 2.7.4.2: device-writable elements follow all device-readable ones.
    if (!writable && out.writable_len != 0) return fail(QueueFault::ReadableAfterWritable);
    if (wraps(d.addr, d.len)) return fail(QueueFault::BufferWraps);
    if (!m_mem.is_ram(d.addr, d.len)) return fail(QueueFault::BufferOutsideRam);
    // 2.7.5.2: at most 2^32 bytes in total; the used ring's le32 len must be able to count it.
    const u64 total = static_cast<u64>(out.readable_len) + out.writable_len + d.len;
    if (total > 0xffffffffull) return fail(QueueFault::TotalLengthOverflow);
    if (out.segments.push_back(Segment{d.addr, d.len, writable}).is_error())
        return fail(QueueFault::TooManySegments);
    if (writable)
        out.writable_len += d.len;
    else
        out.readable_len += d.len;
    return {};
}

Result<void> SplitQueue::push(const Chain& chain, u32 written) {
    if (broken()) return Error::BadFormat;
    if (!m_ready) return Error::InvalidArgument;
    if (chain.head >= m_cfg.size || !test_bit(m_in_flight, chain.head) || written > chain.writable_len)
        return Error::InvalidArgument;
    // 2.7.8: struct virtq_used_elem { le32 id; le32 len; }.
    u8 elem[8];
    put_le32(elem, chain.head);
    put_le32(elem + 4, written);
    if (m_mem.write(used_ring_entry(m_used_idx & static_cast<u16>(m_cfg.size - 1)), elem, sizeof elem).is_error())
        return fail(QueueFault::RingAccess);
    // The element must be visible before the index that publishes it (2.7.13 / 2.7.8).
    __atomic_thread_fence(__ATOMIC_RELEASE);
    TRY(write_u16(m_cfg.device + 2, static_cast<u16>(m_used_idx + 1)));
    ++m_used_idx;
    clear_bit(m_in_flight, chain.head);
    return {};
}

Result<bool> SplitQueue::needs_notify() {
    if (broken()) return Error::BadFormat;
    if (!m_ready) return Error::InvalidArgument;
    // The used idx store must be ordered before the suppression read, or the driver may miss
    // the interrupt while we read a stale flag (the same full barrier Linux uses).
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (!m_cfg.event_idx) {
        // 2.7.7: without EVENT_IDX the driver asks for no interrupts with NO_INTERRUPT.
        const u16 flags = TRY(read_u16(m_cfg.driver));
        return (flags & kAvailFNoInterrupt) == 0;
    }
    // 2.7.7 / 2.7.10: with EVENT_IDX, interrupt when used idx passed used_event since the last
    // interrupt decision: (new - used_event - 1) < (new - old), all modulo 2^16.
    const u16 event = TRY(read_u16(used_event_addr()));
    const u16 now = m_used_idx;
    const u16 old = m_signalled_used;
    const bool valid = m_signalled_valid;
    m_signalled_used = now;
    m_signalled_valid = true;
    if (!valid) return true;
    return static_cast<u16>(now - event - 1) < static_cast<u16>(now - old);
}

Result<void> SplitQueue::set_driver_notifications(bool enable) {
    if (broken()) return Error::BadFormat;
    if (!m_ready) return Error::InvalidArgument;
    if (m_cfg.event_idx) {
        // 2.7.10: the driver notifies when it makes the entry at avail_event available; asking
        // for the first one not seen yet. Disabling needs no write: the old value stays behind.
        if (enable) TRY(write_u16(avail_event_addr(), m_shadow_avail));
    } else {
        TRY(write_u16(m_cfg.device, enable ? 0 : kUsedFNoNotify));
    }
    // The caller re-checks the ring after enabling; the store must be visible before that read.
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    return {};
}

} // namespace virtio
