// cxvisor test-guest runtime, the x86_64 part: the 16550 console at port 0x3F8, cxvisor's calls
// through VMMCALL, power through the chipset's ports, and the exception handler.
#include "rt.hpp"
#include "rt_detail.hpp"

using namespace cxv_abi;

namespace rt {
namespace {

// ---- 16550 (PC16550D datasheet registers): THR/RBR at +0, LSR at +5 ----
constexpr uint16_t UART_THR = UART_PORT + 0, UART_RBR = UART_PORT + 0, UART_LSR = UART_PORT + 5;
constexpr uint8_t LSR_DR = 1u << 0;   // data ready
constexpr uint8_t LSR_THRE = 1u << 5; // transmit holding register empty

int g_hc_state = -1; // -1 unknown, 0 no, 1 yes
uint64_t g_tsc_hz;

// cxvisor's hypervisor leaves (docs/porting.md "x86_64: CPUID"): CPUID.1 ECX[31] says a
// hypervisor is there, 0x4000_0000 names it.
bool under_cxvisor() {
    if (!(cpuid(1).c & (1u << 31))) return false;
    const CpuidRegs h = cpuid(0x4000'0000);
    return h.b == 0x69767863 && h.c == 0x00726f73 && h.d == 0; // "cxvisor\0\0\0\0\0"
}

} // namespace

uint64_t counter_freq() {
    if (!g_tsc_hz) {
        const uint64_t khz = under_cxvisor() && cpuid(0x4000'0000).a >= 0x4000'0010 ? cpuid(0x4000'0010).a : 0;
        g_tsc_hz = khz ? khz * 1000 : 1'000'000'000; // unknown: assume 1 GHz rather than divide by 0
    }
    return g_tsc_hz;
}

namespace detail {
void uart_putc(char c) {
    while (!(inb(UART_LSR) & LSR_THRE)) {
    }
    outb(UART_THR, static_cast<uint8_t>(c));
}
int uart_try_getc() { return (inb(UART_LSR) & LSR_DR) ? inb(UART_RBR) : -1; }
[[noreturn]] void park() {
    for (;;) asm volatile("cli; hlt");
}
} // namespace detail

// ---------------------------------------------------------------- cxvisor's calls and power
HcResult hypercall(uint64_t nr, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5, uint64_t a6) {
    VmmcallResult r = vmmcall(nr, a1, a2, a3, a4, a5, a6);
    return {r.x0, r.x1, r.x2, r.x3};
}

// VMMCALL without a hypervisor that intercepts it raises #UD (APM vol. 3, "VMMCALL"): the
// CPUID signature is asked first.
bool hypercalls_available() {
    if (g_hc_state < 0) {
        const bool here = under_cxvisor();
        HcResult r = here ? hypercall(HC_NR_VERSION) : HcResult{CXV_NOT_SUPPORTED, 0, 0, 0};
        g_hc_state = here && r.x0 >= 0 ? 1 : 0;
        if (!g_hc_state)
            printf("note: cxvisor hypercalls unavailable (%s): not running under cxvisor?\n",
                   here ? "HC_VERSION returned an error" : "no \"cxvisor\" CPUID leaf 0x40000000");
    }
    return g_hc_state == 1;
}

unsigned vcpu_count() {
    if (!under_cxvisor() || cpuid(0x4000'0000).a < 0x4000'0001) return 1;
    const unsigned n = cpuid(0x4000'0001).b;
    return n ? n : 1;
}

uint64_t lapic::timer_hz() {
    return under_cxvisor() && cpuid(0x4000'0000).a >= 0x4000'0010 ? uint64_t(cpuid(0x4000'0010).b) * 1000 : 0;
}

// ---------------------------------------------------------------- SMP (arch.hpp)
namespace {
extern "C" const char rt_trampoline[], rt_trampoline_end[];
constexpr uint64_t TRAMPOLINE = 0x8000; // start.S RT_TRAMPOLINE: SIPI vector 0x08
enum : uint32_t { CPU_OFF_STATE = 0, CPU_STARTING = 1, CPU_ON_STATE = 2 };
uint32_t g_cpu[MAX_CPUS] = {CPU_ON_STATE}; // the boot vCPU runs
} // namespace

// INIT, then two start-up IPIs (Intel SDM vol. 3A 8.4.4.1 "Typical BSP Initialization Sequence",
// without its delays: the vLAPIC delivers each IPI before the ICR write completes).
int64_t start_cpu(unsigned cpu, void (*fn)(unsigned)) {
    if (cpu >= vcpu_count() || cpu >= MAX_CPUS) return CPU_START_INVALID;
    if (__atomic_load_n(&g_cpu[cpu], __ATOMIC_ACQUIRE) != CPU_OFF_STATE) return CPU_START_ALREADY;
    __atomic_store_n(&detail::g_entry[cpu], fn, __ATOMIC_RELEASE);
    __atomic_store_n(&g_cpu[cpu], uint32_t(CPU_STARTING), __ATOMIC_RELEASE);
    __builtin_memcpy(reinterpret_cast<void*>(TRAMPOLINE), rt_trampoline, size_t(rt_trampoline_end - rt_trampoline));
    asm volatile("mfence" ::: "memory");
    lapic::write(lapic::ICR_HI, cpu << 24);
    lapic::write(lapic::ICR_LO, lapic::ICR_INIT | lapic::ICR_ASSERT);
    for (int i = 0; i < 2; ++i) lapic::write(lapic::ICR_LO, lapic::ICR_SIPI | lapic::ICR_ASSERT | (TRAMPOLINE >> 12));
    return CPU_START_OK;
}
int64_t cpu_state(unsigned cpu) {
    if (cpu >= vcpu_count() || cpu >= MAX_CPUS) return CPU_START_INVALID;
    return __atomic_load_n(&g_cpu[cpu], __ATOMIC_ACQUIRE) == CPU_OFF_STATE ? CPU_STATE_OFF : CPU_STATE_ON;
}
// x86 has no call that powers a CPU off: the vCPU says so in the runtime's state and halts with
// interrupts off for good (a later start_cpu would need an INIT, which cxvisor does not emulate
// for a running vCPU).
void cpu_off() {
    __atomic_store_n(&g_cpu[cpu_index()], uint32_t(CPU_OFF_STATE), __ATOMIC_RELEASE);
    detail::park();
}
void system_off_call() { outw(PM1A_CNT_PORT, 1u << 13); } // SLP_EN (ACPI 6.5, 4.8.3.2.1)
void system_off() {
    system_off_call();
    printf("runtime: %s returned; parking\n", SYSTEM_OFF_NAME);
    detail::park();
}
void system_reset_call() { outb(RESET_CONTROL_PORT, 0x06); } // RST with SYS_RST: a hard reset
void system_reset() {
    system_reset_call();
    printf("runtime: %s returned; parking\n", SYSTEM_RESET_NAME);
    detail::park();
}

// ---------------------------------------------------------------- exceptions
// start.S's frame: the registers it pushed, the vector and error code, then what the CPU pushed
// (APM vol. 2, 8.9.3 "Interrupt Stack Frame").
struct TrapFrame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error;
    uint64_t rip, cs, rflags, rsp, ss;
};

using detail::probe_end;
volatile uint64_t* fault_resume_slot() { return &detail::g_fault[cpu_index()].resume; }

// Each probe is one MOV between two labels: the handler continues at the second.
#define RT_PROBE(insn, ...)                                                                                 \
    asm volatile("leaq 2f(%%rip), %%r11\n\t"                                                              \
                 "movq %%r11, %[resume]\n\t"                                                               \
                 "1: " insn "\n\t"                                                                        \
                 "2:"                                                                                       \
                 : __VA_ARGS__)

Probe probe_read(uint64_t addr, unsigned size) {
    uint64_t before = last_exception().count, v = 0;
    expect_fault();
    volatile uint64_t& resume = detail::g_fault[cpu_index()].resume;
    switch (size) {
    case 1: RT_PROBE("movzbq (%[a]), %[v]", [v] "+r"(v), [resume] "=m"(resume) : [a] "r"(addr) : "r11", "memory"); break;
    case 2: RT_PROBE("movzwq (%[a]), %[v]", [v] "+r"(v), [resume] "=m"(resume) : [a] "r"(addr) : "r11", "memory"); break;
    case 4: RT_PROBE("movl (%[a]), %k[v]", [v] "+r"(v), [resume] "=m"(resume) : [a] "r"(addr) : "r11", "memory"); break;
    default: RT_PROBE("movq (%[a]), %[v]", [v] "+r"(v), [resume] "=m"(resume) : [a] "r"(addr) : "r11", "memory"); break;
    }
    return probe_end(before, v);
}

Probe probe_write(uint64_t addr, unsigned size, uint64_t v) {
    uint64_t before = last_exception().count;
    expect_fault();
    volatile uint64_t& resume = detail::g_fault[cpu_index()].resume;
    switch (size) {
    case 1: RT_PROBE("movb %b[v], (%[a])", [resume] "=m"(resume) : [a] "r"(addr), [v] "r"(v) : "r11", "memory"); break;
    case 2: RT_PROBE("movw %w[v], (%[a])", [resume] "=m"(resume) : [a] "r"(addr), [v] "r"(v) : "r11", "memory"); break;
    case 4: RT_PROBE("movl %k[v], (%[a])", [resume] "=m"(resume) : [a] "r"(addr), [v] "r"(v) : "r11", "memory"); break;
    default: RT_PROBE("movq %[v], (%[a])", [resume] "=m"(resume) : [a] "r"(addr), [v] "r"(v) : "r11", "memory"); break;
    }
    return probe_end(before, v);
}

bool is_external_abort(const Probe& p, uint64_t, bool) { return p.taken && p.esr == VEC_GP && p.far == 0; }

namespace {
InterruptHandler volatile g_interrupt_handler;
}
void set_interrupt_handler(InterruptHandler handler) { g_interrupt_handler = handler; }

extern "C" void rt_trap(TrapFrame* f) {
    if (f->vector >= 32) { // the local APIC's interrupts
        if (InterruptHandler h = g_interrupt_handler) {
            h(unsigned(f->vector));
            return;
        }
        fail("vcpu %u: interrupt at vector %lu with no handler (rip=%lx)", cpu_index(), f->vector, f->rip);
    }
    uint64_t cr2 = 0;
    if (f->vector == VEC_PF) asm volatile("movq %%cr2, %0" : "=r"(cr2));
    detail::FaultRecord& t = detail::g_fault[cpu_index()];
    if (detail::record_armed_fault(f->vector, f->vector == VEC_PF ? cr2 : f->error, f->rip) && t.resume) {
        f->rip = t.resume;
        t.resume = 0;
        return;
    }
    // Not armed, or not a probe: an x86 instruction's length is unknown, so it cannot be stepped over.
    printf("vcpu %u: unexpected exception %lu (error %lx): rip=%lx cr2=%lx rsp=%lx\n", cpu_index(), f->vector, f->error,
           f->rip, cr2, f->rsp);
    fail("unexpected exception %lu rip=%lx error=%lx", f->vector, f->rip, f->error);
}

} // namespace rt
