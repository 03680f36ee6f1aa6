#include "devices/pl011.hpp"
#include "host_console.hpp"
#include <gtest/gtest.h>
#include <string>

namespace {
u64 rd(Pl011& u, u64 off, unsigned w = 4) {
    auto r = u.read(off, w);
    EXPECT_TRUE(r.is_ok()) << "offset " << off;
    return r.is_ok() ? r.value() : ~0ull;
}
void wr(Pl011& u, u64 off, u64 v, unsigned w = 4) { EXPECT_TRUE(u.write(off, w, v).is_ok()) << off; }
void put(Pl011& u, const std::string& s) { for (char c : s) wr(u, 0x000, u8(c), 1); }
constexpr u32 RXFE = 0x10, RXFF = 0x40, TXFE = 0x80, RXIS = 0x10, TXIS = 0x20, RTIS = 0x40;
} // namespace

TEST(Pl011, ResetValuesAndIds) {
    Pl011 u("uart0", GuestPhysAddr(0x9000000), "vm1");
    EXPECT_EQ(u.size(), 0x1000u);
    EXPECT_EQ(rd(u, 0x018), TXFE | RXFE);
    EXPECT_EQ(rd(u, 0x030), 0x300u);
    EXPECT_EQ(rd(u, 0x034), 0x12u);
    for (u64 off : {0x004, 0x020, 0x024, 0x028, 0x02C, 0x038, 0x03C, 0x040, 0x044, 0x048})
        EXPECT_EQ(rd(u, off), 0u);
    const u8 ids[8] = {0x11, 0x10, 0x34, 0x00, 0x0D, 0xF0, 0x05, 0xB1};
    for (int i = 0; i < 8; ++i) EXPECT_EQ(rd(u, 0xFE0 + 4 * i), ids[i]);
}

TEST(Pl011, RegistersAndRejectedAccesses) {
    Pl011 u("uart0", GuestPhysAddr(0x9000000), "vm1");
    wr(u, 0x024, 0x12345); // IBRD is 16 bits
    EXPECT_EQ(rd(u, 0x024), 0x2345u);
    wr(u, 0x028, 0xff); // FBRD is 6 bits
    EXPECT_EQ(rd(u, 0x028), 0x3fu);
    wr(u, 0x030, 0x301);
    EXPECT_EQ(rd(u, 0x030, 2), 0x301u);
    wr(u, 0x018, 0); // FR is read-only
    EXPECT_EQ(rd(u, 0x018, 1), TXFE | RXFE);
    EXPECT_EQ(u.read(0x000, 8).error(), Error::InvalidArgument);
    EXPECT_EQ(u.write(0x000, 8, 'x').error(), Error::InvalidArgument);
    EXPECT_EQ(u.read(0x019, 1).error(), Error::InvalidArgument);
    EXPECT_EQ(u.read(0x008, 4).error(), Error::OutOfRange);
    EXPECT_EQ(u.read(0x080, 4).error(), Error::OutOfRange);
    EXPECT_EQ(u.write(0x04C, 4, 0).error(), Error::OutOfRange);
}

TEST(Pl011, RxFifoFlagsAndInterrupts) {
    Pl011 u("uart0", GuestPhysAddr(0x9000000), "vm1");
    EXPECT_FALSE(u.irq_pending());
    ASSERT_TRUE(u.push_input('a'));
    EXPECT_EQ(rd(u, 0x018) & (RXFE | RXFF), 0u);
    EXPECT_EQ(rd(u, 0x03C), RXIS | RTIS); // FIFOs off: one character reaches the trigger
    EXPECT_FALSE(u.irq_pending());
    wr(u, 0x038, RTIS);
    EXPECT_TRUE(u.irq_pending());
    EXPECT_EQ(rd(u, 0x040), RTIS);
    EXPECT_EQ(rd(u, 0x000, 1), u64('a'));
    EXPECT_EQ(rd(u, 0x018) & RXFE, RXFE);
    EXPECT_FALSE(u.irq_pending());

    wr(u, 0x02C, 0x70); // FEN, 8 bits: RX trigger 1/2 = 16 characters
    for (int i = 0; i < 32; ++i) ASSERT_TRUE(u.push_input(char('A' + i % 26)));
    EXPECT_EQ(rd(u, 0x018) & RXFF, RXFF);
    EXPECT_EQ(rd(u, 0x03C) & RXIS, RXIS);
    EXPECT_FALSE(u.push_input('!')); // overrun
    EXPECT_EQ(rd(u, 0x004), 0x8u);
    EXPECT_EQ(rd(u, 0x03C) & 0x400, 0x400u);
    wr(u, 0x004, 0);     // ECR clears RSR
    wr(u, 0x044, 0x400); // ICR clears OEIS
    EXPECT_EQ(rd(u, 0x004), 0u);
    EXPECT_EQ(rd(u, 0x03C) & 0x400, 0u);
    for (int i = 0; i < 17; ++i) EXPECT_EQ(rd(u, 0x000), u64('A' + i % 26));
    EXPECT_EQ(rd(u, 0x03C) & (RXIS | RTIS), RTIS); // 15 left: below the trigger
    for (int i = 17; i < 32; ++i) EXPECT_EQ(rd(u, 0x000), u64('A' + i % 26));
    EXPECT_EQ(rd(u, 0x018) & RXFE, RXFE);
}

TEST(Pl011, TxLineBufferingWithPrefix) {
    clear_captured_console();
    Pl011 u("uart0", GuestPhysAddr(0x9000000), "linux");
    Pl011 v("uart0", GuestPhysAddr(0x9000000), "rtos");
    put(u, "hello ");
    put(v, "tick\r\n");
    put(u, "world\r\n");
    EXPECT_EQ(captured_console(), "[rtos] tick\n[linux] hello world\n");
    EXPECT_EQ(rd(u, 0x03C) & TXIS, TXIS); // TX FIFO drained past the trigger
    wr(u, 0x044, TXIS);
    EXPECT_EQ(rd(u, 0x03C) & TXIS, 0u);

    clear_captured_console();
    put(u, std::string(Pl011::LineMax + 5, 'x'));
    EXPECT_EQ(captured_console(), "[linux] " + std::string(Pl011::LineMax, 'x') + "\n");
    u.flush();
    EXPECT_EQ(captured_console(), "[linux] " + std::string(Pl011::LineMax, 'x') + "\n[linux] xxxxx\n");
    u.flush(); // nothing pending: no empty line
    EXPECT_EQ(captured_console().size(), 8 + Pl011::LineMax + 1 + 14);
    wr(u, 0x000, 0x100 | 'y'); // only DR[7:0] is data
    u.flush();
    EXPECT_TRUE(captured_console().ends_with("[linux] y\n"));
}

TEST(Pl011, CustomSinkAndLongVmName) {
    std::string out;
    auto append = [](void* ctx, const char* s, usize n) { static_cast<std::string*>(ctx)->append(s, n); };
    Pl011Sink sink{append, &out};
    const char* name = "a-very-long-vm-name-that-exceeds-31-chars";
    Pl011 u("uart0", GuestPhysAddr(0x9000000), name, sink);
    put(u, "hi\n");
    EXPECT_EQ(out, "[" + std::string(name, Pl011::VmNameMax) + "] hi\n");
}
