#include "virtio/console.hpp"

namespace virtio {

ConsoleDevice::ConsoleDevice(const char* name, const char* vm_name, ConsoleSink sink)
    : m_name(name), m_out(vm_name, sink) {}

// struct virtio_console_config (5.3.4): le16 cols, le16 rows (valid with F_SIZE, not offered),
// le32 max_nr_ports (valid with F_MULTIPORT, not offered), le32 emerg_wr (write-only). Reads are 0.
u32 ConsoleDevice::config_read(u32, unsigned) { return 0; }

void ConsoleDevice::config_write(u32 offset, unsigned width, u32 value) {
    // 5.3.6.1: "the driver can use emerg_wr to write a single character"; any width covering its
    // first byte.
    if (offset == 8 && width >= 1) m_out.put(char(value & 0xFF));
}

void ConsoleDevice::driver_ok(u64) { receive(); } // input typed while the driver was starting

void ConsoleDevice::reset() {
    // Nothing is held in flight between notifications (every chain is returned at once). Typed
    // input stays buffered for the driver that sets the device up next; a refused character is
    // still waited for.
}

void ConsoleDevice::notify(u16 index) {
    if (index == TransmitQ) transmit();
    else if (index == ReceiveQ) receive(); // the driver added receive buffers
}

bool ConsoleDevice::next_chain(u16 index, bool& armed) {
    SplitQueue& q = transport().queue(index);
    for (;;) {
        auto r = q.pop(m_chain);
        if (r.is_error()) {
            if (r.error() == Error::BadFormat) transport().queue_fault(index);
            return false;
        }
        if (r.value()) return true;
        // Without VIRTIO_F_EVENT_IDX this device never sets VIRTQ_USED_F_NO_NOTIFY, so the driver
        // notifies every new buffer: nothing to ask for (and one ring write and pop saved).
        if (armed || !(transport().features() & kFRingEventIdx)) return false;
        // 2.7.10: ask for a notification of the next buffer, then look once more: one made
        // available in between would otherwise wait for a notification that never comes.
        if (q.set_driver_notifications(true).is_error()) {
            transport().queue_fault(index);
            return false;
        }
        armed = true;
    }
}

void ConsoleDevice::transmit() {
    SplitQueue& q = transport().queue(TransmitQ);
    if (!transport().live() || !q.ready() || q.broken()) return;
    // One notification does bounded work (an exit runs with interrupts masked): at most
    // TxBudgetBytes of output, the rest of a longer chain is dropped, and at most 4 rounds of the
    // ring; a driver that keeps adding beyond that notifies again. Linux's hvc writes one buffer of
    // at most a page and waits for it.
    u32 budget = TxBudgetBytes;
    u32 chains = 4u * q.config().size;
    bool armed = false, any = false;
    while (chains && next_chain(TransmitQ, armed)) {
        --chains;
        // 5.3.6.2: output is in the device-readable buffers; written length 0.
        for (const Segment& s : m_chain.segments) {
            if (s.writable || !budget) break; // readable ones come first (SplitQueue::pop)
            char buf[128];
            const u32 len = s.len < budget ? s.len : budget;
            for (u32 done = 0; done < len;) {
                const u32 n = len - done < sizeof buf ? len - done : u32(sizeof buf);
                if (transport().memory().read(s.gpa + done, buf, n).is_error()) break;
                m_out.put(buf, n);
                done += n;
            }
            budget -= len;
        }
        (void)q.push(m_chain, 0);
        any = true;
        armed = false; // more may have come: arm again before giving up
    }
    if (any) transport().used(TransmitQ);
}

void ConsoleDevice::receive() {
    SplitQueue& q = transport().queue(ReceiveQ);
    if (!m_in_count || !transport().live() || !q.ready() || q.broken()) return;
    bool armed = false, any = false;
    while (m_in_count && next_chain(ReceiveQ, armed)) {
        u32 written = 0;
        for (const Segment& s : m_chain.segments) {
            if (!s.writable) continue;
            u32 room = s.len;
            while (room && m_in_count) {
                // The contiguous run of buffered input from the head.
                usize run = InputBuffer - m_in_head < m_in_count ? InputBuffer - m_in_head : m_in_count;
                if (run > room) run = room;
                if (transport().memory().write(s.gpa + (s.len - room), m_in + m_in_head, run).is_error()) {
                    room = 0; // RAM refused the copy (it changed under the queue): return what fits
                    break;
                }
                m_in_head = (m_in_head + run) % InputBuffer;
                m_in_count -= run;
                room -= u32(run);
                written += u32(run);
            }
            if (!m_in_count) break;
        }
        (void)q.push(m_chain, written);
        any = true;
        armed = false;
    }
    if (!any) return;
    m_in_overdue = false; // the driver takes input again: wait for it once more
    transport().used(ReceiveQ);
    if (m_waker && m_in_count < InputBuffer) { // room for the refused character: after_access
        m_wake_now.store(m_waker, std::memory_order_release);
        m_waker = nullptr;
    }
}

void ConsoleDevice::after_access() {
    // Every register write comes here: an atomic exchange, not a lock round trip.
    if (Waker w = m_wake_now.exchange(nullptr, std::memory_order_acquire))
        w(); // takes the console input lock, then ours again through push_input
}

bool ConsoleDevice::push_input(char c, Waker waker, bool overdue) {
    SpinlockGuard guard(transport().lock());
    if (m_in_count == InputBuffer) {
        if (!overdue && !m_in_overdue) {
            m_waker = waker; // the caller keeps c and offers it again when there is room
            return false;
        }
        // The driver has left its input unread past the console's patience: c is lost, and so is
        // what follows while the buffer stays full, until the driver takes input again.
        m_in_overdue = true;
        m_waker = nullptr;
        return true;
    }
    m_in[(m_in_head + m_in_count) % InputBuffer] = c;
    ++m_in_count;
    receive();
    return true;
}

usize ConsoleDevice::pending_input() {
    SpinlockGuard guard(transport().lock());
    return m_in_count;
}

} // namespace virtio
