// ipi (loongarch64 only): interrupts between two vCPUs pinned to different physical CPUs
// (configs/vms/loongarch64/ipi.toml), through the per-core IPI block in IOCSR space as QEMU virt
// and Linux use it (Loongson 3A5000 user manual v1.03, 10.4: IPI_Status 0x1000, IPI_En 0x1004,
// IPI_Set 0x1008, IPI_Clear 0x100c, IPI_Send 0x1040 with the core in [25:16] and the vector in
// [4:0]). A vector set in a core's status and enabled in its IPI_En is that core's IPI interrupt,
// ESTAT.IS[12] (LoongArch Reference Manual Vol. 1 v1.10, 7.4.5), taken through the exception
// entry once ECFG.LIE[12] and CRMD.IE allow it (6.2.1). Each vCPU's handler reads its status,
// counts each vector it finds and clears exactly those.
//
// vCPU 0 starts vCPU 1; then ROUNDS times: vCPU 0 sends vector 1 + round % 30 to vCPU 1, whose
// handler answers with the same vector to vCPU 0; each side waits for the answer in IDLE with
// CRMD.IE = 1, as Linux's arch_cpu_idle does (docs/porting.md "loongarch64": the LVZ QEMU takes an
// interrupt that is pending at entry only if the guest's CRMD.IE is already set then). Then (the
// ipi-self variant, CXV_IPI_SELF=1) vCPU 0 raises its own IPI through IPI_Set; then a disabled
// vector (IPI_En) that must stay pending and not interrupt, and a send to a core the VM does not
// have, which the block refuses (INE, as an IOCSR address nothing answers).
#include "rt.hpp"

#ifndef CXV_IPI_SELF
#define CXV_IPI_SELF 0
#endif

namespace {
constexpr uint64_t IPI_STATUS = 0x1000, IPI_EN = 0x1004, IPI_SET = 0x1008, IPI_CLEAR = 0x100c, IPI_SEND = 0x1040;
constexpr unsigned ROUNDS = 64;
constexpr uint32_t DISABLED_VECTOR = 31; // never enabled on vCPU 0
// The runtime starts a vCPU with vector 0 and resends it until the vCPU checks in (arch.cpp
// start_cpu), so one may still arrive after vCPU 1 runs: cleared, never counted or answered.
constexpr uint32_t START_VECTOR = 0;

struct PerCpu {
    uint32_t taken;          // IPI interrupts taken
    uint32_t vectors;        // vectors counted (one interrupt may carry several)
    uint32_t seen;           // every vector seen, as a mask
    uint32_t last_vector;
};
PerCpu g_cpu[2];
uint32_t g_up, g_stop;

void send(unsigned cpu, uint32_t vector) { rt::iocsr_write32(IPI_SEND, cpu << 16 | vector); }

bool on_interrupt(uint64_t estat) {
    if (estat & rt::IS_TIMER) RT_CSRWR(rt::csr::TICLR, 1); // idle_until's bound (below)
    if (!(estat & rt::IS_IPI)) return (estat & rt::IS_TIMER) != 0;
    const unsigned me = rt::cpu_index();
    if (me > 1) return false;
    const uint32_t status = rt::iocsr_read32(IPI_STATUS) & rt::iocsr_read32(IPI_EN);
    rt::iocsr_write32(IPI_CLEAR, status); // only what is handled here: a disabled vector stays
    PerCpu& c = g_cpu[me];
    __atomic_fetch_add(&c.taken, 1, __ATOMIC_ACQ_REL);
    for (uint32_t s = status & ~(1u << START_VECTOR); s; s &= s - 1) {
        const uint32_t v = uint32_t(__builtin_ctz(s));
        c.last_vector = v;
        c.seen |= 1u << v;
        if (me == 1 && !__atomic_load_n(&g_stop, __ATOMIC_ACQUIRE)) send(0, v); // the answer
        __atomic_fetch_add(&c.vectors, 1, __ATOMIC_ACQ_REL);
    }
    return true;
}

// This vCPU takes IPIs: every vector but DISABLED_VECTOR enabled in its block, ECFG.LIE[12] on;
// and its timer, idle_until's bound (LIE[11]).
void enable_ipis() {
    rt::iocsr_write32(IPI_EN, ~(1u << DISABLED_VECTOR));
    RT_CSRXCHG(rt::csr::ECFG, rt::IS_IPI | rt::IS_TIMER, rt::IS_IPI | rt::IS_TIMER);
}

// IDLE with CRMD.IE = 1 until cond() holds, bounded in virtual time (generous: the counter runs
// on while QEMU waits for a host CPU). The interrupt that ends IDLE is taken with IE = 1. One that
// is taken after IE is set but before IDLE leaves nothing pending for IDLE to end on, so every
// IDLE is bounded by the vCPU's own timer, a 1 ms one-shot (TCFG, Vol. 1 7.6.2) taken and
// cleared by the handler: the loop then looks at cond() again.
template <typename F> bool idle_until(F cond, uint64_t ms) {
    const uint64_t end = rt::counter() + ms * rt::counter_freq() / 1000;
    const uint64_t bound = (rt::counter_freq() / 1000 + 3) & ~3ull; // InitVal: a multiple of 4
    for (;;) {
        RT_CSRXCHG(rt::csr::CRMD, 0, rt::CRMD_IE);
        if (cond()) {
            RT_CSRWR(rt::csr::TCFG, 0);
            RT_CSRWR(rt::csr::TICLR, 1);
            return true;
        }
        if (rt::counter() > end) return false;
        RT_CSRWR(rt::csr::TCFG, bound | rt::TCFG_EN);
        RT_CSRXCHG(rt::csr::CRMD, rt::CRMD_IE, rt::CRMD_IE);
        asm volatile("dbar 0\n idle 0" ::: "memory");
    }
}

void secondary(unsigned) {
    enable_ipis();
    __atomic_store_n(&g_up, 1, __ATOMIC_RELEASE);
    idle_until([] { return __atomic_load_n(&g_stop, __ATOMIC_ACQUIRE) != 0; }, 60000);
    RT_CSRXCHG(rt::csr::CRMD, 0, rt::CRMD_IE);
}
} // namespace

