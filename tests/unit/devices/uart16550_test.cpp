// The emulated 16550A (src/devices/uart16550.*) against the PC16550D datasheet and the way Linux's
// 8250 driver probes and drives it; mirrors pl011_test.cpp.
#include "devices/uart16550.hpp"
#include "host_console.hpp"
#include "uart_test_support.hpp"
#include <gtest/gtest.h>
#include <string>
#include <utility>
#include <vector>

namespace {
// Offsets and bits spelled out here (PC16550D register tables), not shared with the model.
constexpr u64 RBR = 0, THR = 0, DLL = 0, IER = 1, DLM = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4, LSR = 5,
              MSR = 6, SCR = 7;
constexpr u8 ERBFI = 1, ETBEI = 2, ELSI = 4, EDSSI = 8;
constexpr u8 NO_INT = 0x01, RLS = 0x06, RDA = 0x04, CTI = 0x0C, THRE_INT = 0x02, MS = 0x00, FIFOS = 0xC0;
constexpr u8 DR = 0x01, OE = 0x02, THRE = 0x20, TEMT = 0x40;
constexpr u8 LOOP = 0x10;
constexpr u32 PLIC_SRC = 10;

ConsoleSink null_sink() { return ConsoleSink{[](void*, const char*, usize) {}, nullptr}; }

u64 rd(Uart16550& u, u64 off) {
    auto r = u.read(off, 1);
    EXPECT_TRUE(r.is_ok()) << "offset " << off;
    return r.is_ok() ? r.value() : ~0ull;
}
void wr(Uart16550& u, u64 off, u64 v) { EXPECT_TRUE(u.write(off, 1, v).is_ok()) << off; }
void put(Uart16550& u, const std::string& s) { for (char c : s) wr(u, THR, u8(c)); }
u8 iir_id(Uart16550& u) { return u8(rd(u, IIR) & 0x0F); }

using uart_test::RecordingSink;
using V = std::vector<bool>;

struct Uart16550Irq : testing::Test {
    RecordingSink sink{PLIC_SRC};
    Uart16550 u{"uart0", GuestPhysAddr(0x10000000), "vm1", null_sink()};
    void SetUp() override { u.connect_irq(IrqLine{&sink, PLIC_SRC}); }
    void push(int n, char c = 'x') {
        for (int i = 0; i < n; ++i) ASSERT_TRUE(u.push_input(c));
    }
};
} // namespace

TEST(Uart16550, ResetValues) {
    Uart16550 u("uart0", GuestPhysAddr(0x10000000), "vm1");
    EXPECT_EQ(u.size(), 0x100u);
    EXPECT_EQ(rd(u, IER), 0u);
    EXPECT_EQ(rd(u, IIR), NO_INT);
    EXPECT_EQ(rd(u, LCR), 0u);
    EXPECT_EQ(rd(u, MCR), 0u);
    EXPECT_EQ(rd(u, LSR), u64(THRE | TEMT));
    EXPECT_EQ(rd(u, MSR), 0xB0u); // CTS, DSR, DCD of a connected terminal; no deltas
    EXPECT_EQ(rd(u, SCR), 0u);
    EXPECT_EQ(rd(u, RBR), 0u); // empty
    EXPECT_FALSE(u.irq_pending());
}

TEST(Uart16550, RegistersAndRejectedAccesses) {
    Uart16550 u("uart0", GuestPhysAddr(0x10000000), "vm1");
    wr(u, IER, 0xFF);
    EXPECT_EQ(rd(u, IER), 0x0Fu); // bits 7:4 are 0
    wr(u, MCR, 0xFF);
    EXPECT_EQ(rd(u, MCR), 0x1Fu);
    wr(u, LSR, 0); // factory test: ignored
    wr(u, MSR, 0);
    EXPECT_EQ(rd(u, LSR) & (THRE | TEMT), u64(THRE | TEMT));
    for (unsigned w : {2u, 4u, 8u}) {
        EXPECT_EQ(u.read(0, w).error(), Error::InvalidArgument);
        EXPECT_EQ(u.write(0, w, 'x').error(), Error::InvalidArgument);
    }
    EXPECT_EQ(u.read(8, 1).error(), Error::OutOfRange);
    EXPECT_EQ(u.read(0xFF, 1).error(), Error::OutOfRange);
    EXPECT_EQ(u.write(0x10, 1, 0).error(), Error::OutOfRange);
}

