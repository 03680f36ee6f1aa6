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
std::atomic<bool> g_panicking{false};
} // namespace

void console_init(const ConsoleUart& uart) {
    g_uart = uart;
    g_ready = true;
}

const ConsoleUart* console_uart() { return g_ready ? &g_uart : nullptr; }

namespace {
const void* g_open_line = nullptr; // owner of the line shown without its newline (g_out_lock)

void put_raw(const char* s, usize n) {
    for (usize i = 0; i < n; ++i) {
        if (s[i] == '\n') g_uart.putc(g_uart.ctx, '\r');
        g_uart.putc(g_uart.ctx, s[i]);
    }
}

// Runs `f` under the output lock. A panicking CPU must get its message out even if another CPU
// died holding the lock.
template <typename F>
void with_output(F f) {
    if (!g_ready) return;
    bool locked = g_out_lock.try_lock();
    if (!locked && !g_panicking.load()) {
        g_out_lock.lock();
        locked = true;
    }
    f();
    if (locked) g_out_lock.unlock();
}
} // namespace

void console_write(const char* s, usize n) {
    with_output([&] {
        if (g_open_line) {
            put_raw("\n", 1);
            g_open_line = nullptr;
        }
        put_raw(s, n);
    });
}

void console_write_piece(const void* owner, const char* head, usize head_len, const char* s, usize n) {
    with_output([&] {
        if (!s) {
            if (g_open_line == owner) put_raw("\n", 1), g_open_line = nullptr;
            return;
        }
        if (g_open_line != owner) {
            if (g_open_line) put_raw("\n", 1);
            put_raw(head, head_len);
            g_open_line = owner;
        }
        put_raw(s, n);
        if (n && s[n - 1] == '\n') g_open_line = nullptr;
    });
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
