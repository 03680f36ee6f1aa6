// virtio-net device (virtio/net.hpp) between fake VMs on a switch: config space, frames moving
// from one VM's tx ring into another's rx ring, drops that never block, malformed chains, reset
// and a device leaving the switch.
#include "fake_vm_transport.hpp"
#include "virtio/net.hpp"

#include <gtest/gtest.h>
#include <atomic>
#include <cstring>
#include <thread>
#include <memory>
#include <vector>

using namespace virtio;

namespace {

constexpr u64 kRam = 0x4000'0000;
constexpr u64 kRxBufs = kRam + 0x10000; // 2 KiB per rx buffer
constexpr u64 kTxBufs = kRam + 0x80000; // 2 KiB per tx buffer
constexpr u64 kBroadcast = kMacBroadcast;

// One VM with one virtio-net device: its RAM, transport, driver queues.
struct TestVm {
    FakeGuestMemory mem;
    FakeVmTransport t;
    DriverQueue rx{mem, 16, kRam + 0x0000, kRam + 0x1000, kRam + 0x2000};
    DriverQueue tx{mem, 16, kRam + 0x4000, kRam + 0x5000, kRam + 0x6000};
    NetDevice* dev = nullptr;
    u64 mac;
    std::vector<u16> rx_heads; // head -> buffer slot (head order == offer order)
    u16 tx_slot = 0;

    TestVm(const char* name, u64 mac_, VSwitch& sw) : t(mem, name), mac(mac_) {
        mem.add_ram(kRam, 1 * MiB);
        auto d = NetDevice::create(mac, sw, 220);
        EXPECT_TRUE(d.is_ok());
        dev = d.value();
        t.start(*dev, {&rx, &tx}, kFVersion1 | kNetFMac | kNetFStatus);
    }
    ~TestVm() { delete dev; }

