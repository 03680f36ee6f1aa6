// cxvisor's virtual Ethernet switch: one per network number (vm_package::MAX_NETWORKS), its ports
// are virtio-net devices (virtio/net.hpp) of any VM. It learns which port each source MAC sits
// behind and forwards a unicast frame to that port only; broadcast, multicast and unknown unicast
// frames go to every other port (flooding), as an IEEE 802.1D learning bridge does.
//
// Frames are copied: the sender hands the switch a frame in its own bounce buffer and each
// receiving port copies it into its VM's rx ring. No VM's memory is ever mapped into another.
//
// Locking: the switch's lock guards its port list and MAC table and is held only for the table
// work, never while a frame is delivered. A device may hold its own lock when it calls attach() or
// forget() (lock order: device lock, then switch lock); the switch never takes a device lock while
// holding its own, and send() is called with no device lock held. A frame in delivery pins the
// receiving port with a use count, and detach() waits for those deliveries to end, so a port (and
// the device it belongs to) can be freed as soon as detach() returns.
#pragma once
#include "base/result.hpp"
#include "kernel/spinlock.hpp"

#include <atomic>

namespace virtio {

// Ethernet (IEEE 802.3 clause 3): 6-byte destination, 6-byte source, 2-byte type/length.
inline constexpr usize kEthHeaderLen = 14;
// The largest frame the switch carries: a 1500-byte payload, the Ethernet header and one 802.1Q
// tag (no jumbo frames, no offloads: every device offers MTU 1500 and no GSO).
inline constexpr usize kMaxFrameLen = 1518;
// A MAC address as a 48-bit number, its first (transmitted) byte in bits 47..40: the encoding of
// the package's EmuDevice::cfg[0] for virtio-net.
inline constexpr u64 kMacMask = (1ull << 48) - 1;
inline constexpr u64 kMacBroadcast = kMacMask;
// The I/G bit: bit 0 of the first byte (group address: multicast or broadcast).
constexpr bool mac_is_group(u64 mac) { return (mac >> 40) & 1; }
u64 mac_from_bytes(const u8* p);
void mac_to_bytes(u64 mac, u8* p);

class VSwitch;

// One port of a switch. The device behind it implements receive().
class SwitchPort {
public:
    // A frame for this port: copy it (frame[0..len), len in kEthHeaderLen..kMaxFrameLen) into the
    // device, or drop it. Called by VSwitch::send on the sending CPU with no switch lock and no
    // lock of the sending device held; it may take this port's device lock. Must never block on
    // the receiving guest (no rx buffer: drop).
    virtual void receive(const u8* frame, usize len) = 0;

protected:
    ~SwitchPort() = default;

private:
    friend class VSwitch;
    VSwitch* m_switch = nullptr;  // guarded by the switch's lock
    std::atomic<u32> m_users{0}; // deliveries in flight to this port
};

struct SwitchStats {
    u64 frames = 0;    // frames sent into the switch
    u64 forwarded = 0; // unicast frames to a learned port
    u64 flooded = 0;   // frames to every other port (group or unknown destination)
    u64 filtered = 0;  // unicast frames whose destination sits behind the sending port
    u64 deliveries = 0;
};

class VSwitch {
public:
    // Ports on one switch: every VM's virtio-net devices of that network could join.
    static constexpr usize kMaxPorts = 32;
    // Learned MAC addresses. When full, the least recently refreshed entry makes room.
    static constexpr usize kTableSize = 128;

    constexpr VSwitch() = default;
    VSwitch(const VSwitch&) = delete;
    VSwitch& operator=(const VSwitch&) = delete;

    // Adds a port. Error::Busy when all kMaxPorts are taken, InvalidArgument for a port already on
    // a switch.
    Result<void> attach(SwitchPort& port);
    // Removes a port and its learned addresses, then waits until no delivery to it is in flight.
    // The caller must not hold the port's device lock (a delivery in flight may be waiting for
    // it). No-op for a port not on this switch.
    void detach(SwitchPort& port);
    // Forgets the addresses learned behind `port` (its device was reset; its guest may come back
    // with other MACs). The port stays attached.
    void forget(SwitchPort& port);
    // A frame from `from` (attached here): learn its source, deliver copies. The caller holds no
    // device lock. Frames shorter than an Ethernet header or longer than kMaxFrameLen are the
    // device's to refuse before calling; here they are ignored.
    void send(SwitchPort& from, const u8* frame, usize len);

    usize port_count();
    // The port a MAC was learned behind, or null (tests and diagnostics).
    SwitchPort* lookup(u64 mac);
    SwitchStats stats();

private:
    struct Entry {
        u64 mac = 0;
        SwitchPort* port = nullptr; // null: free
        u64 stamp = 0;              // m_clock at the last frame from this address
    };
    void learn(u64 mac, SwitchPort& port);
    void forget_locked(SwitchPort& port);
    Entry* find(u64 mac);

    Spinlock m_lock;
    SwitchPort* m_ports[kMaxPorts] = {};
    usize m_port_count = 0;
    Entry m_table[kTableSize] = {};
    u64 m_clock = 0;
    SwitchStats m_stats;
};

// The switch of network `index` (< vm_package::MAX_NETWORKS; callers check), one per network for
// cxvisor's life.
VSwitch& network_switch(u32 index);

} // namespace virtio
