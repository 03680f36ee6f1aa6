#include "kernel/console.hpp"
#include "arch.hpp"
#include "base/format.hpp"
#include "kernel/log.hpp"
#include "kernel/percpu.hpp"
#include "kernel/spinlock.hpp"
#include "kernel/timer.hpp"
#include <stdarg.h>

namespace {
ConsoleUart g_uart;
bool g_ready;
Spinlock g_out_lock;
std::atomic<bool> g_panicking{false};

// Input. g_in_lock orders everything below, and is held around every call of the handler, so a
// refusal and the consumer's console_input_ready() cannot cross: the consumer registers its
// wake-up under its own lock inside the handler, and a wake-up that follows waits here until the
// console has recorded that it holds a character.
Spinlock g_in_lock;
ConsoleInputHandler g_input;
bool g_holding;  // g_held was refused: the UART is not read and its RX interrupt is masked
char g_held;
TimerEvent g_patience;

void arm_patience() { timer_arm(g_patience, arch::counter() + INPUT_PATIENCE_MS * timer_ticks_per_ms()); }

void stop_reading(char c) { // caller holds g_in_lock
    g_holding = true;
    g_held = c;
    g_uart.set_rx_irq(g_uart.ctx, false);
    arm_patience();
}

void resume_reading() { // caller holds g_in_lock
    g_holding = false;
    timer_cancel(g_patience);
    // Input that waited meanwhile raises the interrupt again, on the boot CPU, which reads it.
    g_uart.set_rx_irq(g_uart.ctx, true);
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

void console_init(const ConsoleUart& uart) {
    g_uart = uart;
    g_ready = true;
}

void console_set_input_handler(ConsoleInputHandler h) {
    {
        SpinlockGuard guard(g_in_lock);
        g_input = h;
        g_patience.callback = patience_expired;
        if (!g_ready || !g_uart.set_rx_irq) return;
        g_uart.set_rx_irq(g_uart.ctx, true);
    }
    // Whatever was typed before now has already raised (and maybe had cleared) its interrupt:
    // read it, so the UART can take and signal the next character.
    console_handle_rx();
}

void console_handle_rx() {
    SpinlockGuard guard(g_in_lock);
    // Holding: the interrupt was already on its way when it was masked; the UART waits.
    if (!g_ready || g_holding) return;
    char c;
    while (g_uart.getc(g_uart.ctx, &c)) {
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

void console_write(const char* s, usize n) {
    if (!g_ready) return;
    // A panicking CPU must get its message out even if another CPU died holding the lock.
    bool locked = g_out_lock.try_lock();
    if (!locked && !g_panicking.load()) {
        g_out_lock.lock();
        locked = true;
    }
    for (usize i = 0; i < n; ++i) {
        if (s[i] == '\n') g_uart.putc(g_uart.ctx, '\r');
        g_uart.putc(g_uart.ctx, s[i]);
    }
    if (locked) g_out_lock.unlock();
}

void panic(const char* fmt, ...) {
    g_panicking.store(true);
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vformat(buf, sizeof buf, fmt, ap);
    va_end(ap);
    kprint("\ncxvisor PANIC on cpu %lu: %s\n", arch::percpu_pointer() ? u64(cpu_id()) : u64(0), buf);
    for (;;) arch::wfe();
}