    // Rx buffers of `len` bytes each (one writable descriptor), or split header + data.
    void post_rx(int n, u32 len = 1526, bool split = false) {
        for (int i = 0; i < n; ++i) {
            const u64 gpa = kRxBufs + 0x800ull * (rx.avail_idx % 32);
            if (split)
                rx.offer({{gpa, static_cast<u32>(kNetHdrLen), true}, {gpa + 0x100, len - static_cast<u32>(kNetHdrLen), true}});
            else
                rx.offer({{gpa, len, true}});
        }
    }
    // One frame out: header (+ optional flags) and frame in `pieces` readable descriptors.
    void send(const std::vector<u8>& frame, int pieces = 1, u8 hdr_flags = 0, u8 gso = 0) {
        std::vector<u8> buf(kNetHdrLen + frame.size(), 0);
        buf[0] = hdr_flags;
        buf[1] = gso;
        std::memcpy(buf.data() + kNetHdrLen, frame.data(), frame.size());
        const u64 gpa = kTxBufs + 0x800ull * (tx_slot++ % 32);
        std::memcpy(mem.at(gpa, buf.size()), buf.data(), buf.size());
        std::vector<DriverQueue::Buf> bufs;
        const usize step = (buf.size() + pieces - 1) / pieces;
        for (usize off = 0; off < buf.size(); off += step) {
            const usize n = std::min(step, buf.size() - off);
            bufs.push_back({gpa + off, static_cast<u32>(n), false});
        }
        tx.offer(bufs);
        t.notify(NetDevice::kTxQueue);
    }
    // Frames the device wrote into rx buffers (header checked and stripped).
    std::vector<std::vector<u8>> received() {
        std::vector<std::vector<u8>> out;
        u32 id, len;
        while (rx.take_used(id, len)) {
            if (len == 0) {
                out.push_back({}); // returned empty (buffer too small)
                continue;
            }
            EXPECT_GE(len, kNetHdrLen);
            const u64 desc = rx.desc + 16ull * id;
            const u64 gpa = mem.get32(desc) | (u64(mem.get32(desc + 4)) << 32);
            const u16 flags = mem.get16(desc + 12);
            std::vector<u8> bytes;
            if (flags & kDescFNext) { // split: header then data at +0x100
                const u8* h = mem.at(gpa, kNetHdrLen);
                bytes.assign(h, h + kNetHdrLen);
                const u8* d = mem.at(gpa + 0x100, len - kNetHdrLen);
                bytes.insert(bytes.end(), d, d + (len - kNetHdrLen));
            } else {
                const u8* p = mem.at(gpa, len);
                bytes.assign(p, p + len);
            }
            // 5.1.6.4: no offloads, num_buffers = 1.
            for (usize i = 0; i < 10; ++i) EXPECT_EQ(bytes[i], 0u) << "header byte " << i;
            EXPECT_EQ(bytes[10], 1u);
            EXPECT_EQ(bytes[11], 0u);
            out.emplace_back(bytes.begin() + kNetHdrLen, bytes.end());
        }
        return out;
    }
    int tx_used() {
        int n = 0;
        u32 id, len;
        while (tx.take_used(id, len)) {
            EXPECT_EQ(len, 0u); // the device writes nothing into tx buffers
            ++n;
        }
        return n;
    }
};

std::vector<u8> eth(u64 dst, u64 src, usize len = 100, u8 seed = 1) {
    std::vector<u8> f(len);
    for (usize i = 0; i < len; ++i) f[i] = static_cast<u8>(seed + i * 7);
    mac_to_bytes(dst, f.data());
    mac_to_bytes(src, f.data() + 6);
    return f;
}

constexpr u64 kMacA = 0x0200'0000'0a01;
constexpr u64 kMacB = 0x0200'0000'0b01;
constexpr u64 kMacC = 0x0200'0000'0c01;

struct NetTest : ::testing::Test {
    VSwitch sw;
    VSwitch other;
    std::unique_ptr<TestVm> a, b, c;
    void SetUp() override {
        a = std::make_unique<TestVm>("a", kMacA, sw);
        b = std::make_unique<TestVm>("b", kMacB, sw);
        c = std::make_unique<TestVm>("c", kMacC, other); // another network
    }
    void TearDown() override {
        for (TestVm* v : {a.get(), b.get(), c.get()})
            if (v) {
                EXPECT_EQ(v->t.lock_violations, 0);
                EXPECT_EQ(v->mem.refused, 0u);
            }
    }
};

TEST_F(NetTest, ConfigSpaceHasMacLinkUpAndMtu) {
    EXPECT_EQ(a->dev->device_id(), 1u);
    EXPECT_EQ(a->dev->device_features(), kNetFMac | kNetFStatus | kNetFMtu);
    EXPECT_EQ(a->dev->queue_count(), 2u);
    // mac[6] byte by byte, then status and mtu little-endian (5.1.4).
    const u8 want[6] = {0x02, 0, 0, 0, 0x0a, 0x01};
    for (u32 i = 0; i < 6; ++i) EXPECT_EQ(a->dev->config_read(i, 1), want[i]) << i;
    EXPECT_EQ(a->dev->config_read(0, 4), 0x00000002u);
    EXPECT_EQ(a->dev->config_read(4, 2), 0x010au);
    EXPECT_EQ(a->dev->config_read(6, 2), kNetSLinkUp);
    EXPECT_EQ(a->dev->config_read(10, 2), kNetMtu);
    EXPECT_EQ(a->dev->config_read(12, 4), 0u);    // past the config: 0
    EXPECT_EQ(a->dev->config_read(0x1000, 4), 0u);
    EXPECT_EQ(a->dev->config_read(11, 4), 0x05u); // straddles the end: mtu's high byte, then 0
}

TEST_F(NetTest, BroadcastReachesTheOtherVmOnTheSameNetworkOnly) {
    b->post_rx(4);
    c->post_rx(4);
    auto f = eth(kBroadcast, kMacA, 342);
    a->send(f);
    EXPECT_EQ(a->tx_used(), 1);
    EXPECT_EQ(a->t.used_calls[NetDevice::kTxQueue], 1);
    auto got = b->received();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0], f);
    EXPECT_EQ(b->t.used_calls[NetDevice::kRxQueue], 1);
    EXPECT_TRUE(c->received().empty());
    EXPECT_EQ(c->dev->stats().rx_frames, 0u);
    EXPECT_EQ(a->dev->stats().tx_frames, 1u);
    EXPECT_EQ(b->dev->stats().rx_frames, 1u);
}

TEST_F(NetTest, UnicastGoesOnlyToTheLearnedVm) {
    auto d = std::make_unique<TestVm>("d", 0x0200'0000'0d01, sw);
    a->post_rx(4);
    b->post_rx(4);
    d->post_rx(4);
    b->send(eth(kBroadcast, kMacB)); // everyone learns where B is
    EXPECT_EQ(a->received().size(), 1u);
    EXPECT_EQ(d->received().size(), 1u);
    auto f = eth(kMacB, kMacA, 1514);
    a->send(f);
    auto got = b->received();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0], f);
    EXPECT_TRUE(d->received().empty());
    EXPECT_EQ(d->t.lock_violations, 0);
}

