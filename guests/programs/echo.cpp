// echo: console input. Collects characters into a line (ended by CR or LF) and prints it back;
// the line "quit" ends the test. Empty lines (e.g. the LF of a CR LF pair) are ignored.
#include "rt.hpp"

namespace {
bool equals(const char* a, const char* b) {
    while (*a && *a == *b) ++a, ++b;
    return *a == *b;
}
} // namespace

void guest_main() {
    rt::test_start("echo");
    rt::printf("echo ready\n");
    char line[128];
    unsigned len = 0;
    for (;;) {
        int c = rt::getc();
        if (c != '\r' && c != '\n') {
            if (len + 1 < sizeof line && c >= 0x20 && c < 0x7f) line[len++] = char(c);
            continue;
        }
        if (len == 0) continue;
        line[len] = 0;
        len = 0;
        rt::printf("echo: %s\n", line);
        if (equals(line, "quit")) return;
    }
}