// What Linux's 8250 driver does to find and set up the port (autoconfig and serial8250_do_startup).
TEST(Uart16550, Linux8250ProbeSequence) {
    Uart16550 u("uart0", GuestPhysAddr(0x10000000), "vm1", null_sink());
    // Scratch register test.
    wr(u, SCR, 0xA5);
    EXPECT_EQ(rd(u, SCR), 0xA5u);
    wr(u, SCR, 0x5A);
    EXPECT_EQ(rd(u, SCR), 0x5Au);
    // IER test: 0 and 0x0F read back.
    wr(u, IER, 0);
    EXPECT_EQ(rd(u, IER) & 0x0F, 0u);
    wr(u, IER, 0x0F);
    EXPECT_EQ(rd(u, IER) & 0x0F, 0x0Fu);
    wr(u, IER, 0);
    // Loopback test: MCR = LOOP | OUT2 | RTS must show DCD | CTS in MSR.
    wr(u, MCR, LOOP | 0x0A);
    EXPECT_EQ(rd(u, MSR) & 0xF0, 0x90u);
    wr(u, MCR, 0);
    // LCR/DLAB: divisor latches replace RBR/IER while DLAB is set.
    wr(u, LCR, 0x80 | 0x03);
    wr(u, DLL, 0x01);
    wr(u, DLM, 0x00);
    EXPECT_EQ(rd(u, DLL), 1u);
    EXPECT_EQ(rd(u, DLM), 0u);
    wr(u, LCR, 0x03); // 8N1, DLAB off
    EXPECT_EQ(rd(u, LCR), 3u);
    EXPECT_EQ(rd(u, IER), 0u); // IER, not DLM
    wr(u, LCR, 0x80);
    EXPECT_EQ(rd(u, DLL), 1u); // kept
    wr(u, LCR, 0x03);
    // FCR FIFO enable → IIR bits 7:6 = 11 (a 16550A), with the FIFOs and trigger 8 as Linux sets.
    wr(u, FCR, 0x01);
    EXPECT_EQ(rd(u, IIR), u64(FIFOS | NO_INT));
    wr(u, FCR, 0x01 | 0x02 | 0x04 | 0x80); // clear both FIFOs, RX trigger 8
    EXPECT_EQ(rd(u, IIR) >> 6, 3u);
    wr(u, FCR, 0);
    EXPECT_EQ(rd(u, IIR), NO_INT);
    wr(u, FCR, 0x01 | 0x80);
    // Startup: LSR must not read 0xFF; then the THRE test (IER = ETBEI must show IIR THRE, twice).
    EXPECT_NE(rd(u, LSR), 0xFFu);
    rd(u, RBR);
    rd(u, IIR);
    rd(u, MSR);
    wr(u, IER, ETBEI);
    const u64 lsr = rd(u, LSR);
    const u64 iir1 = rd(u, IIR);
    wr(u, IER, 0);
    wr(u, IER, ETBEI);
    const u64 iir = rd(u, IIR);
    wr(u, IER, 0);
    EXPECT_EQ(lsr & TEMT, TEMT);
    EXPECT_EQ(iir1, u64(FIFOS | THRE_INT));
    EXPECT_EQ(iir, u64(FIFOS | THRE_INT));
    EXPECT_EQ(iir_id(u), NO_INT); // the reads reset the THRE source
}

TEST(Uart16550, RxFifoDataReadyAndOrder) {
    Uart16550 u("uart0", GuestPhysAddr(0x10000000), "vm1");
    ASSERT_TRUE(u.push_input('a'));
    EXPECT_EQ(rd(u, LSR) & DR, DR);
    EXPECT_FALSE(u.push_input('b')); // FIFOs off: the holding register is full
    EXPECT_EQ(rd(u, RBR), u64('a'));
    EXPECT_EQ(rd(u, LSR) & DR, 0u);
    wr(u, FCR, 0x01);
    for (int i = 0; i < 16; ++i) ASSERT_TRUE(u.push_input(char('A' + i)));
    EXPECT_FALSE(u.push_input('!'));
    for (int i = 0; i < 16; ++i) EXPECT_EQ(rd(u, RBR), u64('A' + i));
    EXPECT_EQ(rd(u, LSR), u64(THRE | TEMT));
}