TEST_F(NetTest, FramesSplitOverDescriptorsAndBuffersArriveWhole) {
    b->post_rx(2, kNetHdrLen + kMaxFrameLen, /*split=*/true);
    auto f1 = eth(kBroadcast, kMacA, 1518, 3);
    auto f2 = eth(kBroadcast, kMacA, 60, 9);
    a->send(f1, /*pieces=*/3);
    a->send(f2, /*pieces=*/2);
    auto got = b->received();
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0], f1);
    EXPECT_EQ(got[1], f2);
}

TEST_F(NetTest, NoRxBufferDropsAndCountsWithoutBlockingTheSender) {
    a->send(eth(kBroadcast, kMacA));
    EXPECT_EQ(a->tx_used(), 1); // the sender's buffer came back although nobody could take it
    EXPECT_EQ(b->dev->stats().rx_no_buffer, 1u);
    EXPECT_TRUE(b->received().empty());
    b->post_rx(1);
    auto f = eth(kBroadcast, kMacA, 77);
    a->send(f);
    auto got = b->received();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0], f);
}

TEST_F(NetTest, AVmThatIsNotLiveGetsNothing) {
    b->post_rx(2);
    b->t.set_live(false); // driver not ready, or its VM stopped
    a->send(eth(kBroadcast, kMacA));
    EXPECT_EQ(b->dev->stats().rx_not_live, 1u);
    EXPECT_EQ(b->rx.mem.get16(b->rx.used + 2), 0u); // the rx ring was not touched
}

TEST_F(NetTest, RxBufferTooSmallIsReturnedEmpty) {
    b->post_rx(1, 64);
    a->send(eth(kBroadcast, kMacA, 200));
    auto got = b->received();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_TRUE(got[0].empty());
    EXPECT_EQ(b->dev->stats().rx_small_buffer, 1u);
    EXPECT_EQ(b->dev->stats().rx_frames, 0u);
}

TEST_F(NetTest, BadFramesAreDroppedAndTheirBuffersReturned) {
    b->post_rx(8);
    a->send(std::vector<u8>(kEthHeaderLen - 1, 0xff));     // runt
    a->send(eth(kBroadcast, kMacA, kMaxFrameLen + 1));     // too long
    a->send(eth(kBroadcast, kMacA), 1, kNetHdrFNeedsCsum); // checksum offload not negotiated
    a->send(eth(kBroadcast, kMacA), 1, 0, 1);              // GSO_TCPV4 not negotiated
    EXPECT_EQ(a->tx_used(), 4);
    EXPECT_EQ(a->dev->stats().tx_bad, 4u);
    EXPECT_EQ(a->dev->stats().tx_frames, 0u);
    EXPECT_EQ(a->t.faults[NetDevice::kTxQueue], 0);
    EXPECT_TRUE(b->received().empty());
    // The device still works.
    auto f = eth(kBroadcast, kMacA, kEthHeaderLen);
    a->send(f);
    auto got = b->received();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0], f);
}

TEST_F(NetTest, TxChainWithAWritableBufferIsAQueueFault) {
    b->post_rx(2);
    a->tx.offer({{kTxBufs, 12 + 60, false}, {kTxBufs + 0x100, 64, true}});
    a->t.notify(NetDevice::kTxQueue);
    EXPECT_EQ(a->t.faults[NetDevice::kTxQueue], 1);
    EXPECT_TRUE(b->received().empty());
    // The device stops using its queues (not live) until reset: later chains stay where they are.
    a->send(eth(kBroadcast, kMacA));
    EXPECT_EQ(a->tx_used(), 0);
    EXPECT_TRUE(b->received().empty());
}

TEST_F(NetTest, RxChainWithAReadableBufferIsAQueueFault) {
    b->rx.offer({{kRxBufs, 16, false}, {kRxBufs + 0x100, 1526, true}});
    a->send(eth(kBroadcast, kMacA));
    EXPECT_EQ(b->t.faults[NetDevice::kRxQueue], 1);
    EXPECT_EQ(b->rx.mem.get16(b->rx.used + 2), 0u);
    EXPECT_EQ(a->t.faults[NetDevice::kTxQueue], 0); // the sender is not affected
    EXPECT_EQ(a->tx_used(), 1);
}

TEST_F(NetTest, MalformedRingIsAQueueFault) {
    a->tx.offer({{kTxBufs, 72, false}});
    a->mem.put16(a->tx.avail + 4, 99); // head beyond the queue size
    a->t.notify(NetDevice::kTxQueue);
    EXPECT_EQ(a->t.faults[NetDevice::kTxQueue], 1);
}

