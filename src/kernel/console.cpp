#include "kernel/console.hpp"
#include "base/format.hpp"
#include "kernel/log.hpp"
#include "kernel/percpu.hpp"
#include "kernel/spinlock.hpp"
#include <stdarg.h>

namespace {
ConsoleUart g_uart;
bool g_ready;
Spinlock g_out_lock;
ConsoleInputHandler g_input;
std::atomic<bool> g_panicking{false};
} // namespace

void console_init(const ConsoleUart& uart) {
    g_uart = uart;
    g_ready = true;
}

void console_set_input_handler(ConsoleInputHandler h) {
    g_input = h;
    if (g_ready && g_uart.enable_rx_irq) g_uart.enable_rx_irq(g_uart.ctx);
}

void console_handle_rx() {
    char c;
    while (g_ready && g_uart.getc(g_uart.ctx, &c))
        if (g_input) g_input(c);
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
