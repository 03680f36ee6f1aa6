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

namespace {
uint32_t be32(uint64_t a) {
    return uint32_t(read8(a)) << 24 | uint32_t(read8(a + 1)) << 16 | uint32_t(read8(a + 2)) << 8 | read8(a + 3);
}
bool is_fdt(uint64_t a) { return a >= RAM_BASE && a + 40 <= RAM_BASE + RAM_SIZE && be32(a) == 0xd00dfeed; }

// The vCPUs the machine has: the cpu@N nodes under /cpus of the DTB (Devicetree Specification
// v0.4, 5.4 structure block: FDT_BEGIN_NODE 1 + name, FDT_END_NODE 2, FDT_PROP 3 + len, nameoff,
// value, FDT_NOP 4, FDT_END 9, each padded to 4 bytes). cxvisor passes its generated tree in a1;
// bare QEMU passes none but leaves its own at 1 MiB (as cxvisor's LoongArch host finds it).
// 0 when there is no tree: the runtime then starts no other vCPU (a core an IPI names must exist:
// QEMU 7.2 crashes on an IPI to a core it does not have).
unsigned g_cpu_count_cache = ~0u;
unsigned cpu_count() {
    if (g_cpu_count_cache != ~0u) return g_cpu_count_cache;
    uint64_t fdt = boot_dtb();
    if (!is_fdt(fdt)) fdt = 0x100000;
    unsigned n = 0;
    if (is_fdt(fdt)) {
        const uint64_t size = be32(fdt + 4), end = fdt + (size < RAM_SIZE ? size : RAM_SIZE);
        uint64_t p = fdt + be32(fdt + 8);
        int depth = 0, cpus_depth = -1;
        while (p + 4 <= end) {
            const uint32_t tok = be32(p);
            p += 4;
            if (tok == 1) { // FDT_BEGIN_NODE
                const uint64_t name = p;
                while (p < end && read8(p)) ++p;
                p = (p + 4) & ~3ull; // past the NUL, aligned
                ++depth;
                if (depth == 2 && read8(name) == 'c' && read8(name + 1) == 'p' && read8(name + 2) == 'u' &&
                    read8(name + 3) == 's' && (read8(name + 4) == 0 || read8(name + 4) == '@'))
                    cpus_depth = depth;
                else if (cpus_depth > 0 && depth == cpus_depth + 1 && read8(name) == 'c' && read8(name + 1) == 'p' &&
                         read8(name + 2) == 'u' && read8(name + 3) == '@')
                    ++n;
            } else if (tok == 2) { // FDT_END_NODE
                if (depth == cpus_depth) cpus_depth = -1;
                --depth;
            } else if (tok == 3) { // FDT_PROP
                p += 8 + ((be32(p) + 3) & ~3u);
            } else if (tok != 4) { // FDT_END or garbage
                break;
            }
        }
    }
    g_cpu_count_cache = n;
    if (!n) printf("runtime: no DTB with /cpus (a1 = %lx): no other vCPU can be started\n", boot_dtb());
    return n;
}
} // namespace

extern "C" uint32_t rt_cpus_up; // start.S sets bit n when vCPU n enters the runtime
uint32_t rt_cpus_up;

namespace {
// The target's mail buffer 0 gets rt_secondary_entry, one 32-bit half per MBUF_SEND, high half
// first so that the parked core (which waits for a nonzero low word of buffer 0) never sees half
// an address; then the IPI that wakes it.
void send_start(unsigned cpu) {
    const uint64_t entry = reinterpret_cast<uint64_t>(rt_secondary_entry);
    for (int half = 1; half >= 0; --half)
        iocsr_write64(IOCSR_MBUF_SEND, (entry >> (32 * half)) << 32 | 1ull << 31 | uint64_t(cpu) << 16 | uint64_t(half) << 2);
    iocsr_write32(IOCSR_IPI_SEND, cpu << 16 | 0); // vector 0
}
} // namespace

// The core reads its index from CSR.CPUID (start.S). QEMU 8 and later park a secondary core in a
// boot ROM that first clears its mail buffer 0 (hw/loongarch/boot.c): a start sent before that
// clear is lost, so it is sent again every 10 ms until the core checks in (rt_cpus_up), for up to
// 5 s; a core that never does is the caller's to notice (rt::cpu_state stays ON, nothing runs).
int64_t start_cpu(unsigned cpu, void (*fn)(unsigned)) {
    if (cpu >= MAX_CPUS || cpu >= cpu_count()) return CPU_START_INVALID;
    if (__atomic_load_n(&g_cpu_started, __ATOMIC_ACQUIRE) & ~__atomic_load_n(&g_cpu_off, __ATOMIC_ACQUIRE) &
        (1u << cpu))
        return CPU_START_ALREADY;
    __atomic_store_n(&detail::g_entry[cpu], fn, __ATOMIC_RELEASE);
    __atomic_fetch_and(&g_cpu_off, ~(1u << cpu), __ATOMIC_ACQ_REL);
    __atomic_fetch_or(&g_cpu_started, 1u << cpu, __ATOMIC_ACQ_REL);
    __atomic_fetch_and(&rt_cpus_up, ~(1u << cpu), __ATOMIC_ACQ_REL);
    dma_mb(); // g_entry before the mail that leads to it
    const uint64_t step = counter_freq() / 100, end = counter() + 5 * counter_freq();
    for (uint64_t next = 0; !(__atomic_load_n(&rt_cpus_up, __ATOMIC_ACQUIRE) & (1u << cpu));) {
        const uint64_t now = counter();
        if (now >= end) break;
        if (now >= next) {
            send_start(cpu);
            next = now + step;
        }
        cpu_relax();
    }
    return CPU_START_OK;
}
int64_t cpu_state(unsigned cpu) {
    if (cpu >= MAX_CPUS || cpu >= cpu_count()) return CPU_START_INVALID;
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