TEST(Uart16550, TxLineBufferingWithPrefix) {
    Uart16550 u("uart0", GuestPhysAddr(0x10000000), "linux");
    Uart16550 v("uart0", GuestPhysAddr(0x10000000), "rtos");
    uart_test::check_line_buffering(u, v, put);
    // HC_PUTC transmits even while DLAB hides THR; a THR offset write with DLAB set is DLL.
    clear_captured_console();
    wr(u, LCR, 0x80);
    wr(u, THR, 'q');
    u.put_output('p');
    u.put_output('\n');
    EXPECT_EQ(captured_console(), "[linux] p\n");
    EXPECT_EQ(rd(u, DLL), u64('q'));
}

TEST(Uart16550, LoopbackSendsToTheReceiverNotTheConsole) {
    clear_captured_console();
    Uart16550 u("uart0", GuestPhysAddr(0x10000000), "vm1");
    wr(u, FCR, 0x01);
    wr(u, MCR, LOOP);
    put(u, "ab\n");
    EXPECT_EQ(captured_console(), "");
    EXPECT_EQ(rd(u, RBR), u64('a'));
    EXPECT_EQ(rd(u, RBR), u64('b'));
    EXPECT_EQ(rd(u, RBR), u64('\n'));
    // 17 characters into a 16-deep FIFO: the last one overruns.
    put(u, std::string(17, 'z'));
    EXPECT_EQ(rd(u, LSR), u64(DR | OE | THRE | TEMT));
    EXPECT_EQ(rd(u, LSR) & OE, 0u); // read resets it
    wr(u, MCR, 0);
    u.flush();
    EXPECT_EQ(captured_console(), "");
}

// ---- interrupts ----

TEST_F(Uart16550Irq, QuietDeviceDrivesNothing) {
    EXPECT_EQ(sink.take(), V{});
    wr(u, IER, ERBFI | ELSI | EDSSI); // no THRE: nothing is pending
    EXPECT_EQ(sink.take(), V{});
    EXPECT_EQ(iir_id(u), NO_INT);
    EXPECT_EQ(sink.pulses, 0u);
}

TEST_F(Uart16550Irq, ReceivedDataAtEachTriggerLevelAndTimeoutBelowIt) {
    const u8 fcr_trigger[4] = {0x00, 0x40, 0x80, 0xC0};
    const int level[4] = {1, 4, 8, 14};
    wr(u, IER, ERBFI);
    for (int t = 0; t < 4; ++t) {
        SCOPED_TRACE(t);
        wr(u, FCR, 0x01 | fcr_trigger[t]);
        push(level[t] - 1);
        if (level[t] > 1) {
            EXPECT_EQ(iir_id(u), CTI); // below the level: the character timeout
            EXPECT_EQ(sink.take(), V{true});
        }
        push(1);
        EXPECT_EQ(iir_id(u), RDA);
        EXPECT_EQ(sink.take(), level[t] > 1 ? V{} : V{true}); // still high: not driven again
        rd(u, RBR);
        EXPECT_EQ(iir_id(u), level[t] > 1 ? CTI : NO_INT);
        while (rd(u, LSR) & DR) rd(u, RBR);
        EXPECT_EQ(iir_id(u), NO_INT);
        EXPECT_EQ(sink.take(), V{false});
    }
}

TEST_F(Uart16550Irq, ReceivedDataWithFifosOffIsOneCharacter) {
    wr(u, IER, ERBFI);
    push(1);
    EXPECT_EQ(sink.take(), V{true});
    EXPECT_EQ(rd(u, IIR), RDA);
    EXPECT_EQ(rd(u, RBR), u64('x'));
    EXPECT_EQ(sink.take(), V{false});
}

TEST_F(Uart16550Irq, ThrEmptyFollowsEveryWriteAndIsResetByIirRead) {
    wr(u, IER, ETBEI); // enabling it with THR empty raises it
    EXPECT_EQ(sink.take(), V{true});
    EXPECT_EQ(iir_id(u), THRE_INT);
    EXPECT_EQ(sink.take(), V{false}); // the IIR read reset it
    EXPECT_EQ(iir_id(u), NO_INT);
    wr(u, THR, 'a'); // THR empties at once: again
    EXPECT_EQ(sink.take(), V{true});
    wr(u, IER, ETBEI); // rewriting an enabled ETBEI is no new edge
    EXPECT_EQ(sink.take(), V{});
    wr(u, IER, 0); // Linux's stop_tx
    EXPECT_EQ(sink.take(), V{false});
    wr(u, IER, ETBEI); // start_tx: the pending source is still there
    EXPECT_EQ(sink.take(), V{true});
}

