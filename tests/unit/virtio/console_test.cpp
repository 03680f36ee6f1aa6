// virtio-console (virtio spec v1.2, 5.3) through the real virtio-mmio transport, driver played in
// fake RAM: transmit lines with the "[vm] " prefix, receive with buffering and backpressure, and
// hostile rings.
#include "host_console.hpp"
#include "ring_builder.hpp"
#include "virtio/console.hpp"
#include "virtio/mmio.hpp"

#include <gtest/gtest.h>
#include <algorithm>
#include <string>

using namespace virtio;

namespace {

constexpr u64 R_Q_SEL = 0x030, R_Q_NUM = 0x038, R_Q_READY = 0x044, R_Q_NOTIFY = 0x050, R_INT_STATUS = 0x060,
              R_STATUS = 0x070, R_DRV_F_SEL = 0x024, R_DRV_F = 0x020, R_Q_DESC = 0x080, R_Q_DRIVER = 0x090,
              R_Q_DEVICE = 0x0a0, R_DEV_F = 0x010, R_DEV_F_SEL = 0x014, R_DEVICE_ID = 0x008;
constexpr u64 RAM = RingBuilder::kRamBase;
// Queue 0 (receiveq) uses RingBuilder's rings; queue 1 (transmitq) its own at +0x30000.
constexpr u64 TX_DESC = RAM + 0x30000, TX_AVAIL = RAM + 0x34000, TX_USED = RAM + 0x38000;
constexpr u64 TX_BUF = RAM + 0x40000, RX_BUF = RAM + 0x50000;

struct Sink final : IrqSink {
    bool level = false;
    void set_line(u32, bool l) override { level = l; }
    void raise(u32) override {}
};

unsigned g_woken = 0;
void woken() { ++g_woken; }

struct ConsoleTest : ::testing::Test {
    RingBuilder rx{8};
    Sink sink;
    ConsoleDevice* con = new ConsoleDevice("hvc0", "vm1");
    MmioTransport t{"hvc0", GuestPhysAddr(0x0a00'2000), "vm1", 1, con, rx.mem, IrqLine{&sink, 50}};
    u16 tx_avail = 0;

    void SetUp() override {
        clear_captured_console();
        g_woken = 0;
    }
    void wr(u64 off, u32 v) { ASSERT_TRUE(t.write(off, 4, v).is_ok()); }
    u32 rd(u64 off) { return u32(t.read(off, 4).value()); }
    void queue(u16 index, u64 desc, u64 avail, u64 used) {
        wr(R_Q_SEL, index);
        wr(R_Q_NUM, 8);
        wr(R_Q_DESC, u32(desc));
        wr(R_Q_DRIVER, u32(avail));
        wr(R_Q_DEVICE, u32(used));
        wr(R_Q_READY, 1);
    }
    void bring_up(u64 features = kFVersion1) {
        wr(R_STATUS, 0);
        wr(R_STATUS, 3);
        wr(R_DRV_F_SEL, 0);
        wr(R_DRV_F, u32(features));
        wr(R_DRV_F_SEL, 1);
        wr(R_DRV_F, u32(features >> 32));
        wr(R_STATUS, 11);
        queue(0, RingBuilder::kDesc, RingBuilder::kAvail, RingBuilder::kUsed);
        queue(1, TX_DESC, TX_AVAIL, TX_USED);
        wr(R_STATUS, 15);
        ASSERT_TRUE(t.live());
    }
    void send(const std::string& s) {
        u8* p = rx.mem.at(TX_BUF, s.size());
        memcpy(p, s.data(), s.size());
        rx.desc_at(TX_DESC, tx_avail % 8, TX_BUF, u32(s.size()), 0);
        rx.mem.put16(TX_AVAIL + 4 + 2 * (tx_avail % 8), tx_avail % 8);
        ++tx_avail;
        rx.mem.put16(TX_AVAIL + 2, tx_avail);
        wr(R_Q_NOTIFY, 1);
    }
    // One receive buffer of `len` bytes in slot `i`, offered (no notify).
    void rx_buffer(u16 i, u32 len) {
        rx.desc(i, RX_BUF + 0x100 * i, len, kDescFWrite);
        rx.offer(i);
    }
    std::string received(u16 slot) {
        const u32 id = rx.used_id(slot), len = rx.used_len(slot);
        return std::string(reinterpret_cast<char*>(rx.mem.at(RX_BUF + 0x100 * id, len)), len);
    }
};

TEST_F(ConsoleTest, IsAConsoleWithEmergWrite) {
    EXPECT_EQ(rd(R_DEVICE_ID), 3u);
    wr(R_DEV_F_SEL, 0);
    EXPECT_EQ(rd(R_DEV_F) & 0xFFFFFF, 4u); // VIRTIO_CONSOLE_F_EMERG_WRITE only: no SIZE, no MULTIPORT
    EXPECT_EQ(t.read(0x100, 4).value(), 0u);
    ASSERT_TRUE(t.write(0x108, 4, 'E').is_ok()); // emerg_wr
    ASSERT_TRUE(t.write(0x108, 4, '\n').is_ok());
    EXPECT_EQ(captured_console(), "[vm1] E\n");
}

TEST_F(ConsoleTest, TransmitGoesOutALineAtATimeWithThePrefix) {
    bring_up();
    send("hello ");
    EXPECT_EQ(captured_console(), "");
    send("world\r\nsecond");
    EXPECT_EQ(captured_console(), "[vm1] hello world\n");
    EXPECT_EQ(rx.mem.get16(TX_USED + 2), 2u);
    EXPECT_EQ(rx.mem.get32(TX_USED + 8), 0u); // written length 0
    EXPECT_EQ(rd(R_INT_STATUS), 1u);
    EXPECT_TRUE(sink.level);
    con->flush();
    EXPECT_EQ(captured_console(), "[vm1] hello world\n[vm1] second\n");
}

TEST_F(ConsoleTest, InputWaitsForReceiveBuffersAndIsNeverLost) {
    // Typed before the driver is even up: kept.
    for (char c : std::string("ab")) EXPECT_TRUE(con->push_input(c));
    bring_up();
    EXPECT_EQ(con->pending_input(), 2u);
    rx_buffer(0, 1);
    rx_buffer(1, 16);
    wr(R_Q_NOTIFY, 0);
    EXPECT_EQ(rx.used_idx(), 2u);
    EXPECT_EQ(received(0), "a");
    EXPECT_EQ(received(1), "b");
    EXPECT_EQ(con->pending_input(), 0u);
    // With a buffer waiting, input goes in at once.
    rx_buffer(2, 16);
    EXPECT_TRUE(con->push_input('c'));
    EXPECT_EQ(rx.used_idx(), 3u);
    EXPECT_EQ(received(2), "c");
    EXPECT_TRUE(sink.level);
}

TEST_F(ConsoleTest, AFullInputBufferRefusesAndWakesWhenTheDriverTakesInput) {
    bring_up();
    for (usize i = 0; i < ConsoleDevice::InputBuffer; ++i) ASSERT_TRUE(con->push_input(char('0' + i % 10)));
    EXPECT_FALSE(con->push_input('x', woken));
    EXPECT_EQ(g_woken, 0u);
    rx_buffer(0, 200);
    wr(R_Q_NOTIFY, 0); // the waker runs after the access, outside the device lock
    EXPECT_EQ(g_woken, 1u);
    EXPECT_EQ(rx.used_len(0), 200u);
    EXPECT_EQ(received(0).substr(0, 12), "012345678901");
    EXPECT_EQ(con->pending_input(), ConsoleDevice::InputBuffer - 200);
    EXPECT_TRUE(con->push_input('x'));
    // Overdue: the console gave up waiting; a full buffer loses input instead of refusing it.
    for (usize i = con->pending_input(); i < ConsoleDevice::InputBuffer; ++i) ASSERT_TRUE(con->push_input('y'));
    EXPECT_FALSE(con->push_input('z', woken));
    EXPECT_TRUE(con->push_input('z', woken, true));
    EXPECT_TRUE(con->push_input('w', woken)); // lost too, until the driver reads again
    EXPECT_EQ(con->pending_input(), ConsoleDevice::InputBuffer);
}

// A chain of 4 GiB - 1 (the most a chain may carry, 2.7.5.2) costs one notification at most
// TxBudgetBytes of output: an exit does bounded work; the chain is returned used.
TEST_F(ConsoleTest, AHugeTransmitChainOutputsAtMostTheBudget) {
    bring_up();
    rx.mem.add_ram(0x1'0000'0000, 64 * KiB);
    u8* p = rx.mem.at(0x1'0000'0000, 64 * KiB);
    memset(p, 'x', 64 * KiB);
    for (u32 i = 0; i < 64; ++i) p[1024 * i + 1023] = '\n';
    // 8 descriptors of 64 KiB each (the same bytes), one chain.
    for (u16 i = 0; i < 8; ++i)
        rx.desc_at(TX_DESC, i, 0x1'0000'0000, 64 * KiB, i < 7 ? kDescFNext : 0, u16(i + 1));
    rx.mem.put16(TX_AVAIL + 4, 0);
    rx.mem.put16(TX_AVAIL + 2, 1);
    wr(R_Q_NOTIFY, 1);
    EXPECT_EQ(rx.mem.get16(TX_USED + 2), 1u);
    const std::string& out = captured_console();
    EXPECT_EQ(usize(std::count(out.begin(), out.end(), 'x')), ConsoleDevice::TxBudgetBytes / 1024 * 1023);
    EXPECT_EQ(rd(R_STATUS) & 64, 0u) << "not a fault: the rest is dropped";
}

TEST_F(ConsoleTest, AHostileTransmitChainIsReportedAndTheConsoleStops) {
    bring_up();
    rx.desc_at(TX_DESC, 0, TX_BUF, 4, kDescFNext, 0); // loops on itself
    rx.mem.put16(TX_AVAIL + 4, 0);
    rx.mem.put16(TX_AVAIL + 2, 1);
    wr(R_Q_NOTIFY, 1);
    EXPECT_EQ(rd(R_STATUS) & 64, 64u);
    EXPECT_EQ(rd(R_INT_STATUS), 2u);
    EXPECT_NE(captured_console().find("cxvisor: vm 1 (vm1): virtio device hvc0: queue 1: descriptor chain loops; "
                                      "device needs reset\n"), std::string::npos) << captured_console();
    // Input is kept, not written into a broken device.
    EXPECT_TRUE(con->push_input('q'));
    EXPECT_EQ(rx.used_idx(), 0u);
    EXPECT_EQ(rx.mem.refused, 0u);
    // After a reset and a new set-up, it works, and the kept input arrives.
    for (u64 a = TX_DESC; a < TX_DESC + 0x10000; a += 8) rx.mem.put64(a, 0);
    tx_avail = 0;
    bring_up();
    rx_buffer(0, 8);
    wr(R_Q_NOTIFY, 0);
    EXPECT_EQ(received(0), "q");
    send("ok\n");
    EXPECT_NE(captured_console().find("[vm1] ok\n"), std::string::npos);
}

TEST_F(ConsoleTest, AReceiveBufferOutsideRamBreaksTheQueueWithoutTouchingIt) {
    bring_up();
    rx.desc(0, RAM + RingBuilder::kRamSize - 4, 16, kDescFWrite); // runs past the end of RAM
    rx.offer(0);
    EXPECT_TRUE(con->push_input('a'));
    EXPECT_EQ(rd(R_STATUS) & 64, 64u);
    EXPECT_NE(captured_console().find("queue 0: buffer outside the VM's RAM"), std::string::npos) << captured_console();
    EXPECT_EQ(rx.mem.refused, 0u);
    EXPECT_EQ(con->pending_input(), 1u);
}

} // namespace
