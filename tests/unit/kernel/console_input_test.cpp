// Console input flow control (kernel/console_input.cpp) against a fake UART, a consumer with a
// small FIFO (as a VM's PL011) and the fake timer hardware.
#include "kernel/console.hpp"
#include "kernel/percpu.hpp"
#include "kernel/timer.hpp"
#include <deque>
#include <gtest/gtest.h>
#include <string>

namespace {

struct FakeUart {
    std::deque<char> waiting; // typed, not yet read (the host UART and the backend behind it)
    bool rx_irq = false;
    unsigned reads_while_masked = 0;
} g_hw;

ConsoleUart g_fake{
    [](void*, char) {},
    [](void*, char* out) {
        if (g_hw.waiting.empty()) return false;
        if (!g_hw.rx_irq) ++g_hw.reads_while_masked;
        *out = g_hw.waiting.front();
        g_hw.waiting.pop_front();
        return true;
    },
    [](void*, bool on) { g_hw.rx_irq = on; },
    nullptr,
};

// The consumer: a FIFO of `depth` characters that refuses when full and keeps the wake-up.
struct Consumer {
    usize depth = 1;
    std::string fifo, taken_overdue;
    void (*ready)() = nullptr;
    unsigned offers = 0;
} g_vm;

bool consume(char c, bool overdue, void (*ready)()) {
    ++g_vm.offers;
    if (overdue) {
        g_vm.taken_overdue += c; // a stalled VM loses it (overrun)
        return true;
    }
    if (g_vm.fifo.size() >= g_vm.depth) {
        g_vm.ready = ready;
        return false;
    }
    g_vm.fifo += c;
    return true;
}

// The guest reads one character; the device wakes the console, as Pl011::read does.
char guest_read() {
    char c = g_vm.fifo.front();
    g_vm.fifo.erase(0, 1);
    if (auto r = std::exchange(g_vm.ready, nullptr)) r();
    return c;
}

// What the boot CPU does when the UART interrupt is taken: only while it is unmasked.
void uart_irq() {
    if (g_hw.rx_irq && !g_hw.waiting.empty()) console_handle_rx();
}

void type(const std::string& s) {
    for (char c : s) g_hw.waiting.push_back(c);
    uart_irq();
}

u64 patience_ticks() { return INPUT_PATIENCE_MS * timer_ticks_per_ms(); }

} // namespace

const ConsoleUart* console_uart() { return &g_fake; }

struct ConsoleInput : testing::Test {
    void SetUp() override {
        fake::reset();
        g_hw = {};
        g_vm = {};
        console_set_input_handler(consume);
    }
    void TearDown() override {
        // Leave nothing held for the next test: drain through the consumer.
        g_vm.depth = 1 << 20;
        console_input_ready();
        while (!g_hw.waiting.empty()) uart_irq();
    }
};

TEST_F(ConsoleInput, EnablingReadsWhatWasTypedBefore) {
    g_hw.waiting = {'a', 'b'};
    g_vm.depth = 8;
    console_set_input_handler(consume);
    EXPECT_TRUE(g_hw.rx_irq);
    EXPECT_EQ(g_vm.fifo, "ab");
}

TEST_F(ConsoleInput, RefusedCharacterIsHeldAndTheUartLeftUnread) {
    type("xyz");
    EXPECT_EQ(g_vm.fifo, "x");
    EXPECT_FALSE(g_hw.rx_irq); // masked: the UART and the backend keep "z"
    EXPECT_EQ(std::string(g_hw.waiting.begin(), g_hw.waiting.end()), "z");
    console_handle_rx(); // an interrupt that was already on its way reads nothing
    EXPECT_EQ(g_hw.waiting.size(), 1u);
    EXPECT_EQ(g_hw.reads_while_masked, 0u);
    EXPECT_EQ(guest_read(), 'x'); // room: the held "y" is offered at once, reading resumes
    EXPECT_EQ(g_vm.fifo, "y");
    EXPECT_TRUE(g_hw.rx_irq);
    uart_irq(); // "z" waited: its interrupt fires now
    EXPECT_EQ(g_vm.fifo, "y");
    EXPECT_FALSE(g_hw.rx_irq);
    EXPECT_EQ(guest_read(), 'y');
    EXPECT_EQ(guest_read(), 'z');
    EXPECT_TRUE(g_hw.rx_irq);
    EXPECT_TRUE(g_vm.taken_overdue.empty());
}

TEST_F(ConsoleInput, APasteArrivesWholeThroughAOneCharacterFifo) {
    std::string in, out;
    for (int i = 0; i < 300; ++i) in += char('!' + i % 90);
    type(in);
    while (out.size() < in.size()) {
        ASSERT_FALSE(g_vm.fifo.empty()) << "input stalled after " << out.size();
        out += guest_read();
        uart_irq();
    }
    EXPECT_EQ(out, in);
    EXPECT_EQ(g_hw.reads_while_masked, 0u);
}

TEST_F(ConsoleInput, PatienceRunsOutForAConsumerThatNeverReads) {
    type("ab\x1c" "c");
    EXPECT_EQ(g_vm.fifo, "a");
    ASSERT_TRUE(fake::timer.enabled);
    EXPECT_EQ(fake::timer.deadline, patience_ticks());
    fake::counter_value = patience_ticks() - 1;
    timer_handle_irq();
    EXPECT_TRUE(g_vm.taken_overdue.empty());
    fake::counter_value = patience_ticks();
    timer_handle_irq(); // overdue: the consumer takes (drops) "b"; reading resumes
    EXPECT_EQ(g_vm.taken_overdue, "b");
    EXPECT_TRUE(g_hw.rx_irq);
    EXPECT_FALSE(fake::timer.enabled);
    uart_irq(); // the switch key behind it gets through (refused again only by the full FIFO)
    EXPECT_EQ(g_hw.waiting.size(), 1u); // "c"
}

TEST_F(ConsoleInput, RefusedOverdueOfferWaitsAnotherPatience) {
    type("ab");
    g_vm.taken_overdue.clear();
    fake::counter_value = patience_ticks();
    // A consumer that still refuses when overdue (its focus just moved to another full FIFO).
    auto refuse_all = [](char, bool, void (*ready)()) {
        g_vm.ready = ready;
        return false;
    };
    console_set_input_handler(+refuse_all);
    timer_handle_irq();
    EXPECT_FALSE(g_hw.rx_irq);
    ASSERT_TRUE(fake::timer.enabled);
    EXPECT_EQ(fake::timer.deadline, 2 * patience_ticks());
    console_set_input_handler(consume);
    fake::counter_value = 2 * patience_ticks();
    timer_handle_irq();
    EXPECT_EQ(g_vm.taken_overdue, "b");
}

TEST_F(ConsoleInput, AWakeUpAfterThePatienceDeliversNothingTwice) {
    type("ab");
    fake::counter_value = patience_ticks();
    timer_handle_irq();
    EXPECT_EQ(g_vm.taken_overdue, "b");
    unsigned offers = g_vm.offers;
    EXPECT_EQ(guest_read(), 'a'); // the stale wake-up of the refusal
    EXPECT_EQ(g_vm.offers, offers);
    EXPECT_TRUE(g_vm.fifo.empty());
}
