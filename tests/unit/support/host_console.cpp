#include "host_console.hpp"
#include "base/format.hpp"
#include "kernel/log.hpp"
#include <cstdarg>
#include <cstdio>
#include <cstdlib>

std::string& captured_console() {
    static std::string s;
    return s;
}
void clear_captured_console() { captured_console().clear(); }
// (g_open_line is reset by the next console_write after a clear: tests start on a fresh line.)

namespace {
const void* g_open_line = nullptr; // as in kernel/console.cpp
}

void console_write(const char* s, usize n) {
    if (g_open_line) captured_console() += '\n', g_open_line = nullptr;
    captured_console().append(s, n);
}

void console_write_piece(const void* owner, const char* head, usize head_len, const char* s, usize n) {
    if (!s) {
        if (g_open_line == owner) captured_console() += '\n', g_open_line = nullptr;
        return;
    }
    if (g_open_line != owner) {
        if (g_open_line) captured_console() += '\n';
        captured_console().append(head, head_len);
        g_open_line = owner;
    }
    captured_console().append(s, n);
    if (n && s[n - 1] == '\n') g_open_line = nullptr;
}

void panic(const char* fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vformat(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fprintf(stderr, "panic: %s\n", buf);
    abort();
}
