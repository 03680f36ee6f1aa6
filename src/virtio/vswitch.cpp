// The virtual switch: MAC learning and flooding (an IEEE 802.1D learning bridge without spanning
// tree: the ports are VMs, the topology is one star per network).
#include "virtio/vswitch.hpp"
#include "abi/vm_package.hpp"

namespace virtio {

u64 mac_from_bytes(const u8* p) {
    u64 mac = 0;
    for (usize i = 0; i < 6; ++i) mac = (mac << 8) | p[i];
    return mac;
}

void mac_to_bytes(u64 mac, u8* p) {
    for (usize i = 0; i < 6; ++i) p[i] = static_cast<u8>(mac >> (40 - 8 * i));
}

Result<void> VSwitch::attach(SwitchPort& port) {
    SpinlockGuard g(m_lock);
    if (port.m_switch) return Error::InvalidArgument;
    if (m_port_count == kMaxPorts) return Error::Busy;
    m_ports[m_port_count++] = &port;
    port.m_switch = this;
    return {};
}

void VSwitch::detach(SwitchPort& port) {
    {
        SpinlockGuard g(m_lock);
        if (port.m_switch != this) return;
        for (usize i = 0; i < m_port_count; ++i)
            if (m_ports[i] == &port) {
                m_ports[i] = m_ports[--m_port_count]; // order of ports does not matter
                m_ports[m_port_count] = nullptr;
                break;
            }
        forget_locked(port);
        port.m_switch = nullptr;
    }
    // No new delivery can pick the port up now (it is in no list); wait for those that already
    // did. Each is one bounded copy into a guest's ring, so this spin is short.
    while (port.m_users.load(std::memory_order_acquire) != 0) {
#if defined(__aarch64__)
        asm volatile("yield" ::: "memory");
#endif
    }
}

void VSwitch::forget(SwitchPort& port) {
    SpinlockGuard g(m_lock);
    forget_locked(port);
}

void VSwitch::forget_locked(SwitchPort& port) {
    for (Entry& e : m_table)
        if (e.port == &port) e = Entry{};
}

VSwitch::Entry* VSwitch::find(u64 mac) {
    for (Entry& e : m_table)
        if (e.port && e.mac == mac) return &e;
    return nullptr;
}

void VSwitch::learn(u64 mac, SwitchPort& port) {
    ++m_clock;
    if (Entry* e = find(mac)) {
        // Refreshed; a MAC that moved (a guest changed its address, another VM took it) follows its
        // latest sender, as on a hardware switch.
        e->port = &port;
        e->stamp = m_clock;
        return;
    }
    Entry* victim = &m_table[0];
    for (Entry& e : m_table) {
        if (!e.port) {
            victim = &e;
            break;
        }
        if (e.stamp < victim->stamp) victim = &e;
    }
    *victim = Entry{mac, &port, m_clock};
}

void VSwitch::send(SwitchPort& from, const u8* frame, usize len) {
    if (len < kEthHeaderLen || len > kMaxFrameLen) return;
    const u64 dst = mac_from_bytes(frame);
    const u64 src = mac_from_bytes(frame + 6);

    SwitchPort* targets[kMaxPorts];
    usize n = 0;
    {
        SpinlockGuard g(m_lock);
        if (from.m_switch != this) return; // left the switch while its frame was on the way
        ++m_stats.frames;
        // Only a unicast source names a station (a group address as source is invalid, 802.3
        // 3.2.3); zero is no station either.
        if (!mac_is_group(src) && src != 0) learn(src, from);
        Entry* e = mac_is_group(dst) ? nullptr : find(dst);
        if (e) {
            if (e->port == &from) {
                ++m_stats.filtered; // the destination is on the sender's side: nothing to do
            } else {
                targets[n++] = e->port;
                ++m_stats.forwarded;
            }
        } else {
            for (usize i = 0; i < m_port_count; ++i)
                if (m_ports[i] != &from) targets[n++] = m_ports[i];
            ++m_stats.flooded;
        }
        m_stats.deliveries += n;
        // Pinned under the lock: detach() cannot complete until these deliveries end.
        for (usize i = 0; i < n; ++i) targets[i]->m_users.fetch_add(1, std::memory_order_relaxed);
    }
    for (usize i = 0; i < n; ++i) {
        targets[i]->receive(frame, len);
        targets[i]->m_users.fetch_sub(1, std::memory_order_release);
    }
}

usize VSwitch::port_count() {
    SpinlockGuard g(m_lock);
    return m_port_count;
}

SwitchPort* VSwitch::lookup(u64 mac) {
    SpinlockGuard g(m_lock);
    Entry* e = find(mac);
    return e ? e->port : nullptr;
}

SwitchStats VSwitch::stats() {
    SpinlockGuard g(m_lock);
    return m_stats;
}

namespace {
// Constant-initialised (VSwitch has a constexpr constructor): no boot-time constructor needed.
VSwitch g_switches[vm_package::MAX_NETWORKS];
} // namespace

VSwitch& network_switch(u32 index) { return g_switches[index]; }

} // namespace virtio