void guest_main() {
    rt::test_start("ipi");
    rt::set_interrupt_handler(on_interrupt);
    enable_ipis();
    int64_t r = rt::start_cpu(1, secondary);
    rt::check(r == rt::CPU_START_OK, "vcpu 1 started (got %ld)", r);
    const bool up = idle_until([] { return __atomic_load_n(&g_up, __ATOMIC_ACQUIRE) != 0; }, 30000);
    rt::check(up, "vcpu 1 is up and takes IPIs");
    if (!up) rt::finish();

    const uint64_t t0 = rt::counter();
    unsigned done = 0;
    for (; done < ROUNDS; ++done) {
        const uint32_t v = 1 + done % 30; // 1..30: not the start vector, not vCPU 0's disabled one
        send(1, v);
        const uint32_t want = done + 1;
        if (!idle_until([want] { return __atomic_load_n(&g_cpu[0].vectors, __ATOMIC_ACQUIRE) >= want; }, 10000)) break;
        if (g_cpu[0].last_vector != v) break;
    }
    const uint64_t us = rt::ticks_to_us(rt::counter() - t0);
    rt::printf("%u round trips in %lu us; vcpu 0 took %u IPI interrupts, vcpu 1 took %u\n", done, us, g_cpu[0].taken,
               g_cpu[1].taken);
    rt::check(done == ROUNDS, "%u IPIs to vcpu 1 each answered with the same vector (%u done)", ROUNDS, done);
    rt::check(g_cpu[1].vectors == ROUNDS && g_cpu[0].vectors == ROUNDS, "each vcpu counted %u vectors (%u, %u)", ROUNDS,
              g_cpu[1].vectors, g_cpu[0].vectors);
    rt::check(g_cpu[1].seen == 0x7FFFFFFEu, "vcpu 1 saw every vector 1..30 and nothing else (mask %x)", g_cpu[1].seen);

#if CXV_IPI_SELF
    // IPI_Set: the core's own status, taken as its own IPI interrupt (the ipi-self variant).
    const uint32_t before = g_cpu[0].vectors;
    rt::iocsr_write32(IPI_SET, 1u << 7);
    const bool self = idle_until([before] { return __atomic_load_n(&g_cpu[0].vectors, __ATOMIC_ACQUIRE) > before; }, 10000);
    rt::check(self && g_cpu[0].last_vector == 7, "IPI_Set of vector 7 is this vcpu's own IPI (last vector %u)",
              g_cpu[0].last_vector);
#endif

    // A vector IPI_En leaves out sets the status but is no interrupt.
    const uint32_t taken = g_cpu[0].taken;
    send(0, DISABLED_VECTOR);
    RT_CSRXCHG(rt::csr::CRMD, rt::CRMD_IE, rt::CRMD_IE);
    rt::delay_us(20000);
    RT_CSRXCHG(rt::csr::CRMD, 0, rt::CRMD_IE);
    const uint32_t status = rt::iocsr_read32(IPI_STATUS);
    rt::check(g_cpu[0].taken == taken && (status & (1u << DISABLED_VECTOR)),
              "a disabled vector stays pending in IPI_Status and does not interrupt (status %x)", status);
    rt::iocsr_write32(IPI_CLEAR, 1u << DISABLED_VECTOR);
    rt::check(!(rt::iocsr_read32(IPI_STATUS) & (1u << DISABLED_VECTOR)), "IPI_Clear clears it");

    // A core the VM does not have: the IOCSR write is refused like any address nothing answers.
    const uint64_t faults = rt::last_exception().count;
    rt::expect_fault();
    send(5, 1);
    rt::disarm_fault();
    const rt::ExcRecord& e = rt::last_exception();
    rt::check(e.count == faults + 1 && e.esr == rt::esr_code(rt::ECODE_INE),
              "IPI_Send to core 5 (the VM has 2) is refused with INE (esr %lx)", e.esr);

    __atomic_store_n(&g_stop, 1, __ATOMIC_RELEASE);
    send(1, 1); // wakes vCPU 1 to see g_stop
    rt::finish();
}
