// lapic (x86_64): the local APIC cxvisor emulates for each vCPU (docs/porting.md "x86 VMs:
// interrupts"), used as a guest kernel uses it. Two vCPUs (lapic.toml, cpu_num = 2):
//  - a self-IPI (ICR shorthand "self") is taken at its vector once IF is set, and is held back
//    while TPR's priority class is not below the vector's (Intel SDM vol. 3A 11.8.3);
//  - EOI ends the interrupt in service (ISR clear afterwards, 11.8.5);
//  - the periodic timer (11.5.4) interrupts again and again, at its period or later, and its
//    current count goes down between reads;
//  - an IPI to vCPU 1 halted in HLT wakes it (HLT waits for an interrupt, not only for a timer),
//    and vCPU 1's IPI back wakes vCPU 0 halted likewise;
//  - an IPI to vCPU 1 halted with interrupts masked (cli; hlt) leaves it halted.
#include "rt.hpp"

namespace {
using namespace rt::lapic;
constexpr unsigned SELF_VEC = 0x51, TIMER_VEC = 0x60, PING_VEC = 0x70, PONG_VEC = 0x71;
constexpr unsigned PERIODS = 5;
constexpr uint64_t PERIOD_US = 5000;

unsigned g_count[256];          // interrupts taken per vector (both vCPUs)
uint64_t g_timer_at[PERIODS];   // counter() at each timer interrupt
unsigned g_isr_in_handler;      // ISR bit of the vector while its handler ran (before EOI)
unsigned g_ready, g_pinged;     // vCPU 1 halted for the ping; it took it
unsigned g_masked_halt, g_woke_masked; // vCPU 1 halts with IF = 0; it went on past that HLT

bool in_service(unsigned v) { return (read(ISR + 16 * (v / 32)) >> (v % 32)) & 1; }

void on_interrupt(unsigned v) {
    const unsigned n = __atomic_fetch_add(&g_count[v], 1u, __ATOMIC_RELAXED);
    if (v == SELF_VEC) g_isr_in_handler = in_service(v);
    if (v == TIMER_VEC && n < PERIODS) g_timer_at[n] = rt::counter();
    if (v == PING_VEC) {
        __atomic_store_n(&g_pinged, 1u, __ATOMIC_RELEASE);
        write(ICR_HI, 0u << 24); // pong to vCPU 0
        write(ICR_LO, PONG_VEC);
    }
    eoi();
}

unsigned count(unsigned v) { return __atomic_load_n(&g_count[v], __ATOMIC_ACQUIRE); }

template <typename F> bool wait_for(F cond, uint64_t ms) {
    const uint64_t end = rt::counter() + ms * rt::counter_freq() / 1000;
    while (!cond())
        if (rt::counter() > end) return false;
    return true;
}

void secondary(unsigned) {
    enable();
    __atomic_store_n(&g_ready, 1u, __ATOMIC_RELEASE);
    // Halted until the ping arrives: nothing else can end this HLT.
    while (!__atomic_load_n(&g_pinged, __ATOMIC_ACQUIRE)) rt::wait_for_interrupt();
    // HLT with interrupts masked: an interrupt does not end it (AMD APM vol. 3 "HLT"), so the
    // store after it is never made while vCPU 0's next IPI is pending.
    __atomic_store_n(&g_masked_halt, 1u, __ATOMIC_RELEASE);
    asm volatile("cli; hlt" ::: "memory");
    __atomic_store_n(&g_woke_masked, 1u, __ATOMIC_RELEASE);
    // returning parks this vCPU (rt::cpu_off)
}
} // namespace