TEST_F(Uart16550Irq, PriorityLineStatusThenDataThenThrThenModem) {
    wr(u, IER, ERBFI | ETBEI | ELSI | EDSSI);
    EXPECT_EQ(sink.take(), V{true}); // THRE
    wr(u, MCR, LOOP | 0x03); // loopback with DTR, RTS: DCD drops → a modem status delta
    EXPECT_FALSE(u.push_input('x')); // refused: loopback does not listen to the host
    wr(u, THR, 'y');         // into the receiver (FIFOs off: one character)
    wr(u, THR, 'z');         // overruns it
    EXPECT_EQ(iir_id(u), RLS);
    EXPECT_EQ(rd(u, LSR) & (OE | DR), u64(OE | DR));
    EXPECT_EQ(iir_id(u), RDA);
    EXPECT_EQ(rd(u, RBR), u64('y'));
    EXPECT_EQ(iir_id(u), THRE_INT); // this read resets THRE
    EXPECT_EQ(iir_id(u), MS);
    EXPECT_EQ(rd(u, MSR), u64(0x30 | 0x08)); // CTS, DSR still; DDCD
    EXPECT_EQ(iir_id(u), NO_INT);
    EXPECT_EQ(sink.take(), V{false});
}

TEST_F(Uart16550Irq, ModemStatusDeltasInLoopback) {
    wr(u, IER, EDSSI);
    wr(u, MCR, LOOP | 0x04); // OUT1 → RI; CTS, DSR, DCD drop
    EXPECT_EQ(sink.take(), V{true});
    EXPECT_EQ(rd(u, MSR), u64(0x40 | 0x0B)); // RI; DCTS, DDSR, DDCD
    EXPECT_EQ(sink.take(), V{false});
    wr(u, MCR, LOOP); // RI falls: trailing edge
    EXPECT_EQ(rd(u, MSR), u64(0x04));
    wr(u, MCR, LOOP); // no change: no delta
    EXPECT_EQ(rd(u, MSR), 0u);
    EXPECT_EQ(sink.take(), (V{true, false}));
}

TEST_F(Uart16550Irq, OverrunRaisesLineStatus) {
    wr(u, IER, ELSI);
    push(1); // FIFOs off: full
    EXPECT_FALSE(u.push_input('y'));
    EXPECT_EQ(sink.take(), V{}); // refused: the host keeps it, no overrun
    EXPECT_TRUE(u.push_input('y', nullptr, true));
    EXPECT_EQ(sink.take(), V{true});
    EXPECT_EQ(iir_id(u), RLS);
    EXPECT_EQ(rd(u, LSR) & OE, OE);
    EXPECT_EQ(sink.take(), V{false});
    EXPECT_EQ(rd(u, RBR), u64('x'));
}

TEST(Uart16550IrqConnect, ConnectingWhileHighDrivesAtOnce) {
    RecordingSink sink{PLIC_SRC};
    Uart16550 u("uart0", GuestPhysAddr(0x10000000), "vm1", null_sink());
    ASSERT_TRUE(u.push_input('a'));
    wr(u, IER, ERBFI);
    EXPECT_TRUE(u.irq_pending());
    u.connect_irq(IrqLine{&sink, PLIC_SRC});
    EXPECT_EQ(sink.take(), V{true});
}

// ---- backpressure (the contract shared with the PL011, devices/uart_base.hpp) ----
using uart_test::count_wake;
using uart_test::wakes;

TEST(Uart16550Backpressure, RefusedCharacterWaitsForAReadAndWakesOnce) {
    Uart16550 u("uart0", GuestPhysAddr(0x10000000), "vm1");
    uart_test::refused_character_waits_for_a_read(
        u, [&] { rd(u, LSR); wr(u, SCR, 1); }, [&] { return rd(u, RBR); });
    EXPECT_EQ(rd(u, LSR) & OE, 0u);
}

