// virtio-net device. Section numbers are virtio spec v1.2 (OASIS, 2022).
#include "virtio/net.hpp"
#include "kernel/log.hpp"

#include <new>

namespace virtio {

namespace {

// Copies the first `len` bytes of the chain's device-readable buffers to dst (len <= readable_len).
Result<void> read_chain(GuestMemory& mem, const Chain& c, u8* dst, usize len) {
    for (const Segment& s : c.segments) {
        if (!len || s.writable) break;
        const usize n = s.len < len ? s.len : len;
        TRY(mem.read(s.gpa, dst, n));
        dst += n;
        len -= n;
    }
    return {};
}

// Copies len bytes from src into the chain's device-writable buffers, starting `offset` bytes into
// them (offset + len <= writable_len).
Result<void> write_chain(GuestMemory& mem, const Chain& c, usize offset, const u8* src, usize len) {
    for (const Segment& s : c.segments) {
        if (!len) break;
        if (!s.writable) continue;
        if (offset >= s.len) {
            offset -= s.len;
            continue;
        }
        const usize room = s.len - offset;
        const usize n = room < len ? room : len;
        TRY(mem.write(s.gpa + offset, src, n));
        offset = 0;
        src += n;
        len -= n;
    }
    return {};
}

void put_le16(u8* p, u16 v) {
    p[0] = static_cast<u8>(v);
    p[1] = static_cast<u8>(v >> 8);
}

} // namespace

Result<NetDevice*> NetDevice::create(u64 mac, VSwitch& sw, u32 vm_id) {
    NetDevice* d = new (std::nothrow) NetDevice(mac & kMacMask, sw, vm_id);
    if (!d) return Error::NoMemory;
    if (auto r = sw.attach(*d); r.is_error()) {
        delete d; // not attached: the destructor's detach is a no-op
        return r.error();
    }
    return d;
}

NetDevice::~NetDevice() { m_switch.detach(*this); }

// virtio_net_config (5.1.4): mac[6], status, max_virtqueue_pairs, mtu; little-endian.
u32 NetDevice::config_read(u32 offset, unsigned width) {
    u8 cfg[12] = {};
    mac_to_bytes(m_mac, cfg);
    put_le16(cfg + 6, kNetSLinkUp);
    put_le16(cfg + 8, 1); // max_virtqueue_pairs (only meaningful with MQ/RSS, which are not offered)
    put_le16(cfg + 10, kNetMtu);
    u32 v = 0;
    for (unsigned i = 0; i < width && i < 4; ++i) {
        const u64 at = u64(offset) + i;
        if (at < sizeof cfg) v |= u32(cfg[at]) << (8 * i);
    }
    return v;
}

void NetDevice::reset() {
    // Frames stop reaching the guest by themselves (not live); the addresses it used are
    // forgotten, so a restarted guest with another MAC is not sent its old traffic. A tx loop with
    // the lock released (m_tx_running) sees the reset queue when it takes the lock again.
    m_switch.forget(*this);
}

NetStats NetDevice::stats() {
    SpinlockGuard g(transport().lock());
    return m_stats;
}

void NetDevice::fault(u16 index) { transport().queue_fault(index); }

bool NetDevice::may_report() {
    // A driver that resets and repeats its mistake must not flood the console (the transport's
    // own fault line follows each of these, with its own limit).
    return m_reports < kMaxReports && ++m_reports;
}

Result<bool> NetDevice::next_tx(bool& suppressed, usize& frame_len) {
    frame_len = 0;
    Transport& t = transport();
    SplitQueue& q = t.queue(kTxQueue);
    if (!suppressed) {
        // A burst of frames costs one exit, not one per frame (2.7.10).
        TRY(q.set_driver_notifications(false));
        suppressed = true;
    }
    bool popped = TRY(q.pop(m_chain));
    if (!popped) {
        // Empty: ask for notifications again, then look once more, since the driver may have
        // added a chain after the last pop without notifying.
        TRY(q.set_driver_notifications(true));
        suppressed = false;
        popped = TRY(q.pop(m_chain));
        if (!popped) return false;
    }
    // Transmit buffers are device-readable only (5.1.6.2): one the device should write is a
    // malformed chain, not a bad frame.
    if (m_chain.writable_len) {
        if (may_report())
            kprint("cxvisor: vm %u (%s): virtio device %s: queue %u: transmit chain with %u device-writable bytes\n",
                   m_vm_id, t.vm_name(), t.device_name(), kTxQueue, m_chain.writable_len);
        return Error::BadFormat;
    }
    const u32 total = m_chain.readable_len;
    bool ok = total >= kNetHdrLen + kEthHeaderLen && total <= kNetHdrLen + kMaxFrameLen &&
              read_chain(t.memory(), m_chain, m_tx_buf, total).is_ok();
    // No offload was negotiated: a header asking for checksum completion or segmentation cannot
    // be honoured (5.1.6.2.1), so the frame is not sent half-done.
    if (ok && ((m_tx_buf[0] & kNetHdrFNeedsCsum) || m_tx_buf[1] != kNetHdrGsoNone)) ok = false;
    TRY(q.push(m_chain, 0));
    if (ok)
        frame_len = total - kNetHdrLen;
    else
        ++m_stats.tx_bad;
    return true;
}

void NetDevice::notify(u16 index) {
    // Rx buffers made available need no action: frames are never queued waiting for them.
    if (index != kTxQueue) return;
    // Another CPU is in the loop below with the lock released for the switch: it pops again
    // before it stops, and sees what this notification announced.
    if (m_tx_running) return;
    Transport& t = transport();
    SplitQueue& q = t.queue(kTxQueue);
    m_tx_running = true;
    bool suppressed = false;
    while (t.live() && q.ready() && !q.broken()) {
        usize len = 0;
        auto r = next_tx(suppressed, len);
        if (r.is_error()) {
            fault(kTxQueue);
            break;
        }
        if (!r.value()) break;
        // The chain is back in the used ring: the driver may reuse the buffer at once.
        t.used(kTxQueue);
        if (!len) continue;
        t.lock().unlock();
        m_switch.send(*this, m_tx_buf + kNetHdrLen, len);
        t.lock().lock();
        ++m_stats.tx_frames;
    }
    m_tx_running = false;
}

void NetDevice::receive(const u8* frame, usize len) {
    Transport& t = transport();
    SpinlockGuard g(t.lock());
    SplitQueue& q = t.queue(kRxQueue);
    if (!t.live() || !q.ready() || q.broken()) {
        ++m_stats.rx_not_live;
        return;
    }
    auto popped = q.pop(m_chain);
    if (popped.is_error()) {
        ++m_stats.rx_not_live;
        fault(kRxQueue);
        return;
    }
    if (!popped.value()) {
        ++m_stats.rx_no_buffer;
        return;
    }
    // Receive buffers are device-writable only (5.1.6.3).
    if (m_chain.readable_len) {
        if (may_report())
            kprint("cxvisor: vm %u (%s): virtio device %s: queue %u: receive chain with %u device-readable bytes\n",
                   m_vm_id, t.vm_name(), t.device_name(), kRxQueue, m_chain.readable_len);
        ++m_stats.rx_not_live;
        fault(kRxQueue);
        return;
    }
    // The header of 5.1.6.4: no offload was negotiated, so all zero but num_buffers = 1 (one
    // buffer per frame without VIRTIO_NET_F_MRG_RXBUF).
    u8 hdr[kNetHdrLen] = {};
    put_le16(hdr + 10, 1);
    u32 written = 0;
    if (m_chain.writable_len < kNetHdrLen + len) {
        ++m_stats.rx_small_buffer; // returned empty: the driver sees a length error and reuses it
    } else if (write_chain(t.memory(), m_chain, 0, hdr, kNetHdrLen).is_error() ||
               write_chain(t.memory(), m_chain, kNetHdrLen, frame, len).is_error()) {
        ++m_stats.rx_small_buffer; // RAM changed under a live queue: nothing usable was written
    } else {
        written = static_cast<u32>(kNetHdrLen + len);
        ++m_stats.rx_frames;
    }
    if (q.push(m_chain, written).is_error()) {
        fault(kRxQueue);
        return;
    }
    t.used(kRxQueue);
}

} // namespace virtio