void guest_main() {
    rt::test_start("lapic");
    rt::set_interrupt_handler(on_interrupt);
    enable();
    rt::check(read(ID) >> 24 == 0, "vCPU 0's APIC ID is 0 (got %x)", read(ID) >> 24);

    // Self-IPI, first with TPR at the vector's class: held in IRR, not taken.
    write(TPR, SELF_VEC & 0xF0);
    write(ICR_LO, ICR_SELF | SELF_VEC);
    rt::irq_enable();
    for (int i = 0; i < 1000; ++i) asm volatile("pause");
    rt::irq_disable();
    rt::check(count(SELF_VEC) == 0, "a self-IPI of TPR's priority class is held back (taken %u times)", count(SELF_VEC));
    rt::check((read(IRR + 16 * (SELF_VEC / 32)) >> (SELF_VEC % 32)) & 1, "it waits in IRR");
    write(TPR, 0);
    rt::irq_enable();
    asm volatile("nop");
    rt::irq_disable();
    rt::check(count(SELF_VEC) == 1, "with TPR 0 it is taken once (%u)", count(SELF_VEC));
    rt::check(g_isr_in_handler == 1, "its ISR bit is set while the handler runs");
    rt::check(!in_service(SELF_VEC), "EOI cleared it from ISR");
    rt::check(read(PPR) == 0, "PPR back to 0 (got %x)", read(PPR));

    // Periodic timer.
    const uint64_t hz = timer_hz();
    rt::check(hz != 0, "CPUID 0x4000_0010 EBX gives the APIC timer's clock (%lu Hz)", hz);
    if (!hz) rt::finish();
    const uint32_t initial = uint32_t(hz * PERIOD_US / 1'000'000);
    write(TIMER_DIV, 0xB);
    write(LVT_TIMER, LVT_PERIODIC | TIMER_VEC);
    const uint64_t t0 = rt::counter();
    write(TIMER_INIT, initial);
    const uint32_t c1 = read(TIMER_CUR);
    for (int i = 0; i < 100000 && read(TIMER_CUR) == c1; ++i) {
    }
    const uint32_t c2 = read(TIMER_CUR);
    rt::check(c1 <= initial && c2 < c1, "the current count goes down (%u, then %u, of %u)", c1, c2, initial);
    bool all = wait_for([] {
        rt::wait_for_interrupt();
        return count(TIMER_VEC) >= PERIODS;
    }, 10000);
    write(LVT_TIMER, LVT_MASKED | TIMER_VEC);
    write(TIMER_INIT, 0);
    rt::check(all, "%u periodic timer interrupts within 10 s (got %u)", PERIODS, count(TIMER_VEC));
    const uint64_t period = PERIOD_US * rt::counter_freq() / 1'000'000;
    if (all) {
        rt::printf("timer interrupts at +%lu us, +%lu us, +%lu us, +%lu us, +%lu us\n",
                   rt::ticks_to_us(g_timer_at[0] - t0), rt::ticks_to_us(g_timer_at[1] - t0),
                   rt::ticks_to_us(g_timer_at[2] - t0), rt::ticks_to_us(g_timer_at[3] - t0),
                   rt::ticks_to_us(g_timer_at[4] - t0));
        rt::check(g_timer_at[PERIODS - 1] - t0 >= PERIODS * period,
                  "the %uth interrupt comes no earlier than %u periods", PERIODS, PERIODS);
    }

    // IPIs between halted vCPUs.
    int64_t r = rt::start_cpu(1, secondary);
    rt::check(r == rt::CPU_START_OK, "vCPU 1 started by INIT-SIPI-SIPI (%ld)", r);
    bool ready = wait_for([] { return __atomic_load_n(&g_ready, __ATOMIC_ACQUIRE) != 0; }, 30000);
    rt::check(ready, "vCPU 1 runs within 30 s");
    if (!ready) rt::finish();
    // Let it reach its HLT, then ping it.
    const uint64_t settle = rt::counter() + rt::counter_freq() / 100;
    while (rt::counter() < settle) {
    }
    write(ICR_HI, 1u << 24);
    write(ICR_LO, PING_VEC);
    bool pong = wait_for([] {
        rt::wait_for_interrupt();
        return count(PONG_VEC) != 0;
    }, 30000);
    rt::check(count(PING_VEC) == 1, "vCPU 1 took the ping once (%u)", count(PING_VEC));
    rt::check(pong, "vCPU 0, halted, was woken by vCPU 1's pong");

    bool masked = wait_for([] { return __atomic_load_n(&g_masked_halt, __ATOMIC_ACQUIRE) != 0; }, 30000);
    rt::check(masked, "vCPU 1 reaches its cli; hlt");
    write(ICR_HI, 1u << 24);
    write(ICR_LO, PING_VEC + 2);
    const uint64_t until = rt::counter() + rt::counter_freq() / 20; // 50 ms
    while (rt::counter() < until && !__atomic_load_n(&g_woke_masked, __ATOMIC_ACQUIRE)) {
    }
    rt::check(!__atomic_load_n(&g_woke_masked, __ATOMIC_ACQUIRE),
              "vCPU 1, halted with IF = 0, stays halted with an IPI pending");
}
