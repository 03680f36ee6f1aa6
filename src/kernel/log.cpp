// Formatted console output, shared by the image and the host tests (each provides console_write).
#include "kernel/log.hpp"
#include "base/format.hpp"
#include <stdarg.h>

void kprint(const char* fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    usize n = vformat(buf, sizeof buf, fmt, ap);
    va_end(ap);
    console_write(buf, n < sizeof buf ? n : sizeof buf - 1);
}
