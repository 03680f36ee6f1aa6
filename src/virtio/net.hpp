// virtio-net device (virtio spec v1.2, 5.1 "Network Device") on cxvisor's virtual switch.
//
// Two queues, receiveq1 = 0 and transmitq1 = 1 (5.1.2; no multiqueue, no control queue). Offered
// features: VIRTIO_NET_F_MAC (the address from the VM config), VIRTIO_NET_F_STATUS (the link is
// always up: the switch is there for cxvisor's life) and VIRTIO_NET_F_MTU (1500). No checksum or
// segmentation offloads and no mergeable rx buffers, so every frame is at most kMaxFrameLen bytes
// behind the 12-byte virtio_net_hdr of VERSION_1 (5.1.6).
//
// transmit (notify on queue 1, the transport holding this device's lock): pop a chain, copy header
// and frame through GuestMemory into this device's bounce buffer, return the chain, then release
// the device lock and hand the frame to the switch, which copies it into the receivers; the lock is
// taken again before the next chain. One CPU at a time runs that loop (a notify arriving on another
// CPU meanwhile leaves the new chains to it), so the bounce buffer has a single user.
// receive (SwitchPort::receive, called by the switch with no lock held): take this device's lock,
// pop one rx buffer, write header and frame, push. No rx buffer, a device that is not live
// (driver not ready, reset, VM stopped), or a buffer too small: the frame is dropped and counted.
// The switch never waits for a guest.
//
// A chain with the wrong direction (a tx buffer the device should write, an rx buffer it should
// read) is malformed: Transport::queue_fault, the device stops until the driver resets it. A frame
// that is merely bad (shorter than an Ethernet header, longer than kMaxFrameLen, a header asking
// for offloads that were not negotiated) is dropped, counted and its buffer returned.
#pragma once
#include "virtio/device.hpp"
#include "virtio/vswitch.hpp"

namespace virtio {

// Feature bits (5.1.3).
inline constexpr u64 kNetFMtu = 1ull << 3;
inline constexpr u64 kNetFMac = 1ull << 5;
inline constexpr u64 kNetFStatus = 1ull << 16;
// virtio_net_config.status (5.1.4).
inline constexpr u16 kNetSLinkUp = 1;
// struct virtio_net_hdr with VERSION_1: flags, gso_type, hdr_len, gso_size, csum_start,
// csum_offset, num_buffers (5.1.6).
inline constexpr usize kNetHdrLen = 12;
inline constexpr u8 kNetHdrFNeedsCsum = 1;
inline constexpr u8 kNetHdrGsoNone = 0;
inline constexpr u16 kNetMtu = 1500;

struct NetStats {
    u64 tx_frames = 0;        // frames handed to the switch
    u64 tx_bad = 0;           // tx chains dropped: frame too short/long, offload requested
    u64 rx_frames = 0;        // frames written into an rx buffer
    u64 rx_no_buffer = 0;     // dropped: the driver had no rx buffer available
    u64 rx_not_live = 0;      // dropped: the device was not live (not started, reset, stopped)
    u64 rx_small_buffer = 0;  // dropped: the rx buffer could not hold header + frame
};

class NetDevice final : public Device, public SwitchPort {
public:
    static constexpr u16 kRxQueue = 0;
    static constexpr u16 kTxQueue = 1;
    static constexpr u16 kQueueSize = 256;

    // A device with address `mac` (48 bits, unicast: the caller checks) on switch `sw`, of VM
    // `vm_id` (for messages). Error::Busy when the switch has no free port, NoMemory when the heap
    // is exhausted (nothing is left allocated either way).
    static Result<NetDevice*> create(u64 mac, VSwitch& sw, u32 vm_id);
    // Leaves the switch first (waiting for deliveries in flight), so nothing reaches a freed
    // device. Called without this device's lock held.
    ~NetDevice() override;

    u32 device_id() const override { return kDeviceIdNet; }
    u64 device_features() const override { return kNetFMac | kNetFStatus | kNetFMtu; }
    u16 queue_count() const override { return 2; }
    u16 queue_max_size(u16) const override { return kQueueSize; }
    u32 config_read(u32 offset, unsigned width) override;
    void reset() override;
    void notify(u16 index) override;

    void receive(const u8* frame, usize len) override;

    u64 mac() const { return m_mac; }
    // A snapshot; takes the device lock.
    NetStats stats();

private:
    NetDevice(u64 mac, VSwitch& sw, u32 vm_id) : m_mac(mac), m_switch(sw), m_vm_id(vm_id) {}
    // Pops, copies out and returns the next tx chain, under the lock. True: a chain was consumed,
    // `frame_len` is the frame's length in m_tx_buf after the header (0: dropped as bad). False:
    // nothing available (driver notifications enabled again). Error::BadFormat: the queue or the
    // chain is malformed (the caller calls queue_fault). `suppressed` tracks whether driver
    // notifications are off while the loop runs.
    Result<bool> next_tx(bool& suppressed, usize& frame_len);
    void fault(u16 index);
    bool may_report(); // whether to print one more malformed-chain line (kMaxReports per device)
    static constexpr u32 kMaxReports = 8;

    const u64 m_mac;
    VSwitch& m_switch;
    const u32 m_vm_id;
    u32 m_reports = 0;
    bool m_tx_running = false; // a CPU is in the tx loop (possibly with the lock released)
    NetStats m_stats;
    Chain m_chain; // used only under the device lock (tx and rx alike)
    u8 m_tx_buf[kNetHdrLen + kMaxFrameLen];
};

} // namespace virtio
