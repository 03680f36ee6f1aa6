// paste: console input is never lost while the guest is slow to read it. After "paste ready" the
// harness types a line of PASTE_LEN characters (the alphabet below, repeated) and CR. The guest
// waits until its receive FIFO is full, then leaves it unread for PASTE_HOLD_MS, as a busy guest
// would; what arrives meanwhile must wait on the host side (backpressure), not be dropped. Then it
// reads the line and checks that every character came, in order, and that the UART saw no overrun.
// The hold stays well below cxvisor's input patience (INPUT_PATIENCE_MS, 2 s), after which
// input for a guest that does not read is dropped.
#include "rt.hpp"

namespace {
constexpr unsigned PASTE_LEN = 300;
constexpr uint64_t PASTE_HOLD_MS = 500;
constexpr char ALPHABET[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
constexpr unsigned ALPHABET_LEN = sizeof ALPHABET - 1;
constexpr uint64_t UART_FR = rt::UART_BASE + 0x018, UART_RSR = rt::UART_BASE + 0x004;
constexpr uint32_t FR_RXFF = 1u << 6;
constexpr uint64_t WAIT_S = 30; // for the first character, and between characters

bool wait_until(uint64_t deadline, bool (*done)()) {
    while (!done())
        if (rt::counter() > deadline) return false;
    return true;
}
uint64_t after_s(uint64_t s) { return rt::counter() + s * rt::counter_freq(); }
void wait_for_full_fifo() {
    if (!wait_until(after_s(WAIT_S), [] { return (rt::read32(UART_FR) & FR_RXFF) != 0; }))
        rt::fail("the receive FIFO never filled");
}
} // namespace

#ifdef CXV_PASTE_STUCK_MS
// paste-stuck: a guest that does not read its console. It lets the FIFO fill, then leaves it
// unread for CXV_PASTE_STUCK_MS, longer than cxvisor's input patience: input typed meanwhile,
// including the console-switch key behind it, must not wait for it for good. cxvisor drops
// what finds the FIFO full once its patience is spent, as a real UART would at once, and says so
// with an overrun; the switch key then gets through while this guest is still holding.
void guest_main() {
    rt::test_start("paste-stuck");
    rt::printf("paste ready\n");
    wait_for_full_fifo();
    rt::delay_us(CXV_PASTE_STUCK_MS * 1000);
    rt::printf("paste: hold over\n");
    unsigned n = 0;
    while (rt::try_getc() >= 0) ++n;
    rt::check(n >= 1, "%u character(s) waited in the FIFO", n);
    rt::check((rt::read32(UART_RSR) & 0x8) != 0, "input that found the FIFO full was lost: overrun (RSR.OE)");
    rt::finish();
}
#else
void guest_main() {
    rt::test_start("paste");
    rt::printf("paste ready\n");
    wait_for_full_fifo();
    rt::delay_us(PASTE_HOLD_MS * 1000);

    static char line[PASTE_LEN + 1];
    unsigned n = 0, first_wrong = PASTE_LEN;
    for (;;) {
        int c;
        uint64_t deadline = after_s(WAIT_S);
        while ((c = rt::try_getc()) < 0)
            if (rt::counter() > deadline) rt::fail("no more input after %u characters", n);
        if (c == '\r') break;
        if (n < PASTE_LEN) {
            line[n] = char(c);
            if (first_wrong == PASTE_LEN && c != ALPHABET[n % ALPHABET_LEN]) first_wrong = n;
        }
        ++n;
    }
    // The line as received, 60 characters a row (cxvisor breaks longer output lines).
    for (unsigned at = 0; at < n && at < PASTE_LEN; at += 60) {
        char row[61];
        unsigned k = 0;
        for (; k < 60 && at + k < n && at + k < PASTE_LEN; ++k) row[k] = line[at + k];
        row[k] = 0;
        rt::printf("paste: %s\n", row);
    }
    rt::check(n == PASTE_LEN, "%u characters received, %u typed", n, PASTE_LEN);
    rt::check(first_wrong == PASTE_LEN, "all in order (first out of place: %u of %u)", first_wrong, PASTE_LEN);
    rt::check((rt::read32(UART_RSR) & 0x8) == 0, "no overrun (RSR.OE clear)");
    if (rt::failures() == 0) rt::printf("paste: %u characters in order\n", n);
    rt::finish();
}
#endif
