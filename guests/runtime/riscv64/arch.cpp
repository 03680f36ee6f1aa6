// cxvisor test-guest runtime, the riscv64 part: SBI calls (cxvisor's under CXV_SBI_EID, HSM for
// harts, SRST for power), the probes' accesses and the trap handler (the ns16550a console is
// ns16550_mmio.cpp).
#include "rt.hpp"
#include "rt_detail.hpp"

using namespace cxv_abi;

namespace rt {
namespace {

int g_hc_state = -1; // -1 unknown, 0 no, 1 yes

} // namespace

namespace detail {
[[noreturn]] void park() {
    for (;;) asm volatile("wfi");
}
} // namespace detail

// ---------------------------------------------------------------- cxvisor's calls and SBI
HcResult hypercall(uint64_t nr, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5, uint64_t a6) {
    SbiRet r = sbi_call(CXV_SBI_EID, nr, a1, a2, a3, a4, a5, a6);
    return {r.error, r.value, r.a2, r.a3};
}

// An SBI implementation without cxvisor's extension (OpenSBI on bare QEMU) says so when probed;
// an ECALL never traps back into the guest, so no fault handler is needed here.
bool hypercalls_available() {
    if (g_hc_state < 0) {
        bool probed = sbi_has(CXV_SBI_EID);
        HcResult r = probed ? hypercall(HC_NR_VERSION) : HcResult{CXV_NOT_SUPPORTED, 0, 0, 0};
        g_hc_state = probed && r.x0 >= 0 ? 1 : 0;
        if (!g_hc_state)
            printf("note: cxvisor hypercalls unavailable (%s): not running under cxvisor?\n",
                   probed ? "HC_VERSION returned an error" : "SBI has no extension 0x0A435856");
    }
    return g_hc_state == 1;
}

extern "C" char rt_secondary_entry[];

// HSM hart_start (SBI v2.0, 9.1): the hart enters rt_secondary_entry in S-mode with a0 = its hart
// id (= vCPU index), a1 = opaque.
int64_t start_cpu(unsigned cpu, void (*fn)(unsigned)) {
    if (cpu >= MAX_CPUS) return CPU_START_INVALID;
    __atomic_store_n(&detail::g_entry[cpu], fn, __ATOMIC_RELEASE);
    return sbi_call(SBI_EXT_HSM, SBI_HSM_HART_START, cpu, reinterpret_cast<uint64_t>(rt_secondary_entry), cpu)
        .error;
}
int64_t cpu_state(unsigned cpu) {
    SbiRet r = sbi_call(SBI_EXT_HSM, SBI_HSM_HART_GET_STATUS, cpu);
    return r.error == SBI_SUCCESS ? int64_t(r.value) : r.error;
}
void cpu_off() {
    int64_t r = sbi_call(SBI_EXT_HSM, SBI_HSM_HART_STOP).error;
    printf("vcpu %u: SBI HSM hart_stop returned %ld\n", cpu_index(), r);
    detail::park();
}
void system_off_call() { sbi_call(SBI_EXT_SRST, SBI_SRST_SYSTEM_RESET, SBI_SRST_SHUTDOWN, 0); }
void system_off() {
    system_off_call();
    printf("runtime: SBI SRST shutdown returned; parking\n");
    detail::park();
}
void system_reset_call() { sbi_call(SBI_EXT_SRST, SBI_SRST_SYSTEM_RESET, SBI_SRST_COLD_REBOOT, 0); }
void system_reset() {
    system_reset_call();
    printf("runtime: SBI SRST cold reboot returned; parking\n");
    detail::park();
}

// ---------------------------------------------------------------- traps
// start.S saves x1..x31 and sepc. An exception while this vCPU is armed (probe_read/probe_write)
// is recorded and the instruction skipped; every other trap is reported (RISC-V Privileged Spec
// 20211203, 4.1.8 scause, 4.1.9 stval) and fails the test.
struct TrapFrame {
    uint64_t x[32]; // x[0] unused
    uint64_t sepc;
};

namespace detail {
uint64_t probe_load(uint64_t addr, unsigned size) {
    uint64_t v = 0;
    switch (size) {
    case 1: asm volatile("lbu %0, 0(%1)" : "+r"(v) : "r"(addr) : "memory"); break;
    case 2: asm volatile("lhu %0, 0(%1)" : "+r"(v) : "r"(addr) : "memory"); break;
    case 4: asm volatile("lwu %0, 0(%1)" : "+r"(v) : "r"(addr) : "memory"); break;
    default: asm volatile("ld %0, 0(%1)" : "+r"(v) : "r"(addr) : "memory"); break;
    }
    return v;
}
void probe_store(uint64_t addr, unsigned size, uint64_t v) {
    switch (size) {
    case 1: asm volatile("sb %0, 0(%1)" ::"r"(v), "r"(addr) : "memory"); break;
    case 2: asm volatile("sh %0, 0(%1)" ::"r"(v), "r"(addr) : "memory"); break;
    case 4: asm volatile("sw %0, 0(%1)" ::"r"(v), "r"(addr) : "memory"); break;
    default: asm volatile("sd %0, 0(%1)" ::"r"(v), "r"(addr) : "memory"); break;
    }
}
} // namespace detail

namespace {
InterruptHandler volatile g_interrupt_handler;
} // namespace
void set_interrupt_handler(InterruptHandler handler) { g_interrupt_handler = handler; }

bool is_external_abort(const Probe& p, uint64_t addr, bool write) {
    return p.taken && p.esr == (write ? 7u : 5u) && p.far == addr;
}

extern "C" void rt_trap(TrapFrame* f) {
    uint64_t scause, stval;
    asm volatile("csrr %0, scause" : "=r"(scause));
    asm volatile("csrr %0, stval" : "=r"(stval));
    bool interrupt = scause >> 63;
    if (interrupt) {
        InterruptHandler h = g_interrupt_handler;
        if (h && h(scause)) return;
    }
    if (!interrupt && detail::record_armed_fault(scause, stval, f->sepc)) {
        // The instruction's length from its low bits (Unprivileged Spec 20191213, 1.5): 2 or 4 bytes.
        f->sepc += (*reinterpret_cast<volatile uint16_t*>(f->sepc) & 3) == 3 ? 4 : 2;
        return;
    }
    printf("vcpu %u: unexpected %s (scause %lx, code %lu): sepc=%lx stval=%lx\n", cpu_index(),
           interrupt ? "interrupt" : "exception", scause, scause & ~(uint64_t(1) << 63), f->sepc, stval);
    fail("unexpected trap scause=%lx sepc=%lx stval=%lx", scause, f->sepc, stval);
}

} // namespace rt
