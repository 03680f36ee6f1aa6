// The virtual switch (virtio/vswitch.hpp) against recording ports: learning, flooding, filtering,
// the bounded table, ports leaving, and concurrent senders.
#include "virtio/vswitch.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

using namespace virtio;

namespace {

struct RecordingPort final : SwitchPort {
    std::vector<std::vector<u8>> frames;
    void receive(const u8* frame, usize len) override { frames.emplace_back(frame, frame + len); }
};

std::vector<u8> frame(u64 dst, u64 src, u8 fill = 0xab, usize len = 64) {
    std::vector<u8> f(len, fill);
    mac_to_bytes(dst, f.data());
    mac_to_bytes(src, f.data() + 6);
    f[12] = 0x08;
    f[13] = 0x00;
    return f;
}

constexpr u64 kA = 0x0200'0000'0001;
constexpr u64 kB = 0x0200'0000'0002;
constexpr u64 kC = 0x0200'0000'0003;
constexpr u64 kUnknown = 0x0200'0000'0099;
constexpr u64 kMulticast = 0x0100'5e00'0001; // IPv4 multicast group MAC

struct VSwitchTest : ::testing::Test {
    VSwitch sw;
    RecordingPort a, b, c;
    void SetUp() override {
        ASSERT_TRUE(sw.attach(a).is_ok());
        ASSERT_TRUE(sw.attach(b).is_ok());
        ASSERT_TRUE(sw.attach(c).is_ok());
    }
    void TearDown() override {
        sw.detach(a);
        sw.detach(b);
        sw.detach(c);
    }
    void send(SwitchPort& from, const std::vector<u8>& f) { sw.send(from, f.data(), f.size()); }
};

TEST(MacTest, BytesRoundTripFirstByteHigh) {
    u8 b[6];
    mac_to_bytes(0x0211'2233'4455, b);
    EXPECT_EQ(b[0], 0x02);
    EXPECT_EQ(b[5], 0x55);
    EXPECT_EQ(mac_from_bytes(b), 0x0211'2233'4455u);
    EXPECT_TRUE(mac_is_group(kMacBroadcast));
    EXPECT_FALSE(mac_is_group(kA));
}

TEST_F(VSwitchTest, BroadcastFloodsToEveryOtherPortWithExactBytes) {
    auto f = frame(kMacBroadcast, kA);
    send(a, f);
    EXPECT_TRUE(a.frames.empty()); // never back to the sender
    ASSERT_EQ(b.frames.size(), 1u);
    ASSERT_EQ(c.frames.size(), 1u);
    EXPECT_EQ(b.frames[0], f);
    EXPECT_EQ(c.frames[0], f);
    EXPECT_EQ(sw.stats().flooded, 1u);
}

TEST_F(VSwitchTest, UnknownUnicastFloodsThenLearnedUnicastGoesToOnePort) {
    send(a, frame(kB, kA)); // B unknown yet: flooded
    EXPECT_EQ(b.frames.size(), 1u);
    EXPECT_EQ(c.frames.size(), 1u);
    send(b, frame(kA, kB)); // A was learned from its first frame: only A gets the reply
    EXPECT_EQ(a.frames.size(), 1u);
    EXPECT_EQ(c.frames.size(), 1u);
    send(a, frame(kB, kA)); // and now B is known too
    EXPECT_EQ(b.frames.size(), 2u);
    EXPECT_EQ(c.frames.size(), 1u);
    EXPECT_EQ(sw.lookup(kA), &a);
    EXPECT_EQ(sw.lookup(kB), &b);
    EXPECT_EQ(sw.stats().forwarded, 2u);
}

TEST_F(VSwitchTest, FrameForTheSendersOwnSideIsFiltered) {
    send(a, frame(kMacBroadcast, kA));
    send(a, frame(kA, kC)); // C claims to send to A from A's port: A's MAC is learned behind A
    // C's address was just learned behind port a as well (last sender wins).
    EXPECT_EQ(sw.lookup(kC), &a);
    EXPECT_EQ(sw.stats().filtered, 1u);
    EXPECT_TRUE(a.frames.empty());
}

TEST_F(VSwitchTest, MulticastIsFloodedAndNeverLearnedAsSource) {
    send(a, frame(kMulticast, kA));
    EXPECT_EQ(b.frames.size(), 1u);
    EXPECT_EQ(c.frames.size(), 1u);
    send(b, frame(kMacBroadcast, kMulticast)); // invalid group source: forwarded, not learned
    EXPECT_EQ(sw.lookup(kMulticast), nullptr);
    send(c, frame(kMulticast, kC)); // still flooded, not sent to b
    EXPECT_EQ(b.frames.size(), 2u);
}

TEST_F(VSwitchTest, MacMovesToItsLatestSender) {
    send(a, frame(kMacBroadcast, kA));
    send(b, frame(kMacBroadcast, kA)); // the address moved to port b
    EXPECT_EQ(sw.lookup(kA), &b);
    send(c, frame(kA, kC));
    EXPECT_EQ(b.frames.size(), 1u + 1u); // the broadcast from a, then the unicast
    EXPECT_EQ(a.frames.size(), 1u);      // only b's broadcast
}

TEST_F(VSwitchTest, RuntAndOversizedFramesAreIgnored) {
    std::vector<u8> runt(kEthHeaderLen - 1, 0xff);
    send(a, runt);
    auto big = frame(kMacBroadcast, kA, 0, kMaxFrameLen + 1);
    send(a, big);
    EXPECT_TRUE(b.frames.empty());
    EXPECT_EQ(sw.stats().frames, 0u);
    auto max = frame(kMacBroadcast, kA, 0, kMaxFrameLen);
    send(a, max);
    EXPECT_EQ(b.frames.size(), 1u);
}

TEST_F(VSwitchTest, DetachedPortGetsNothingAndItsAddressesAreGone) {
    send(b, frame(kMacBroadcast, kB));
    ASSERT_EQ(sw.lookup(kB), &b);
    sw.detach(b);
    EXPECT_EQ(sw.port_count(), 2u);
    EXPECT_EQ(sw.lookup(kB), nullptr);
    const usize before = b.frames.size();
    send(a, frame(kB, kA));            // unknown again: flooded, but only to c
    send(a, frame(kMacBroadcast, kA)); // broadcast: only c
    EXPECT_EQ(b.frames.size(), before);
    EXPECT_EQ(c.frames.size(), 1u + 2u);
    // A detached port's own frames go nowhere.
    send(b, frame(kMacBroadcast, kB));
    EXPECT_EQ(c.frames.size(), 3u);
    // It can join again.
    ASSERT_TRUE(sw.attach(b).is_ok());
    send(a, frame(kMacBroadcast, kA));
    EXPECT_EQ(b.frames.size(), before + 1);
}

TEST_F(VSwitchTest, ForgetKeepsThePortButDropsItsAddresses) {
    send(b, frame(kMacBroadcast, kB));
    sw.forget(b);
    EXPECT_EQ(sw.lookup(kB), nullptr);
    EXPECT_EQ(sw.port_count(), 3u);
    send(a, frame(kB, kA)); // flooded again
    EXPECT_EQ(c.frames.size(), 2u);
}

TEST_F(VSwitchTest, AttachTwiceIsRefusedAndAFullSwitchIsBusy) {
    EXPECT_EQ(sw.attach(a).error(), Error::InvalidArgument);
    std::vector<RecordingPort> more(VSwitch::kMaxPorts);
    usize ok = 0;
    for (auto& p : more) {
        auto r = sw.attach(p);
        ok += r.is_ok();
        if (r.is_error()) {
            EXPECT_EQ(r.error(), Error::Busy);
        }
    }
    EXPECT_EQ(ok, VSwitch::kMaxPorts - 3);
    EXPECT_EQ(sw.port_count(), VSwitch::kMaxPorts);
    for (auto& p : more) sw.detach(p);
    EXPECT_EQ(sw.port_count(), 3u);
}

TEST_F(VSwitchTest, FullTableEvictsTheLeastRecentlyRefreshedAddress) {
    // kTableSize distinct sources behind port c, with A refreshed last but one.
    send(a, frame(kMacBroadcast, kA));
    for (u64 i = 0; i < VSwitch::kTableSize - 1; ++i) send(c, frame(kMacBroadcast, 0x0200'1000'0000 + i));
    send(a, frame(kMacBroadcast, kA)); // A refreshed: now the oldest is 0x0200'1000'0000
    send(b, frame(kMacBroadcast, kB)); // the table is full: B replaces the oldest
    EXPECT_EQ(sw.lookup(kB), &b);
    EXPECT_EQ(sw.lookup(kA), &a);
    EXPECT_EQ(sw.lookup(0x0200'1000'0000), nullptr);
    EXPECT_EQ(sw.lookup(0x0200'1000'0001), &c);
}

// Several CPUs send at once: every frame is delivered exactly once to its learned destination.
struct CountingPort final : SwitchPort {
    std::atomic<u64> frames{0};
    std::atomic<u64> bytes{0};
    std::atomic<int> inside{0};
    std::atomic<bool> slow{false};
    std::atomic<u64> after_detach{0};
    std::atomic<bool> detached{false};
    void receive(const u8* frame, usize len) override {
        inside.fetch_add(1);
        if (detached.load()) after_detach.fetch_add(1);
        if (slow.load()) std::this_thread::sleep_for(std::chrono::microseconds(200));
        frames.fetch_add(1);
        bytes.fetch_add(len);
        (void)frame;
        inside.fetch_sub(1);
    }
};

TEST(VSwitchConcurrency, ConcurrentSendersDeliverEveryFrameOnce) {
    VSwitch sw;
    constexpr int kPorts = 4, kFrames = 2000;
    CountingPort ports[kPorts];
    for (auto& p : ports) ASSERT_TRUE(sw.attach(p).is_ok());
    // Learn every address first, so each later frame is unicast to one port.
    for (int i = 0; i < kPorts; ++i) {
        auto f = frame(kMacBroadcast, 0x0200'0000'0000 + i);
        sw.send(ports[i], f.data(), f.size());
    }
    for (auto& p : ports) p.frames = 0;
    std::vector<std::thread> threads;
    for (int i = 0; i < kPorts; ++i)
        threads.emplace_back([&, i] {
            for (int n = 0; n < kFrames; ++n) {
                const int to = (i + 1 + n % (kPorts - 1)) % kPorts;
                auto f = frame(0x0200'0000'0000 + to, 0x0200'0000'0000 + i, u8(n), 60 + n % 100);
                sw.send(ports[i], f.data(), f.size());
            }
        });
    for (auto& t : threads) t.join();
    u64 total = 0;
    for (auto& p : ports) total += p.frames;
    EXPECT_EQ(total, u64(kPorts) * kFrames);
    EXPECT_EQ(sw.stats().flooded, u64(kPorts)); // only the learning broadcasts
    for (auto& p : ports) sw.detach(p);
}

TEST(VSwitchConcurrency, DetachWaitsForDeliveriesInFlightAndNothingArrivesAfter) {
    VSwitch sw;
    CountingPort sender, victim;
    ASSERT_TRUE(sw.attach(sender).is_ok());
    ASSERT_TRUE(sw.attach(victim).is_ok());
    victim.slow = true;
    std::atomic<bool> stop{false};
    std::thread t([&] {
        auto f = frame(kMacBroadcast, kA);
        while (!stop.load()) sw.send(sender, f.data(), f.size());
    });
    while (victim.frames.load() < 3) std::this_thread::yield();
    sw.detach(victim);
    // detach returned: no delivery to the victim is running, and none may start.
    EXPECT_EQ(victim.inside.load(), 0);
    victim.detached = true;
    const u64 seen = victim.frames.load();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    stop = true;
    t.join();
    EXPECT_EQ(victim.frames.load(), seen);
    EXPECT_EQ(victim.after_detach.load(), 0u);
    sw.detach(sender);
}

} // namespace
