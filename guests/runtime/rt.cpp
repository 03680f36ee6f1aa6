// cxvisor test-guest runtime, the part every ISA shares: console, formatting, the test protocol.
// The ISA's part (UART, calls, power, exceptions) is <isa>/arch.cpp.
#include "rt.hpp"
#include "rt_detail.hpp"

#include <stdarg.h>

using namespace cxv_abi;

// The compiler may emit calls to these even in freestanding code.
extern "C" void* memset(void* d, int c, size_t n) {
    auto* p = static_cast<volatile unsigned char*>(d);
    for (size_t i = 0; i < n; ++i) p[i] = static_cast<unsigned char>(c);
    return d;
}
extern "C" void* memcpy(void* d, const void* s, size_t n) {
    auto* dp = static_cast<volatile unsigned char*>(d);
    auto* sp = static_cast<const unsigned char*>(s);
    for (size_t i = 0; i < n; ++i) dp[i] = sp[i];
    return d;
}

namespace rt {
namespace detail {
void (*volatile g_entry[MAX_CPUS])(unsigned);
} // namespace detail
using detail::uart_putc;

namespace {

// One console lock for all vCPUs. The owner may take it again (an exception while printing), so
// a fatal report from inside printf cannot deadlock.
Spinlock g_console_lock;
volatile int g_console_owner = -1;
int g_console_depth = 0;

void console_lock() {
    int me = static_cast<int>(cpu_index());
    if (g_console_owner == me) {
        ++g_console_depth;
        return;
    }
    g_console_lock.lock();
    g_console_owner = me;
    g_console_depth = 1;
}
void console_unlock() {
    if (--g_console_depth == 0) {
        g_console_owner = -1;
        g_console_lock.unlock();
    }
}

// ---- formatting: %d %i %u %x %X %p %s %c %%, flags '0' '-', width, length l ll z ----
struct Sink {
    char* buf; // nullptr: straight to the UART
    size_t cap, len;
    void put(char c) {
        if (!buf) {
            uart_putc(c);
        } else if (len + 1 < cap) {
            buf[len++] = c;
            buf[len] = 0;
        }
    }
};

void emit_number(Sink& s, uint64_t v, unsigned base, bool upper, bool neg, int width, bool zero,
                 bool left) {
    char tmp[24];
    int n = 0;
    const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    do {
        tmp[n++] = digits[v % base];
        v /= base;
    } while (v);
    int len = n + (neg ? 1 : 0);
    if (!left && !zero)
        for (; len < width; ++len) s.put(' ');
    if (neg) s.put('-');
    if (!left && zero)
        for (; len < width; ++len) s.put('0');
    while (n) s.put(tmp[--n]);
    if (left)
        for (; len < width; ++len) s.put(' ');
}

void vformat(Sink& s, const char* f, va_list ap) {
    for (; *f; ++f) {
        if (*f != '%') {
            s.put(*f);
            continue;
        }
        ++f;
        bool zero = false, left = false;
        for (;; ++f) {
            if (*f == '0') zero = true;
            else if (*f == '-') left = true;
            else break;
        }
        int width = 0;
        while (*f >= '0' && *f <= '9') width = width * 10 + (*f++ - '0');
        int lng = 0;
        while (*f == 'l' || *f == 'z') {
            ++lng;
            ++f;
        }
        switch (*f) {
        case 'd':
        case 'i': {
            int64_t v = lng ? va_arg(ap, int64_t) : va_arg(ap, int);
            bool neg = v < 0;
            emit_number(s, neg ? 0 - static_cast<uint64_t>(v) : static_cast<uint64_t>(v), 10, false,
                        neg, width, zero, left);
            break;
        }
        case 'u':
        case 'x':
        case 'X': {
            uint64_t v = lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned);
            emit_number(s, v, *f == 'u' ? 10 : 16, *f == 'X', false, width, zero, left);
            break;
        }
        case 'p':
            s.put('0');
            s.put('x');
            emit_number(s, reinterpret_cast<uint64_t>(va_arg(ap, void*)), 16, false, false, width,
                        zero, left);
            break;
        case 's': {
            const char* str = va_arg(ap, const char*);
            if (!str) str = "(null)";
            int n = 0;
            while (str[n]) ++n;
            if (!left)
                for (int i = n; i < width; ++i) s.put(' ');
            for (int i = 0; i < n; ++i) s.put(str[i]);
            if (left)
                for (int i = n; i < width; ++i) s.put(' ');
            break;
        }
        case 'c':
            s.put(static_cast<char>(va_arg(ap, int)));
            break;
        case '%':
            s.put('%');
            break;
        case 0:
            return;
        default:
            s.put('%');
            s.put(*f);
        }
    }
}

// ---- test protocol state ----
const char* g_test = "?";
unsigned g_failures;
char g_first_failure[160];
uint64_t g_dtb;
uint64_t g_boot_counter;

} // namespace

