#include "devices/console_line.hpp"
#include "arch.hpp"
#include "base/string.hpp"
#include "kernel/log.hpp"

namespace {
void console_sink_write(void*, const char* s, usize n) { console_write(s, n); }
void console_sink_piece(void*, const void* owner, const char* head, usize head_len, const char* s, usize n) {
    console_write_piece(owner, head, head_len, s, n);
}
} // namespace

ConsoleSink console_sink() { return {console_sink_write, nullptr, console_sink_piece}; }

ConsoleLine::ConsoleLine(const char* vm_name, ConsoleSink sink) : m_sink(sink) {
    usize n = strlen(vm_name);
    if (n > VmNameMax) n = VmNameMax;
    m_prefix[0] = '[';
    memcpy(m_prefix + 1, vm_name, n);
    memcpy(m_prefix + 1 + n, "] ", 3);
    m_prefix_len = n + 3;
    m_idle.callback = idle_expired;
    m_idle.ctx = this;
}

ConsoleLine::~ConsoleLine() { timer_cancel(m_idle); }

void ConsoleLine::put(char c) {
    SpinlockGuard guard(m_lock);
    put_locked(c);
}

void ConsoleLine::put(const char* s, usize n) {
    SpinlockGuard guard(m_lock);
    for (usize i = 0; i < n; ++i) put_locked(s[i]);
}

void ConsoleLine::put_locked(char c) {
    if (c == '\r') return; // "\r\n" from the guest ends a line once, at the '\n'
    if (m_open) {          // the line is on the console already: the rest follows as it comes
        show(&c, 1);
        if (c != '\n') m_line[m_line_len++] = c; // kept: the head of the line's next pieces
        if (c == '\n' || m_line_len == LineMax) {
            if (c != '\n') show("\n", 1); // longer lines are broken here, as emit_line does
            m_line_len = 0;
            m_open = false;
        }
        return;
    }
    if (c == '\n') return emit_line();
    m_line[m_line_len++] = c;
    if (m_line_len == LineMax) emit_line();
    else if (m_live && m_sink.piece && !m_idle.queue)
        timer_arm(m_idle, arch::counter() + LiveIdleMs * timer_ticks_per_ms());
}

void ConsoleLine::emit_line() {
    // One sink call per line: console_write never interleaves calls, so neither do VMs' lines.
    char out[sizeof m_prefix + LineMax + 1];
    memcpy(out, m_prefix, m_prefix_len);
    memcpy(out + m_prefix_len, m_line, m_line_len);
    out[m_prefix_len + m_line_len] = '\n';
    m_sink.write(m_sink.ctx, out, m_prefix_len + m_line_len + 1);
    m_line_len = 0;
}

void ConsoleLine::show(const char* s, usize n) {
    // The head is the line as shown so far, under its prefix: if other output has ended the shown
    // part since (console_write_piece), the console writes it again before the piece, so the line
    // still reads whole, as the shell's line editor redraws its line.
    char head[sizeof m_prefix + LineMax];
    memcpy(head, m_prefix, m_prefix_len);
    memcpy(head + m_prefix_len, m_line, m_line_len);
    m_sink.piece(m_sink.ctx, this, head, m_prefix_len + m_line_len, s, n);
}

void ConsoleLine::idle_expired(void* ctx) {
    ConsoleLine& l = *static_cast<ConsoleLine*>(ctx);
    SpinlockGuard guard(l.m_lock);
    if (!l.m_live || !l.m_line_len || l.m_open) return;
    // Shown from its start: the piece is the line so far, under the bare prefix.
    l.m_sink.piece(l.m_sink.ctx, &l, l.m_prefix, l.m_prefix_len, l.m_line, l.m_line_len);
    l.m_open = true;
}

void ConsoleLine::set_live(bool live) {
    SpinlockGuard guard(m_lock);
    if (!live && m_open) {
        // End the shown part on the console; the line stays here and comes out whole (with what
        // was shown) when it ends.
        m_sink.piece(m_sink.ctx, this, m_prefix, m_prefix_len, nullptr, 0);
        m_open = false;
    }
    m_live = live;
}

void ConsoleLine::flush() {
    SpinlockGuard guard(m_lock);
    if (m_open) show("\n", 1);
    else if (m_line_len) emit_line();
    m_line_len = 0;
    m_open = false;
}
