// What the UART model tests (pl011_test, uart16550_test) share: the interrupt line as a recording
// sink, and the host console's side of the backpressure contract (devices/uart_base.hpp), which
// both models must keep the same whatever their registers.
#pragma once
#include "devices/console_line.hpp"
#include "devices/console_port.hpp"
#include "host_console.hpp"
#include "vintc/irq_line.hpp"
#include <gtest/gtest.h>
#include <string>
#include <utility>
#include <vector>

namespace uart_test {

// Records every level the device drives, so a test sees both the level and that nothing is
// driven when it does not change.
struct RecordingSink final : IrqSink {
    explicit RecordingSink(u32 expected) : expected_id(expected) {}
    u32 expected_id;
    std::vector<bool> levels;
    unsigned pulses = 0;
    void set_line(u32 id, bool level) override {
        EXPECT_EQ(id, expected_id);
        levels.push_back(level);
    }
    void raise(u32) override { ++pulses; }
    // The levels driven since the last call.
    std::vector<bool> take() { return std::exchange(levels, {}); }
};

// The host console's wakers (ConsolePort::Waker is a plain function).
inline int wakes;
inline ConsolePort* waking;
inline std::string pushed_by_waker;
inline void count_wake() { ++wakes; }
// What the host console does when woken: offer the held character again. It takes the device
// lock, so the device must call the waker after releasing it.
inline void push_on_wake() {
    ++wakes;
    if (waking->push_input('H', push_on_wake)) pushed_by_waker += 'H';
}

inline std::string printable(usize n) {
    std::string s(n, 0);
    for (usize i = 0; i < n; ++i) s[i] = char('!' + i % 90);
    return s;
}

// A refused character waits for the guest's read and is offered again, once, from the waker.
// `u` is fresh (FIFOs off: one character fills it); `no_room()` makes guest accesses that do not
// make room; `read_data()` reads the data register.
template <typename NoRoom, typename ReadData>
void refused_character_waits_for_a_read(ConsolePort& u, NoRoom no_room, ReadData read_data) {
    waking = &u;
    wakes = 0;
    pushed_by_waker.clear();
    ASSERT_TRUE(u.push_input('a'));
    EXPECT_FALSE(u.push_input('H', push_on_wake)); // the holding register is full
    no_room();
    EXPECT_EQ(wakes, 0); // no room yet
    EXPECT_EQ(read_data(), u64('a'));
    EXPECT_EQ(wakes, 1);
    EXPECT_EQ(pushed_by_waker, "H");
    EXPECT_EQ(read_data(), u64('H'));
    EXPECT_EQ(wakes, 1); // once per refusal
}

// Feeds `in` through push_input as the console does (a refused character is held and offered
// again) while the guest reads one character at a time; each read after a refusal must wake
// exactly once. Returns what the guest read.
template <typename ReadData>
std::string feed_with_refusals(ConsolePort& u, const std::string& in, ReadData read_data) {
    std::string out;
    usize next = 0;
    wakes = 0;
    while (out.size() < in.size()) {
        bool refused = false;
        while (next < in.size() && !refused) {
            if (u.push_input(in[next], count_wake)) ++next;
            else refused = true;
        }
        const int before = wakes;
        out += char(read_data());
        EXPECT_EQ(wakes, before + int(refused));
    }
    return out;
}

// A host that gave up waiting loses the character as an overrun (`overrun()` returns the
// device's overrun flag, reading it), and keeps losing input that finds the FIFO full, without
// waiting, until the guest reads; then refusals wait again. `u` is fresh (FIFOs off);
// `read_data()` returns the data register, whose low byte is the character.
template <typename Overrun, typename ReadData>
void overdue_input_is_lost_until_the_guest_reads(ConsolePort& u, Overrun overrun, ReadData read_data) {
    wakes = 0;
    ASSERT_TRUE(u.push_input('a'));
    EXPECT_FALSE(u.push_input('b', count_wake));
    EXPECT_TRUE(u.push_input('b', count_wake, true)); // the host gave up: lost
    EXPECT_TRUE(u.push_input('c', count_wake));       // and does not wait again
    EXPECT_TRUE(overrun());
    EXPECT_EQ(read_data() & 0xFF, u64('a'));
    EXPECT_EQ(wakes, 0); // the refusal's waker was replaced by losing the character
    ASSERT_TRUE(u.push_input('d'));
    EXPECT_FALSE(u.push_input('e', count_wake)); // the guest read: waiting again
    EXPECT_EQ(read_data() & 0xFF, u64('d'));
    EXPECT_EQ(wakes, 1);
}

// Transmitted output of two UARTs, `u` of VM "linux" and `v` of VM "rtos", through `put(uart, s)`
// (the data register): whole prefixed lines that never mix, "\r\n" ending a line once, a line
// broken at LineMax and its rest emitted by flush().
template <typename Uart, typename Put>
void check_line_buffering(Uart& u, Uart& v, Put put) {
    clear_captured_console();
    put(u, "hello ");
    put(v, "tick\r\n");
    put(u, "world\r\n");
    EXPECT_EQ(captured_console(), "[rtos] tick\n[linux] hello world\n");
    clear_captured_console();
    const std::string full(ConsoleLine::LineMax, 'x');
    put(u, full + "xxxxx");
    EXPECT_EQ(captured_console(), "[linux] " + full + "\n");
    u.flush();
    EXPECT_EQ(captured_console(), "[linux] " + full + "\n[linux] xxxxx\n");
}

} // namespace uart_test
