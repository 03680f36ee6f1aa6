// cxvisor test-guest runtime: console, formatting, exceptions, PSCI, the test protocol.
#include "rt.hpp"

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
namespace {

// ---- PL011 ----
constexpr uint64_t UART_DR = UART_BASE + 0x000;
constexpr uint64_t UART_FR = UART_BASE + 0x018;
constexpr uint32_t FR_RXFE = 1u << 4;
constexpr uint32_t FR_TXFF = 1u << 5;

void uart_putc(char c) {
    while (read32(UART_FR) & FR_TXFF) {
    }
    write32(UART_DR, static_cast<uint8_t>(c));
}

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

// ---- per-CPU exception state ----
struct PerCpu {
    volatile bool armed;
    ExcRecord last;
};
PerCpu g_cpu[MAX_CPUS];

// ---- test protocol state ----
const char* g_test = "?";
unsigned g_failures;
char g_first_failure[160];
uint64_t g_dtb;
uint64_t g_boot_counter;
int g_hc_state = -1; // -1 unknown, 0 no, 1 yes

void (*volatile g_entry[MAX_CPUS])(unsigned);

[[noreturn]] void park() {
    for (;;) asm volatile("wfe");
}

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
int try_getc() {
    if (read32(UART_FR) & FR_RXFE) return -1;
    return static_cast<int>(read32(UART_DR) & 0xff);
}
int getc() {
    int c;
    while ((c = try_getc()) < 0) {
    }
    return c;
}

// ---------------------------------------------------------------- hypercalls and PSCI
bool hypercalls_available() {
    if (g_hc_state < 0) {
        expect_fault();
        uint64_t before = last_exception().count;
        HvcResult r = hvc_call(HC_VERSION);
        disarm_fault();
        bool undef = last_exception().count != before;
        g_hc_state = (!undef && r.x0 >= 0) ? 1 : 0;
        if (!g_hc_state)
            printf("note: cxvisor hypercalls unavailable (%s): not running under cxvisor?\n",
                   undef ? "HVC raised an exception" : "HC_VERSION returned an error");
    }
    return g_hc_state == 1;
}

VmInfo vm_info() {
    if (hypercalls_available()) {
        HvcResult r = hvc_call(HC_VM_INFO);
        if (r.x0 == CXV_OK) return {true, r.x1, r.x2, r.x3};
    }
    return {false, 0, cpu_index(), 0};
}

int64_t psci_version() { return hvc_call(PSCI_VERSION).x0; }
int64_t psci_features(uint32_t fid) { return hvc_call(PSCI_FEATURES, fid).x0; }
int64_t affinity_info(unsigned cpu) { return hvc_call(PSCI_AFFINITY_INFO_64, cpu, 0).x0; }
int64_t cpu_on_raw(uint64_t mpidr, uint64_t entry, uint64_t ctx) {
    return hvc_call(PSCI_CPU_ON_64, mpidr, entry, ctx).x0;
}

extern "C" char rt_secondary_entry[];

int64_t start_cpu(unsigned cpu, void (*fn)(unsigned)) {
    if (cpu >= MAX_CPUS) return PSCI_INVALID_PARAMETERS;
    // The new vCPU reads g_entry only after its MMU is on, i.e. coherently.
    __atomic_store_n(&g_entry[cpu], fn, __ATOMIC_RELEASE);
    return cpu_on_raw(cpu, reinterpret_cast<uint64_t>(rt_secondary_entry), cpu);
}

void cpu_off() {
    int64_t r = hvc_call(PSCI_CPU_OFF).x0;
    printf("vcpu %u: PSCI CPU_OFF returned %ld\n", cpu_index(), r);
    park();
}
void system_off() {
    hvc_call(PSCI_SYSTEM_OFF);
    printf("runtime: PSCI SYSTEM_OFF returned; parking\n");
    park();
}
void system_reset() {
    hvc_call(PSCI_SYSTEM_RESET);
    printf("runtime: PSCI SYSTEM_RESET returned; parking\n");
    park();
}

void delay_us(uint64_t us) {
    uint64_t end = counter() + us * counter_freq() / 1000000;
    while (counter() < end) {
    }
}

// ---------------------------------------------------------------- exceptions
void expect_fault() {
    g_cpu[cpu_index()].armed = true;
    asm volatile("" ::: "memory");
}
void disarm_fault() {
    asm volatile("" ::: "memory");
    g_cpu[cpu_index()].armed = false;
}
const ExcRecord& last_exception() { return g_cpu[cpu_index()].last; }

Probe probe_read(uint64_t addr, unsigned size) {
    uint64_t before = last_exception().count;
    uint64_t v = 0;
    expect_fault();
    switch (size) {
    case 1: asm volatile("ldrb %w0, [%1]" : "+r"(v) : "r"(addr) : "memory"); break;
    case 2: asm volatile("ldrh %w0, [%1]" : "+r"(v) : "r"(addr) : "memory"); break;
    case 4: asm volatile("ldr %w0, [%1]" : "+r"(v) : "r"(addr) : "memory"); break;
    default: asm volatile("ldr %0, [%1]" : "+r"(v) : "r"(addr) : "memory"); break;
    }
    disarm_fault();
    const ExcRecord& e = last_exception();
    bool taken = e.count != before;
    return {taken, taken ? e.esr : 0, taken ? e.far : 0, v};
}

Probe probe_write(uint64_t addr, unsigned size, uint64_t v) {
    uint64_t before = last_exception().count;
    expect_fault();
    switch (size) {
    case 1: asm volatile("strb %w0, [%1]" ::"r"(v), "r"(addr) : "memory"); break;
    case 2: asm volatile("strh %w0, [%1]" ::"r"(v), "r"(addr) : "memory"); break;
    case 4: asm volatile("str %w0, [%1]" ::"r"(v), "r"(addr) : "memory"); break;
    default: asm volatile("str %0, [%1]" ::"r"(v), "r"(addr) : "memory"); break;
    }
    disarm_fault();
    const ExcRecord& e = last_exception();
    bool taken = e.count != before;
    return {taken, taken ? e.esr : 0, taken ? e.far : 0, v};
}

bool is_external_abort(const Probe& p, uint64_t addr, bool write) {
    if (!p.taken || esr_ec(p.esr) != EC_DABT_CUR || esr_dfsc(p.esr) != DFSC_SEA) return false;
    bool fnv = (p.esr >> 10) & 1; // FAR not valid
    bool wnr = (p.esr >> 6) & 1;
    return (fnv || p.far == addr) && wnr == write;
}

void check_read_aborts(uint64_t addr, const char* what) {
    Probe p = probe_read(addr, 4);
    check(is_external_abort(p, addr, false), "read %lx (%s) -> external abort (%s, ESR %lx)", addr, what,
          p.taken ? "exception" : "no exception", p.esr);
}

struct ExcFrame {
    uint64_t x[31];
    uint64_t elr, spsr;
};

extern "C" void rt_exception(ExcFrame* f, uint64_t kind) {
    uint64_t esr, far;
    asm volatile("mrs %0, esr_el1" : "=r"(esr));
    asm volatile("mrs %0, far_el1" : "=r"(far));
    PerCpu& c = g_cpu[cpu_index()];
    c.last.esr = esr;
    c.last.far = far;
    c.last.elr = f->elr;
    c.last.count = c.last.count + 1;
    bool sync = (kind & 3) == 0;
    if (sync && c.armed) {
        c.armed = false;
        f->elr += 4; // skip the faulting instruction (all A64 instructions are 4 bytes)
        return;
    }
    static const char* const kinds[] = {"sync", "irq", "fiq", "serror"};
    printf("vcpu %u: unexpected %s exception (vector slot %lu): ESR=%lx (EC %x) ELR=%lx FAR=%lx\n",
           cpu_index(), kinds[kind & 3], kind, esr, esr_ec(esr), f->elr, far);
    fail("unexpected exception ESR=%lx ELR=%lx FAR=%lx", esr, f->elr, far);
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
Range dtb_range() {
    const uint64_t a = g_dtb;
    if (a < RAM_BASE || a + 8 > RAM_BASE + RAM_SIZE || __builtin_bswap32(read32(a)) != 0xd00dfeed)
        return {0, 0};
    const uint64_t size = __builtin_bswap32(read32(a + 4)); // FDT header: magic, totalsize (BE)
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
    if (hypercalls_available()) hvc_call(HC_TEST_RESULT, 1);
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
    auto fn = __atomic_load_n(&rt::g_entry[cpu], __ATOMIC_ACQUIRE);
    if (fn) fn(cpu);
    rt::cpu_off();
}
