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

void console_write(const char* s, usize n) { captured_console().append(s, n); }

void panic(const char* fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vformat(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fprintf(stderr, "panic: %s\n", buf);
    abort();
}
