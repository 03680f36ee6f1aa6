// cxvisor test-guest runtime, the aarch64 part: the PL011 console, SMCCC calls (cxvisor's and
// PSCI through HVC #0) and the EL1 exception handler.
#include "rt.hpp"
#include "rt_detail.hpp"

using namespace cxv_abi;

namespace rt {
namespace {

// ---- PL011 ----
constexpr uint64_t UART_DR = UART_BASE + 0x000;
constexpr uint64_t UART_FR = UART_BASE + 0x018;
constexpr uint32_t FR_RXFE = 1u << 4;
constexpr uint32_t FR_TXFF = 1u << 5;

void uart_putc_pl011(char c) {
    while (read32(UART_FR) & FR_TXFF) {
    }
    write32(UART_DR, static_cast<uint8_t>(c));
}

// ---- per-CPU exception state ----
struct PerCpu {
    volatile bool armed;
    ExcRecord last;
};
PerCpu g_cpu[MAX_CPUS];

int g_hc_state = -1; // -1 unknown, 0 no, 1 yes

} // namespace

namespace detail {
void uart_putc(char c) { rt::uart_putc_pl011(c); }
int uart_try_getc() {
    if (read32(UART_FR) & FR_RXFE) return -1;
    return static_cast<int>(read32(UART_DR) & 0xff);
}
[[noreturn]] void park() {
    for (;;) asm volatile("wfe");
}
} // namespace detail
using detail::park;

// ---------------------------------------------------------------- hypercalls and PSCI
HcResult hypercall(uint64_t nr, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5, uint64_t a6) {
    return hvc_call(HC_BASE + nr, a1, a2, a3, a4, a5, a6);
}

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

int64_t psci_version() { return hvc_call(PSCI_VERSION).x0; }
int64_t psci_features(uint32_t fid) { return hvc_call(PSCI_FEATURES, fid).x0; }
int64_t affinity_info(unsigned cpu) { return hvc_call(PSCI_AFFINITY_INFO_64, cpu, 0).x0; }
int64_t cpu_state(unsigned cpu) { return affinity_info(cpu); }
int64_t cpu_on_raw(uint64_t mpidr, uint64_t entry, uint64_t ctx) {
    return hvc_call(PSCI_CPU_ON_64, mpidr, entry, ctx).x0;
}

extern "C" char rt_secondary_entry[];

int64_t start_cpu(unsigned cpu, void (*fn)(unsigned)) {
    if (cpu >= MAX_CPUS) return PSCI_INVALID_PARAMETERS;
    // The new vCPU reads g_entry only after its MMU is on, i.e. coherently.
    __atomic_store_n(&detail::g_entry[cpu], fn, __ATOMIC_RELEASE);
    return cpu_on_raw(cpu, reinterpret_cast<uint64_t>(rt_secondary_entry), cpu);
}

void cpu_off() {
    int64_t r = hvc_call(PSCI_CPU_OFF).x0;
    printf("vcpu %u: PSCI CPU_OFF returned %ld\n", cpu_index(), r);
    park();
}
void system_off_call() { hvc_call(PSCI_SYSTEM_OFF); }
void system_off() {
    system_off_call();
    printf("runtime: PSCI SYSTEM_OFF returned; parking\n");
    park();
}
void system_reset_call() { hvc_call(PSCI_SYSTEM_RESET); }
void system_reset() {
    system_reset_call();
    printf("runtime: PSCI SYSTEM_RESET returned; parking\n");
    park();
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

} // namespace rt
