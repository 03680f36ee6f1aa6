// virtio-mmio transport (virtio spec v1.2, 4.2.2) against a fake device, fake guest RAM and a fake
// interrupt sink: the register layout, feature negotiation, status rules, queue setup, the level
// interrupt and hostile register sequences (faults -> one report + DEVICE_NEEDS_RESET, never more).
#include "host_console.hpp"
#include "ring_builder.hpp"
#include "virtio/mmio.hpp"

#include <gtest/gtest.h>
#include <random>
#include <vector>

using namespace virtio;

namespace {

constexpr u64 R_MAGIC = 0x000, R_VERSION = 0x004, R_DEVICE_ID = 0x008, R_VENDOR = 0x00c, R_DEV_F = 0x010,
              R_DEV_F_SEL = 0x014, R_DRV_F = 0x020, R_DRV_F_SEL = 0x024, R_Q_SEL = 0x030, R_Q_NUM_MAX = 0x034,
              R_Q_NUM = 0x038, R_Q_READY = 0x044, R_Q_NOTIFY = 0x050, R_INT_STATUS = 0x060, R_INT_ACK = 0x064,
              R_STATUS = 0x070, R_Q_DESC = 0x080, R_Q_DRIVER = 0x090, R_Q_DEVICE = 0x0a0, R_SHM_SEL = 0x0ac,
              R_SHM_LEN_LO = 0x0b0, R_SHM_LEN_HI = 0x0b4, R_CFG_GEN = 0x0fc, R_CONFIG = 0x100;
constexpr u32 ACK = 1, DRIVER = 2, DRIVER_OK = 4, FEATURES_OK = 8, NEEDS_RESET = 64;
constexpr u64 kDeviceBits = (1ull << 0) | (1ull << 5) | (1ull << 51);

struct FakeSink final : IrqSink {
    std::vector<std::pair<u32, bool>> changes;
    bool level = false;
    void set_line(u32 intid, bool l) override {
        changes.push_back({intid, l});
        level = l;
    }
    void raise(u32) override { ADD_FAILURE() << "a level-triggered transport never pulses"; }
};

// Two queues of up to 8 entries; config space: 8 bytes 0x11..0x18, a writable byte at offset 9.
struct FakeDevice final : Device {
    unsigned resets = 0, notifies = 0, driver_oks = 0, after = 0;
    u64 ok_features = 0;
    u8 writable = 0;
    bool echo = true; // notify: pop every chain, push it back with 0 bytes written
    bool refuse = false; // notify: a well-formed chain the device type cannot carry out
    Chain chain;
    u32 device_id() const override { return 42; }
    u64 device_features() const override { return kDeviceBits | (1ull << 30) /* reserved: masked */; }
    u16 queue_count() const override { return 2; }
    u16 queue_max_size(u16) const override { return 8; }
    bool dirty_high_bytes = false;
    u32 config_read(u32 offset, unsigned width) override {
        u32 v = dirty_high_bytes ? 0xAB000000u : 0;
        for (unsigned i = 0; i < width; ++i) {
            const u32 at = offset + i;
            const u8 b = at < 8 ? u8(0x11 + at) : at == 9 ? writable : 0;
            v |= u32(b) << (8 * i);
        }
        return v;
    }
    void config_write(u32 offset, unsigned width, u32 value) override {
        if (offset == 9 && width == 1) writable = u8(value);
    }
    void driver_ok(u64 f) override {
        ++driver_oks;
        ok_features = f;
    }
    void reset() override { ++resets; }
    void notify(u16 index) override {
        ++notifies;
        if (!echo) return;
        for (;;) {
            auto r = transport().queue(index).pop(chain);
            if (r.is_error()) return transport().queue_fault(index);
            if (!r.value()) break;
            if (refuse) return transport().queue_fault(index);
            if (transport().queue(index).push(chain, 0).is_error()) ADD_FAILURE() << "push";
        }
        transport().used(index);
    }
    void after_access() override { ++after; }
};

struct MmioTest : ::testing::Test {
    RingBuilder rb{8};
    FakeSink sink;
    FakeDevice* dev = new FakeDevice;
    MmioTransport t{"vda", GuestPhysAddr(0x0a00'0000), "guest", 7, dev, rb.mem, IrqLine{&sink, 48}};

    void SetUp() override { clear_captured_console(); }
    u32 rd(u64 off) {
        auto r = t.read(off, 4);
        EXPECT_TRUE(r.is_ok()) << std::hex << off;
        return r.is_ok() ? u32(r.value()) : 0xdeadbeef;
    }
    void wr(u64 off, u32 v) { EXPECT_TRUE(t.write(off, 4, v).is_ok()) << std::hex << off; }
    void wr64(u64 off, u64 v) {
        wr(off, u32(v));
        wr(off + 4, u32(v >> 32));
    }
    void accept(u64 features) {
        wr(R_DRV_F_SEL, 0);
        wr(R_DRV_F, u32(features));
        wr(R_DRV_F_SEL, 1);
        wr(R_DRV_F, u32(features >> 32));
    }
    // 3.1.1 up to FEATURES_OK with `features`; returns the status read back.
    u32 negotiate(u64 features) {
        wr(R_STATUS, 0);
        wr(R_STATUS, ACK);
        wr(R_STATUS, ACK | DRIVER);
        accept(features);
        wr(R_STATUS, ACK | DRIVER | FEATURES_OK);
        return rd(R_STATUS);
    }
    void setup_queue(u16 index, u32 num = 8, u64 desc = RingBuilder::kDesc) {
        wr(R_Q_SEL, index);
        wr(R_Q_NUM, num);
        wr64(R_Q_DESC, desc);
        wr64(R_Q_DRIVER, RingBuilder::kAvail);
        wr64(R_Q_DEVICE, RingBuilder::kUsed);
        wr(R_Q_READY, 1);
    }
    void live(u64 features = kFVersion1) {
        ASSERT_EQ(negotiate(features), ACK | DRIVER | FEATURES_OK);
        setup_queue(0);
        wr(R_STATUS, ACK | DRIVER | FEATURES_OK | DRIVER_OK);
        ASSERT_TRUE(t.live());
    }
    void offer_one() {
        rb.desc(0, RingBuilder::kBuffers, 16, kDescFWrite);
        rb.offer(0);
    }
};

TEST_F(MmioTest, IdentifiesAsAVersion2VirtioMmioDevice) {
    EXPECT_EQ(rd(R_MAGIC), 0x74726976u);
    EXPECT_EQ(rd(R_VERSION), 2u);
    EXPECT_EQ(rd(R_DEVICE_ID), 42u);
    EXPECT_EQ(rd(R_VENDOR), MmioTransport::VendorId);
    EXPECT_EQ(rd(R_STATUS), 0u);
    EXPECT_EQ(t.size(), 0x1000u);
}

TEST_F(MmioTest, OffersTheDeviceBitsPlusVersion1IndirectAndEventIdx) {
    wr(R_DEV_F_SEL, 0);
    EXPECT_EQ(rd(R_DEV_F), u32(kDeviceBits) | u32(kFRingIndirectDesc | kFRingEventIdx)); // bit 30 masked
    wr(R_DEV_F_SEL, 1);
    EXPECT_EQ(rd(R_DEV_F), u32((kDeviceBits | kFVersion1) >> 32));
    wr(R_DEV_F_SEL, 2);
    EXPECT_EQ(rd(R_DEV_F), 0u);
}

TEST_F(MmioTest, FeaturesOkNeedsVersion1AndOnlyOfferedBits) {
    EXPECT_EQ(negotiate(kFVersion1 | kFRingEventIdx | 1), ACK | DRIVER | FEATURES_OK);
    EXPECT_EQ(negotiate(kFRingEventIdx), ACK | DRIVER) << "VERSION_1 missing: refused";
    EXPECT_EQ(negotiate(kFVersion1 | (1ull << 30)), ACK | DRIVER) << "reserved bit not offered";
    EXPECT_EQ(negotiate(kFVersion1 | (1ull << 7)), ACK | DRIVER) << "device bit not offered";
    // A set bit in a selector above 1 (bits 64+) was never offered either.
    wr(R_STATUS, 0);
    wr(R_DRV_F_SEL, 2);
    wr(R_DRV_F, 1);
    accept(kFVersion1);
    wr(R_STATUS, ACK | DRIVER);
    wr(R_STATUS, ACK | DRIVER | FEATURES_OK);
    EXPECT_EQ(rd(R_STATUS), ACK | DRIVER) << "bits above 63 refused";
    EXPECT_EQ(t.features(), kFVersion1);
}

TEST_F(MmioTest, FeaturesAreFixedOnceAcceptedAndDriverOkNeedsFeaturesOk) {
    ASSERT_EQ(negotiate(kFVersion1 | 1), ACK | DRIVER | FEATURES_OK);
    accept(kFVersion1 | kFRingEventIdx | 32); // after FEATURES_OK: ignored
    EXPECT_EQ(t.features(), kFVersion1 | 1);
    wr(R_STATUS, ACK | DRIVER | FEATURES_OK | DRIVER_OK);
    EXPECT_EQ(dev->driver_oks, 1u);
    EXPECT_EQ(dev->ok_features, kFVersion1 | 1);
    // Without FEATURES_OK there is no DRIVER_OK.
    wr(R_STATUS, 0);
    wr(R_STATUS, ACK | DRIVER | DRIVER_OK);
    EXPECT_EQ(rd(R_STATUS), ACK | DRIVER);
    EXPECT_FALSE(t.live());
    EXPECT_EQ(dev->driver_oks, 1u);
}

TEST_F(MmioTest, TheDriverCannotClearStatusBitsOrSetNeedsReset) {
    ASSERT_EQ(negotiate(kFVersion1), ACK | DRIVER | FEATURES_OK);
    wr(R_STATUS, ACK);
    EXPECT_EQ(rd(R_STATUS), ACK | DRIVER | FEATURES_OK);
    wr(R_STATUS, ACK | NEEDS_RESET);
    EXPECT_EQ(rd(R_STATUS) & NEEDS_RESET, 0u);
}

TEST_F(MmioTest, QueueSetupNotifyAndTheLevelInterrupt) {
    live(kFVersion1);
    EXPECT_EQ(rd(R_Q_READY), 1u);
    EXPECT_EQ(t.queue(0).config().size, 8u);
    EXPECT_EQ(t.queue(0).config().desc, RingBuilder::kDesc);
    offer_one();
    wr(R_Q_NOTIFY, 0);
    EXPECT_EQ(dev->notifies, 1u);
    EXPECT_EQ(rb.used_idx(), 1u);
    EXPECT_EQ(rd(R_INT_STATUS), 1u);
    EXPECT_TRUE(sink.level);
    EXPECT_EQ(sink.changes.back().first, 48u);
    // Level: stays high until acknowledged, a read changes nothing.
    EXPECT_EQ(rd(R_INT_STATUS), 1u);
    wr(R_INT_ACK, 2); // not the pending bit
    EXPECT_TRUE(sink.level);
    wr(R_INT_ACK, 1);
    EXPECT_FALSE(sink.level);
    EXPECT_EQ(rd(R_INT_STATUS), 0u);
    EXPECT_GE(dev->after, 1u);
    EXPECT_EQ(rb.mem.refused, 0u);
}

TEST_F(MmioTest, EventIdxAndIndirectFollowTheNegotiatedFeatures) {
    live(kFVersion1 | kFRingEventIdx);
    EXPECT_TRUE(t.queue(0).config().event_idx);
    EXPECT_FALSE(t.queue(0).config().indirect_desc);
    // used_event = 5: the first used buffer (idx 0 -> 1) still interrupts (first call), the second not.
    rb.set_used_event(5);
    offer_one();
    wr(R_Q_NOTIFY, 0);
    wr(R_INT_ACK, 1);
    rb.desc(1, RingBuilder::kBuffers, 16, kDescFWrite);
    rb.offer(1);
    wr(R_Q_NOTIFY, 0);
    EXPECT_EQ(rb.used_idx(), 2u);
    EXPECT_EQ(rd(R_INT_STATUS), 0u) << "used_event 5 not reached";
}

TEST_F(MmioTest, QueueRegistersAreIgnoredWhileReadyAndForQueuesThatDoNotExist) {
    live();
    wr(R_Q_SEL, 0);
    wr(R_Q_NUM, 2);
    wr64(R_Q_DESC, RingBuilder::kDesc + 0x1000);
    wr(R_Q_READY, 0);
    wr(R_Q_READY, 1);
    EXPECT_EQ(t.queue(0).config().size, 8u) << "QueueNum written while ready must be ignored";
    EXPECT_EQ(t.queue(0).config().desc, RingBuilder::kDesc);
    for (u32 sel : {2u, 3u, 4u, 0xFFFFu, 0x10000u, 0xFFFFFFFFu}) {
        wr(R_Q_SEL, sel);
        EXPECT_EQ(rd(R_Q_NUM_MAX), 0u) << sel;
        wr(R_Q_NUM, 8);
        wr(R_Q_READY, 1);
        EXPECT_EQ(rd(R_Q_READY), 0u) << sel;
        wr(R_Q_NOTIFY, sel);
    }
    wr(R_Q_SEL, 1);
    EXPECT_EQ(rd(R_Q_NUM_MAX), 8u);
    EXPECT_EQ(rd(R_Q_READY), 0u);
    wr(R_Q_NOTIFY, 1); // exists but not ready
    EXPECT_EQ(dev->notifies, 0u);
    EXPECT_EQ(rd(R_STATUS) & NEEDS_RESET, 0u);
}

TEST_F(MmioTest, NotifyBeforeDriverOkIsIgnored) {
    ASSERT_EQ(negotiate(kFVersion1), ACK | DRIVER | FEATURES_OK);
    setup_queue(0);
    offer_one();
    wr(R_Q_NOTIFY, 0);
    EXPECT_EQ(dev->notifies, 0u);
    EXPECT_EQ(rb.used_idx(), 0u);
}

TEST_F(MmioTest, ABadRingAtQueueReadySetsNeedsResetAndReportsOnce) {
    ASSERT_EQ(negotiate(kFVersion1), ACK | DRIVER | FEATURES_OK);
    setup_queue(0, 8, RingBuilder::kDesc + 8); // misaligned descriptor table
    EXPECT_EQ(rd(R_STATUS), ACK | DRIVER | FEATURES_OK | NEEDS_RESET);
    EXPECT_FALSE(sink.level) << "no DRIVER_OK yet: no configuration change interrupt (2.1.2)";
    EXPECT_EQ(captured_console(),
              "cxvisor: vm 7 (guest): virtio device vda: queue 0: ring misaligned or wrapping the address space; device needs reset\n");
    wr(R_STATUS, ACK | DRIVER | FEATURES_OK | DRIVER_OK);
    EXPECT_FALSE(t.live());
    offer_one();
    wr(R_Q_NOTIFY, 0);
    EXPECT_EQ(dev->notifies, 0u);
    EXPECT_EQ(t.faults(), 1u);
}

TEST_F(MmioTest, ALoopingChainAfterDriverOkRaisesAConfigChangeAndStopsTheDevice) {
    live();
    rb.desc(0, RingBuilder::kBuffers, 16, kDescFNext, 1);
    rb.desc(1, RingBuilder::kBuffers, 16, kDescFNext, 0);
    rb.offer(0);
    wr(R_Q_NOTIFY, 0);
    EXPECT_EQ(rd(R_STATUS) & NEEDS_RESET, NEEDS_RESET);
    EXPECT_EQ(rd(R_INT_STATUS), 2u);
    EXPECT_TRUE(sink.level);
    EXPECT_FALSE(t.live());
    wr(R_Q_NOTIFY, 0);
    wr(R_Q_NOTIFY, 0);
    EXPECT_EQ(dev->notifies, 1u);
    EXPECT_EQ(captured_console(),
              "cxvisor: vm 7 (guest): virtio device vda: queue 0: descriptor chain loops; device needs reset\n");
    EXPECT_EQ(rb.mem.refused, 0u);
}

// A well-formed ring whose chain the device type refuses (net: a transmit chain with writable
// buffers): the report names that, not the queue's "none" fault kind.
TEST_F(MmioTest, AChainTheDeviceRefusesIsReportedAsSuch) {
    live();
    dev->refuse = true;
    offer_one();
    wr(R_Q_NOTIFY, 0);
    EXPECT_EQ(rd(R_STATUS) & NEEDS_RESET, NEEDS_RESET);
    EXPECT_EQ(captured_console(), "cxvisor: vm 7 (guest): virtio device vda: queue 0: malformed request refused by "
                                  "the device; device needs reset\n");
}

TEST_F(MmioTest, ResetByStatusZeroForgetsEverythingAndTheDeviceWorksAgain) {
    live();
    rb.desc(0, RingBuilder::kBuffers, 16, kDescFNext, 0); // loops on itself
    rb.offer(0);
    wr(R_Q_NOTIFY, 0);
    ASSERT_TRUE(sink.level);
    const unsigned resets = dev->resets;
    wr(R_STATUS, 0);
    EXPECT_EQ(rd(R_STATUS), 0u);
    EXPECT_EQ(rd(R_INT_STATUS), 0u);
    EXPECT_FALSE(sink.level);
    EXPECT_EQ(dev->resets, resets + 1);
    EXPECT_FALSE(t.queue(0).ready());
    EXPECT_EQ(rd(R_Q_READY), 0u);
    EXPECT_EQ(t.features(), 0u);
    // The driver sets the queue up again from scratch (fresh rings) and it works.
    for (u64 a = RingBuilder::kDesc; a < RingBuilder::kBuffers; a += 8) rb.mem.put64(a, 0);
    rb.avail_idx = 0;
    live();
    offer_one();
    wr(R_Q_NOTIFY, 0);
    EXPECT_EQ(rb.used_idx(), 1u);
    EXPECT_EQ(rd(R_INT_STATUS), 1u);
}

TEST_F(MmioTest, FaultReportsAreLimitedPerLife) {
    for (u32 i = 0; i < MmioTransport::MaxFaultReports + 3; ++i) {
        ASSERT_EQ(negotiate(kFVersion1), ACK | DRIVER | FEATURES_OK);
        setup_queue(0, 3); // not a power of two
    }
    const std::string& out = captured_console();
    usize lines = 0;
    for (usize at = out.find("queue size not a power of two"); at != std::string::npos; at = out.find("queue size not a power of two", at + 1)) ++lines;
    EXPECT_EQ(lines, MmioTransport::MaxFaultReports) << out;
    EXPECT_NE(out.find("cxvisor: vm 7 (guest): virtio device vda: further queue faults are not reported\n"),
              std::string::npos) << out;
    t.reset(); // a new VM life reports again
    clear_captured_console();
    ASSERT_EQ(negotiate(kFVersion1), ACK | DRIVER | FEATURES_OK);
    setup_queue(0, 3);
    EXPECT_NE(captured_console().find("queue size not a power of two"), std::string::npos);
}

TEST_F(MmioTest, ControlRegistersAre32BitAlignedOnlyAndConfigSpaceGoesToTheDevice) {
    EXPECT_EQ(t.read(R_MAGIC, 1).error(), Error::InvalidArgument);
    EXPECT_EQ(t.read(R_MAGIC, 2).error(), Error::InvalidArgument);
    EXPECT_EQ(t.read(R_MAGIC, 8).error(), Error::InvalidArgument);
    EXPECT_EQ(t.read(R_MAGIC + 2, 4).error(), Error::InvalidArgument);
    EXPECT_EQ(t.write(R_STATUS, 1, 1).error(), Error::InvalidArgument);
    EXPECT_EQ(rd(R_STATUS), 0u);
    EXPECT_EQ(t.read(R_CONFIG, 1).value(), 0x11u);
    dev->dirty_high_bytes = true; // a device that returns more than it was asked for
    EXPECT_EQ(t.read(R_CONFIG, 1).value(), 0x11u);
    EXPECT_EQ(t.read(R_CONFIG + 2, 2).value(), 0x1413u);
    dev->dirty_high_bytes = false;
    EXPECT_EQ(t.read(R_CONFIG + 2, 2).value(), 0x1413u);
    EXPECT_EQ(t.read(R_CONFIG + 4, 4).value(), 0x18171615u);
    EXPECT_EQ(t.read(R_CONFIG, 8).value(), 0x1817161514131211ull);
    EXPECT_EQ(t.read(R_CONFIG + 1, 2).error(), Error::InvalidArgument);
    EXPECT_EQ(t.read(R_CONFIG + 0xE00, 4).value(), 0u);
    ASSERT_TRUE(t.write(R_CONFIG + 9, 1, 0x5a).is_ok());
    EXPECT_EQ(dev->writable, 0x5a);
    EXPECT_EQ(t.read(R_CONFIG + 9, 1).value(), 0x5au);
}

TEST_F(MmioTest, NoSharedMemoryRegionsAndConfigGeneration) {
    for (u32 sel : {0u, 1u, 255u}) {
        wr(R_SHM_SEL, sel);
        EXPECT_EQ(rd(R_SHM_LEN_LO), 0xFFFFFFFFu);
        EXPECT_EQ(rd(R_SHM_LEN_HI), 0xFFFFFFFFu);
    }
    const u32 gen = rd(R_CFG_GEN);
    t.config_changed();
    EXPECT_EQ(rd(R_CFG_GEN), gen + 1);
    EXPECT_FALSE(sink.level) << "no DRIVER_OK: no interrupt";
    live();
    t.config_changed();
    EXPECT_EQ(rd(R_INT_STATUS), 2u);
    EXPECT_TRUE(sink.level);
}

// Random register sequences from a hostile driver: nothing crashes, no access leaves the fake RAM,
// the line always follows InterruptStatus, and NEEDS_RESET is only ever cleared by a reset.
TEST_F(MmioTest, HostileRegisterSequencesNeverEscapeOrWedge) {
    std::mt19937_64 rng(0x5eed);
    const u64 interesting[] = {R_Q_SEL, R_Q_NUM, R_Q_READY, R_Q_NOTIFY, R_INT_ACK, R_STATUS, R_Q_DESC, R_Q_DESC + 4,
                               R_Q_DRIVER, R_Q_DRIVER + 4, R_Q_DEVICE, R_Q_DEVICE + 4, R_DRV_F, R_DRV_F_SEL,
                               R_DEV_F_SEL, R_SHM_SEL, 0x0c0, 0x018, R_CONFIG};
    const u64 addrs[] = {RingBuilder::kDesc, RingBuilder::kAvail, RingBuilder::kUsed, RingBuilder::kRamBase - 16,
                         RingBuilder::kRamBase + RingBuilder::kRamSize - 16, 0, ~0ull - 7, 0x0a00'0000};
    unsigned faults_seen = 0, lives = 0;
    for (int step = 0; step < 20000; ++step) {
        if (step % 400 == 0) { // now and then a correct bring-up, so that live devices are attacked too
            negotiate(kFVersion1 | (rng() % 2 ? kFRingEventIdx : 0) | (rng() % 2 ? kFRingIndirectDesc : 0));
            setup_queue(0);
            wr(R_STATUS, ACK | DRIVER | FEATURES_OK | DRIVER_OK);
        }
        // Sometimes fill the rings with garbage so notifies walk hostile chains.
        if (rng() % 64 == 0)
            for (int k = 0; k < 16; ++k) rb.mem.put64(RingBuilder::kDesc + 8 * (rng() % 0x2000), rng());
        const u64 off = interesting[rng() % std::size(interesting)];
        u64 v;
        switch (rng() % 4) {
        case 0: v = rng() & 0xF; break;
        case 1: v = u32(addrs[rng() % std::size(addrs)] >> ((off & 4) ? 32 : 0)); break;
        case 2: v = off == R_STATUS ? (rng() % 8 == 0 ? 0 : rng() & 0xFF) : rng(); break;
        default: v = 1ull << (rng() % 32); break;
        }
        if (off == R_DRV_F && rng() % 2) v = u32(kFVersion1 >> 32);
        const u32 before = rd(R_STATUS);
        (void)t.write(off, 4, u32(v));
        const u32 after = rd(R_STATUS);
        if ((before & NEEDS_RESET) && !(after & NEEDS_RESET)) {
            EXPECT_EQ(after, 0u) << "cleared without a reset";
        }
        faults_seen += (after & NEEDS_RESET) && !(before & NEEDS_RESET);
        lives += t.live();
        EXPECT_EQ(sink.level, rd(R_INT_STATUS) != 0);
        ASSERT_EQ(rb.mem.refused, 0u);
        ASSERT_EQ(rb.mem.unbacked, 0u);
    }
    EXPECT_GT(faults_seen, 0u);
    EXPECT_GT(lives, 0u);
}

} // namespace