// ---------------------------------------------------------------- console
void putc(char c) {
    console_lock();
    uart_putc(c);
    console_unlock();
}
void puts(const char* s) {
    console_lock();
    while (*s) uart_putc(*s++);
    console_unlock();
}
void printf(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    Sink s{nullptr, 0, 0};
    console_lock();
    vformat(s, fmt, ap);
    console_unlock();
    va_end(ap);
}
void format(char* buf, size_t size, const char* fmt, ...) {
    if (size == 0) return;
    va_list ap;
    va_start(ap, fmt);
    Sink s{buf, size, 0};
    buf[0] = 0;
    vformat(s, fmt, ap);
    va_end(ap);
}
int try_getc() { return detail::uart_try_getc(); }
int getc() {
    int c;
    while ((c = try_getc()) < 0) {
    }
    return c;
}

void delay_us(uint64_t us) {
    uint64_t end = counter() + us * counter_freq() / 1000000;
    while (counter() < end) {
    }
}

// ---------------------------------------------------------------- cxvisor's calls
VmInfo vm_info() {
    if (hypercalls_available()) {
        HcResult r = hypercall(HC_NR_VM_INFO);
        if (r.x0 == CXV_OK) return {true, r.x1, r.x2, r.x3};
    }
    return {false, 0, cpu_index(), 0};
}

// ---------------------------------------------------------------- test protocol
void test_start(const char* name) {
    g_test = name;
    printf("TEST %s START\n", name);
}
void test_start_quiet(const char* name) { g_test = name; }
const char* test_name() { return g_test; }
uint64_t boot_dtb() { return g_dtb; }
uint64_t boot_counter() { return g_boot_counter; }
// A big-endian word, byte by byte: __builtin_bswap32 is a libgcc call on riscv64 without Zbb, and
// the runtime links no libgcc.
static uint32_t read_be32(uint64_t a) {
    return uint32_t(read8(a)) << 24 | uint32_t(read8(a + 1)) << 16 | uint32_t(read8(a + 2)) << 8 | read8(a + 3);
}
Range dtb_range() {
    const uint64_t a = g_dtb;
    if (a < RAM_BASE || a + 8 > RAM_BASE + RAM_SIZE || read_be32(a) != 0xd00dfeed) return {0, 0};
    const uint64_t size = read_be32(a + 4); // FDT header: magic, totalsize (BE)
    return {a & ~4095ull, (a + size + 4095) & ~4095ull};
}
unsigned failures() { return g_failures; }

bool check(bool ok, const char* fmt, ...) {
    va_list ap;
    char text[160];
    Sink s{text, sizeof text, 0};
    text[0] = 0;
    va_start(ap, fmt);
    vformat(s, fmt, ap);
    va_end(ap);
    printf("check %-56s %s\n", text, ok ? "ok" : "FAILED");
    if (!ok && g_failures++ == 0) {
        Sink f{g_first_failure, sizeof g_first_failure, 0};
        for (const char* p = text; *p; ++p) f.put(*p);
    }
    return ok;
}

// The FAIL line is for people and the harness; HC_TEST_RESULT tells cxvisor, so that a scripted
// run (exit_when_done) ends with exit status 2. Not under cxvisor (bare QEMU), the line is all.
void report_failure() {
    if (hypercalls_available()) hypercall(HC_NR_TEST_RESULT, 1);
}

void finish() {
    if (g_failures == 0) {
        printf("TEST %s PASS\n", g_test);
    } else {
        printf("TEST %s FAIL: %s (%u checks failed)\n", g_test, g_first_failure, g_failures);
        report_failure();
    }
    system_off();
}

void fail(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    Sink s{nullptr, 0, 0};
    console_lock();
    printf("TEST %s FAIL: ", g_test);
    vformat(s, fmt, ap);
    uart_putc('\n');
    console_unlock();
    va_end(ap);
    report_failure();
    system_off();
}

} // namespace rt

// ---------------------------------------------------------------- entry from start.S
extern "C" [[noreturn]] void rt_boot_main(uint64_t dtb) {
    rt::g_boot_counter = rt::counter(); // first, before anything else takes time
    rt::g_dtb = dtb;
    using Ctor = void (*)();
    extern Ctor __init_array_start[], __init_array_end[];
    for (Ctor* c = __init_array_start; c != __init_array_end; ++c) (*c)();
    guest_main();
    rt::finish();
}

extern "C" [[noreturn]] void rt_secondary_main(unsigned cpu) {
    auto fn = __atomic_load_n(&rt::detail::g_entry[cpu], __ATOMIC_ACQUIRE);
    if (fn) fn(cpu);
    rt::cpu_off();
}