TEST_F(NetTest, ResetForgetsTheAddressesOfTheVm) {
    b->post_rx(2);
    a->send(eth(kBroadcast, kMacA));
    EXPECT_EQ(sw.lookup(kMacA), static_cast<SwitchPort*>(a->dev));
    a->t.reset();
    EXPECT_EQ(sw.lookup(kMacA), nullptr);
    EXPECT_EQ(sw.port_count(), 2u); // still attached, ready for the driver to start again
    // A reset VM receives nothing (its queues are gone until the driver sets them up again).
    b->send(eth(kMacA, kMacB));
    EXPECT_EQ(a->dev->stats().rx_not_live, 1u);
}

TEST_F(NetTest, ADeletedDeviceLeavesTheSwitch) {
    b->post_rx(2);
    b->send(eth(kBroadcast, kMacB));
    ASSERT_EQ(sw.lookup(kMacB), static_cast<SwitchPort*>(b->dev));
    b.reset(); // the VM and its device are gone (ASan catches any later delivery into it)
    EXPECT_EQ(sw.port_count(), 1u);
    EXPECT_EQ(sw.lookup(kMacB), nullptr);
    a->send(eth(kMacB, kMacA));
    a->send(eth(kBroadcast, kMacA));
    EXPECT_EQ(a->dev->stats().tx_frames, 2u);
    EXPECT_EQ(sw.stats().deliveries, 1u); // only b's broadcast to a, before b left
}

TEST_F(NetTest, TxNotificationsAreSuppressedWhileTheDeviceWorksAndOnAgainAfter) {
    b->post_rx(4);
    a->send(eth(kBroadcast, kMacA));
    // After the loop found the ring empty it asked for notifications again (2.7.10).
    EXPECT_EQ(a->tx.used_flags() & kUsedFNoNotify, 0);
}

// Two VMs sending to each other at the same moment on two CPUs: each transmit loop releases its own
// device lock before the switch takes the other device's, so neither waits for the other (holding
// its own lock while delivering would deadlock here: A holds A and waits for B, B holds B and waits
// for A). Every frame is accounted for on the receiving side: written into an rx buffer or dropped
// for want of one (the receivers never refill theirs).
TEST_F(NetTest, TwoVmsSendingToEachOtherAtOnceNeverDeadlock) {
    a->t.check_locks = b->t.check_locks = false;
    a->post_rx(16);
    b->post_rx(16);
    constexpr int kFrames = 3000;
    std::atomic<int> ready{0};
    auto blast = [&](TestVm& vm, u64 to) {
        const auto f = eth(kBroadcast, vm.mac, 200);
        const auto g = eth(to, vm.mac, 1514);
        ready.fetch_add(1);
        while (ready.load() < 2) std::this_thread::yield();
        for (int i = 0; i < kFrames; ++i) vm.send(i % 2 ? f : g);
    };
    std::thread ta(blast, std::ref(*a), kMacB), tb(blast, std::ref(*b), kMacA);
    ta.join();
    tb.join();
    const NetStats sa = a->dev->stats(), sb = b->dev->stats();
    EXPECT_EQ(sa.tx_frames, u64(kFrames));
    EXPECT_EQ(sb.tx_frames, u64(kFrames));
    EXPECT_EQ(sb.rx_frames + sb.rx_no_buffer, sa.tx_frames);
    EXPECT_EQ(sa.rx_frames + sa.rx_no_buffer, sb.tx_frames);
    EXPECT_EQ(sa.rx_frames, 16u);
    EXPECT_EQ(sb.rx_frames, 16u);
    EXPECT_EQ(a->t.faults[NetDevice::kTxQueue] + b->t.faults[NetDevice::kTxQueue], 0);
}

TEST(NetCreate, AFullSwitchRefusesTheDevice) {
    VSwitch sw;
    std::vector<NetDevice*> devs;
    for (usize i = 0; i < VSwitch::kMaxPorts; ++i) {
        auto d = NetDevice::create(0x0200'0000'0000 + i, sw, 220);
        ASSERT_TRUE(d.is_ok());
        devs.push_back(d.value());
    }
    auto extra = NetDevice::create(0x0200'0000'1000, sw, 220);
    ASSERT_TRUE(extra.is_error());
    EXPECT_EQ(extra.error(), Error::Busy);
    for (NetDevice* d : devs) delete d;
    EXPECT_EQ(sw.port_count(), 0u);
}

} // namespace
