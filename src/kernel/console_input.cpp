// Console input with flow control (see kernel/console.hpp): the boot CPU's UART interrupt feeds
// the input handler; a refused character is held, the UART is left unread with its receive
// interrupt masked, and reading resumes when the consumer calls console_input_ready() or after
// INPUT_PATIENCE_MS. Kept apart from the output side so that host tests can drive it with a fake
// UART and fake timers.
#include "arch.hpp"
#include "kernel/console.hpp"
#include "kernel/spinlock.hpp"
#include "kernel/timer.hpp"

namespace {

// Input. g_in_lock orders everything below, and is held around every call of the handler, so a
// refusal and the consumer's console_input_ready() cannot cross: the consumer registers its
// wake-up under its own lock inside the handler, and a wake-up that follows waits here until the
// console has recorded that it holds a character.
Spinlock g_in_lock;
const ConsoleUart* g_uart; // null until console_set_input_handler finds the console up
ConsoleInputHandler g_input;
bool g_holding;  // g_held was refused: the UART is not read and its RX interrupt is masked
char g_held;
TimerEvent g_patience;

void arm_patience() { timer_arm(g_patience, arch::counter() + INPUT_PATIENCE_MS * timer_ticks_per_ms()); }

void stop_reading(char c) { // caller holds g_in_lock
    g_holding = true;
    g_held = c;
    g_uart->set_rx_irq(g_uart->ctx, false);
    arm_patience();
}

void resume_reading() { // caller holds g_in_lock
    g_holding = false;
    timer_cancel(g_patience);
    // Input that waited meanwhile raises the interrupt again, on the boot CPU, which reads it.
    g_uart->set_rx_irq(g_uart->ctx, true);
}

// The consumer has refused g_held for INPUT_PATIENCE_MS. Boot CPU, timer IRQ path, no lock held.
void patience_expired(void*) {
    SpinlockGuard guard(g_in_lock);
    if (!g_holding) return; // console_input_ready() was quicker
    // A refusal now comes from a consumer that has just changed (a new focus): wait anew.
    if (!g_input(g_held, true, console_input_ready)) {
        arm_patience();
        return;
    }
    resume_reading();
}
} // namespace

void console_set_input_handler(ConsoleInputHandler h) {
    {
        SpinlockGuard guard(g_in_lock);
        g_input = h;
        g_patience.callback = patience_expired;
        g_uart = console_uart();
        if (!g_uart || g_holding) return; // holding: the new handler gets the character first
        g_uart->set_rx_irq(g_uart->ctx, true);
    }
    // Whatever was typed before now has already raised (and maybe had cleared) its interrupt:
    // read it, so the UART can take and signal the next character.
    console_handle_rx();
}

void console_handle_rx() {
    SpinlockGuard guard(g_in_lock);
    // Holding: the interrupt was already on its way when it was masked; the UART waits.
    if (!g_uart || g_holding) return;
    char c;
    while (g_uart->getc(g_uart->ctx, &c)) {
        if (g_input && !g_input(c, false, console_input_ready)) {
            stop_reading(c);
            return;
        }
    }
}

void console_input_ready() {
    SpinlockGuard guard(g_in_lock);
    if (!g_holding) return;
    // Refused again: the focus moved to a VM whose FIFO is full too. Still holding.
    if (!g_input(g_held, false, console_input_ready)) return;
    resume_reading();
}