TEST(Uart16550Backpressure, NothingIsLostAcrossManyRefusals) {
    Uart16550 u("uart0", GuestPhysAddr(0x10000000), "vm1");
    wr(u, FCR, 0x01 | 0xC0);
    const std::string in = uart_test::printable(300);
    EXPECT_EQ(uart_test::feed_with_refusals(u, in, [&] { return rd(u, RBR); }), in);
    EXPECT_EQ(rd(u, LSR) & OE, 0u);
}

TEST(Uart16550Backpressure, OverdueInputIsLostUntilTheGuestReads) {
    Uart16550 u("uart0", GuestPhysAddr(0x10000000), "vm1");
    uart_test::overdue_input_is_lost_until_the_guest_reads(
        u, [&] { return (rd(u, LSR) & OE) == OE; }, [&] { return rd(u, RBR); });
    EXPECT_EQ(rd(u, LSR) & (OE | DR), 0u);
}

TEST(Uart16550Backpressure, LoopbackRefusesHostInputAndWakesWhenItEnds) {
    Uart16550 u("uart0", GuestPhysAddr(0x10000000), "vm1", null_sink());
    wakes = 0;
    wr(u, MCR, LOOP);
    EXPECT_FALSE(u.push_input('h', count_wake));
    wr(u, SCR, 1);
    EXPECT_EQ(wakes, 0);
    wr(u, MCR, 0);
    EXPECT_EQ(wakes, 1);
    EXPECT_TRUE(u.push_input('h'));
    EXPECT_EQ(rd(u, RBR), u64('h'));
    // A host that gives up during loopback loses the character on the line, which the receiver
    // does not listen to: no overrun for the guest.
    wr(u, MCR, LOOP);
    EXPECT_TRUE(u.push_input('g', count_wake, true));
    EXPECT_EQ(rd(u, LSR) & (OE | DR), 0u);
}

TEST(Uart16550Backpressure, FifoResetEmptiesItAndWakes) {
    Uart16550 u("uart0", GuestPhysAddr(0x10000000), "vm1");
    wakes = 0;
    wr(u, FCR, 0x01);
    for (int i = 0; i < 16; ++i) ASSERT_TRUE(u.push_input('q'));
    EXPECT_FALSE(u.push_input('r', count_wake));
    wr(u, FCR, 0x01 | 0x02); // the guest discards what it has not read
    EXPECT_EQ(wakes, 1);
    EXPECT_EQ(rd(u, LSR) & DR, 0u);
    EXPECT_TRUE(u.push_input('r'));
    wr(u, FCR, 0x00); // FIFOs off: cleared too
    EXPECT_EQ(rd(u, LSR) & DR, 0u);
    wr(u, FCR, 0x02); // FCR0 = 0: the other bits are not programmed
    EXPECT_EQ(rd(u, IIR), NO_INT);
}

TEST(Uart16550Reset, BackToResetValuesLineLowAndRefusedInputWoken) {
    RecordingSink sink{PLIC_SRC};
    Uart16550 u("uart0", GuestPhysAddr(0x10000000), "vm1", null_sink());
    u.connect_irq(IrqLine{&sink, PLIC_SRC});
    wakes = 0;
    wr(u, LCR, 0x83);
    wr(u, DLL, 7);
    wr(u, LCR, 0x03);
    wr(u, FCR, 0xC1);
    wr(u, MCR, 0x0B);
    wr(u, SCR, 0x55);
    wr(u, IER, ERBFI);
    for (int i = 0; i < 16; ++i) ASSERT_TRUE(u.push_input('q'));
    EXPECT_FALSE(u.push_input('r', count_wake));
    EXPECT_EQ(sink.take(), V{true});
    u.reset();
    EXPECT_EQ(sink.take(), V{false});
    EXPECT_EQ(wakes, 1);
    EXPECT_EQ(rd(u, IIR), NO_INT);
    for (u64 off : {IER, LCR, MCR, SCR}) EXPECT_EQ(rd(u, off), 0u);
    EXPECT_EQ(rd(u, LSR), u64(THRE | TEMT));
    EXPECT_EQ(rd(u, MSR), 0xB0u);
    wr(u, LCR, 0x80);
    EXPECT_EQ(rd(u, DLL), 0u);
    wr(u, LCR, 0);
    wr(u, IER, ERBFI); // still connected
    ASSERT_TRUE(u.push_input('r'));
    EXPECT_EQ(sink.take(), V{true});
}
