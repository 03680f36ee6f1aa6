// cxvisor test-guest runtime, the loongarch64 part: cxvisor's calls through HVCL, power through
// the GED registers, vCPUs through the IPI mail buffers, the probes' accesses and the exception
// handler (the 16550 console is ns16550_mmio.cpp).
#include "rt.hpp"
#include "rt_detail.hpp"

using namespace cxv_abi;

namespace rt {
namespace {

// IOCSR of the IPI block (Loongson 3A5000 manual 10.2, 10.4, as QEMU virt implements it):
// IPI_SEND [25:16] the core, [4:0] the vector; MBUF_SEND [63:32] 32 bits of data, [31] wait for
// completion, [25:16] the core, [4:2] which 32-bit word of its buffers.
constexpr uint64_t IOCSR_IPI_SEND = 0x1040, IOCSR_MBUF_SEND = 0x1048;

int g_hc_state = -1; // -1 unknown, 0 no, 1 yes
uint64_t g_counter_hz;
// Which vCPUs this runtime has started (bit per index) and which have stopped again: LoongArch
// has no firmware to ask, so rt::cpu_state answers from what the runtime itself did and saw.
uint32_t g_cpu_started = 1, g_cpu_off;

} // namespace

uint64_t counter_freq() {
    if (!g_counter_hz) {
        const uint64_t base = cpucfg(4), mul_div = cpucfg(5);
        const uint64_t mul = mul_div & 0xffff, div = mul_div >> 16 & 0xffff;
        g_counter_hz = base && mul && div ? base * mul / div : 100'000'000; // unknown: QEMU virt's 100 MHz
    }
    return g_counter_hz;
}

namespace detail {
[[noreturn]] void park() {
    RT_CSRWR(csr::ECFG, 0); // no interrupt line: IDLE sleeps for good
    for (;;) asm volatile("idle 0" ::: "memory");
}
} // namespace detail

// ---------------------------------------------------------------- cxvisor's calls
HcResult hypercall(uint64_t nr, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5, uint64_t a6) {
    HvclResult r = hvcl(nr, a1, a2, a3, a4, a5, a6);
    return {r.x0, r.x1, r.x2, r.x3};
}

// A CPU without LVZ (bare QEMU) does not know HVCL: it raises the instruction-not-exist exception
// (INE), which the armed handler records and steps over. Under cxvisor the call returns.
bool hypercalls_available() {
    if (g_hc_state < 0) {
        const uint64_t before = last_exception().count;
        expect_fault();
        HvclResult r = hvcl(HC_NR_VERSION);
        disarm_fault();
        const bool trapped = last_exception().count != before;
        g_hc_state = !trapped && r.x0 >= 0 ? 1 : 0;
        if (!g_hc_state)
            printf("note: cxvisor hypercalls unavailable (%s): not running under cxvisor?\n",
                   trapped ? "HVCL raised an exception" : "HC_VERSION returned an error");
    }
    return g_hc_state == 1;
}

// ---------------------------------------------------------------- vCPUs and power
extern "C" char rt_secondary_entry[];

// The target's mail buffer 0 gets rt_secondary_entry, one 32-bit half per MBUF_SEND, high half
// first so that the parked core (which waits for a nonzero buffer 0) never sees half an address;
// then the IPI that wakes it. The core reads its index from CSR.CPUID (start.S).
int64_t start_cpu(unsigned cpu, void (*fn)(unsigned)) {
    if (cpu >= MAX_CPUS) return CPU_START_INVALID;
    if (__atomic_load_n(&g_cpu_started, __ATOMIC_ACQUIRE) & ~__atomic_load_n(&g_cpu_off, __ATOMIC_ACQUIRE) &
        (1u << cpu))
        return CPU_START_ALREADY;
    __atomic_store_n(&detail::g_entry[cpu], fn, __ATOMIC_RELEASE);
    __atomic_fetch_and(&g_cpu_off, ~(1u << cpu), __ATOMIC_ACQ_REL);
    __atomic_fetch_or(&g_cpu_started, 1u << cpu, __ATOMIC_ACQ_REL);
    const uint64_t entry = reinterpret_cast<uint64_t>(rt_secondary_entry);
    dma_mb(); // g_entry before the mail that leads to it
    for (int half = 1; half >= 0; --half)
        iocsr_write64(IOCSR_MBUF_SEND, (entry >> (32 * half)) << 32 | 1ull << 31 | uint64_t(cpu) << 16 | uint64_t(half) << 2);
    iocsr_write32(IOCSR_IPI_SEND, cpu << 16 | 0); // vector 0
    return CPU_START_OK;
}
int64_t cpu_state(unsigned cpu) {
    if (cpu >= MAX_CPUS) return CPU_START_INVALID;
    const uint32_t bit = 1u << cpu;
    return (__atomic_load_n(&g_cpu_started, __ATOMIC_ACQUIRE) & ~__atomic_load_n(&g_cpu_off, __ATOMIC_ACQUIRE) & bit)
               ? CPU_STATE_ON
               : CPU_STATE_OFF;
}
// No firmware to hand the core back to: it says it is off and idles with no interrupt line.
void cpu_off() {
    __atomic_fetch_or(&g_cpu_off, 1u << cpu_index(), __ATOMIC_ACQ_REL);
    detail::park();
}
void system_off_call() { write8(GED_SLEEP_CTL, GED_SLP_S5_EN); }
void system_off() {
    system_off_call();
    // The write asks for the power-off; QEMU's main loop, not the CPU, carries it out: a moment.
    delay_us(100000);
    printf("runtime: %s did not power off; parking\n", SYSTEM_OFF_NAME);
    detail::park();
}
void system_reset_call() { write8(GED_RESET, GED_RESET_VALUE); }
void system_reset() {
    system_reset_call();
    delay_us(100000);
    printf("runtime: %s did not reset; parking\n", SYSTEM_RESET_NAME);
    detail::park();
}

// ---------------------------------------------------------------- exceptions
// start.S saves r1..r31, ERA and PRMD. An exception while this vCPU is armed (probe_read,
// probe_write, expect_fault) is recorded and the instruction skipped; every other exception or
// interrupt nobody claims is reported (Vol. 1 7.4.5 ESTAT, 7.4.7 BADV, 7.4.8 BADI) and fails the test.
struct TrapFrame {
    uint64_t r[32]; // r[0] unused
    uint64_t era, prmd;
};

namespace detail {
uint64_t probe_load(uint64_t addr, unsigned size) {
    uint64_t v = 0;
    switch (size) {
    case 1: asm volatile("ld.bu %0, %1, 0" : "+r"(v) : "r"(addr) : "memory"); break;
    case 2: asm volatile("ld.hu %0, %1, 0" : "+r"(v) : "r"(addr) : "memory"); break;
    case 4: asm volatile("ld.wu %0, %1, 0" : "+r"(v) : "r"(addr) : "memory"); break;
    default: asm volatile("ld.d %0, %1, 0" : "+r"(v) : "r"(addr) : "memory"); break;
    }
    return v;
}
void probe_store(uint64_t addr, unsigned size, uint64_t v) {
    switch (size) {
    case 1: asm volatile("st.b %0, %1, 0" ::"r"(v), "r"(addr) : "memory"); break;
    case 2: asm volatile("st.h %0, %1, 0" ::"r"(v), "r"(addr) : "memory"); break;
    case 4: asm volatile("st.w %0, %1, 0" ::"r"(v), "r"(addr) : "memory"); break;
    default: asm volatile("st.d %0, %1, 0" ::"r"(v), "r"(addr) : "memory"); break;
    }
}
} // namespace detail

namespace {
InterruptHandler volatile g_interrupt_handler;
} // namespace
void set_interrupt_handler(InterruptHandler handler) { g_interrupt_handler = handler; }

bool is_external_abort(const Probe& p, uint64_t addr, bool) { return p.taken && p.esr == ESR_ADEM && p.far == addr; }

extern "C" void rt_trap(TrapFrame* f) {
    const uint64_t estat = RT_CSRRD(csr::ESTAT), badv = RT_CSRRD(csr::BADV), badi = RT_CSRRD(csr::BADI);
    const uint64_t ecode = estat >> 16 & 0x3f, esubcode = estat >> 22 & 0x1ff;
    const bool interrupt = ecode == ECODE_INT;
    if (interrupt) {
        InterruptHandler h = g_interrupt_handler;
        if (h && h(estat)) return;
    }
    if (!interrupt && detail::record_armed_fault(esr_code(ecode, esubcode), badv, f->era)) {
        f->era += 4; // every LoongArch instruction is 4 bytes (Vol. 1 1.2)
        return;
    }
    printf("vcpu %u: unexpected %s (ESTAT %lx: Ecode %lx EsubCode %lx IS %lx): ERA=%lx BADV=%lx BADI=%lx\n", cpu_index(),
           interrupt ? "interrupt" : "exception", estat, ecode, esubcode, estat & 0x1fff, f->era, badv, badi);
    fail("unexpected exception Ecode=%lx EsubCode=%lx ERA=%lx BADV=%lx", ecode, esubcode, f->era, badv);
}

} // namespace rt
