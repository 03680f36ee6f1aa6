// Formatted console output and the log ring, shared by the image and the host tests (each
// provides console_write).
#include "kernel/log.hpp"
#include "base/format.hpp"
#include "base/string.hpp"
#include "kernel/spinlock.hpp"
#include <atomic>
#include <stdarg.h>

namespace {

std::atomic<u64 (*)()> g_clock{nullptr};

// Line i of the log lives in slot i % LOG_RING_LINES; g_next is the number of the next line.
// Lines carry their number so that a walk that copies one line at a time (log_recent) can tell a
// slot that was overwritten meanwhile.
struct RingLine {
    u64 seq;
    usize len;
    char text[LOG_LINE_MAX];
};
Spinlock g_ring_lock;
RingLine g_ring[LOG_RING_LINES];
u64 g_next;

void remember(const char* s, usize n) {
    if (n >= LOG_LINE_MAX) n = LOG_LINE_MAX - 1;
    SpinlockGuard guard(g_ring_lock);
    RingLine& l = g_ring[g_next % LOG_RING_LINES];
    memcpy(l.text, s, n);
    l.text[n] = 0;
    l.len = n;
    l.seq = g_next++;
}

} // namespace

void log_set_clock(u64 (*now_us)()) { g_clock.store(now_us); }

void kprint(const char* fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    usize n = vformat(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n >= sizeof buf) n = sizeof buf - 1;
    u64 (*clock)() = g_clock.load();
    // Each line's timestamp is added in front of it; the whole text goes out in one console_write
    // so that other CPUs' output never splits it.
    constexpr usize STAMP = 16; // "[%5lu.%06lu] ": wider only after 27 hours
    char out[sizeof buf + 8 * (STAMP + 2)];
    usize o = 0;
    char stamp[32] = "";
    usize stamp_len = 0;
    if (clock) {
        u64 us = clock();
        stamp_len = format(stamp, sizeof stamp, "[%5lu.%06lu] ", us / 1000000, us % 1000000);
    }
    for (usize i = 0; i < n;) {
        usize end = i;
        while (end < n && buf[end] != '\n') ++end;
        if (end > i) {
            remember(buf + i, end - i);
            if (stamp_len && o + stamp_len < sizeof out) {
                memcpy(out + o, stamp, stamp_len);
                o += stamp_len;
            }
        }
        usize len = end - i + (end < n); // the line and its newline
        if (o + len > sizeof out) len = sizeof out - o;
        memcpy(out + o, buf + i, len);
        o += len;
        i = end + 1;
    }
    console_write(out, o);
}

void log_recent(void (*fn)(void* ctx, const char* line, usize len), void* ctx) {
    u64 first, last;
    {
        SpinlockGuard guard(g_ring_lock);
        last = g_next;
        first = last > LOG_RING_LINES ? last - LOG_RING_LINES : 0;
    }
    for (u64 seq = first; seq < last; ++seq) {
        char line[LOG_LINE_MAX];
        usize len;
        {
            SpinlockGuard guard(g_ring_lock);
            const RingLine& l = g_ring[seq % LOG_RING_LINES];
            if (l.seq != seq) continue; // overwritten by newer lines since the walk began
            len = l.len;
            memcpy(line, l.text, len + 1);
        }
        fn(ctx, line, len);
    }
}
