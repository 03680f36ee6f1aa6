// shm, the riscv64 part (shm.cpp, namespace shm_isa): the doorbell is a source of the VM's PLIC,
// taken as a supervisor external interrupt on this hart's S-mode context (runtime/riscv64/plic.hpp;
// an edge is one request in the PLIC's gateway, PLIC spec 1.0.0 "Interrupt Gateways"); the watchdog
// is the Sstc timer, stimecmp (a supervisor timer interrupt). RISC-V Privileged Spec 20211203:
// 4.1.1 sstatus.SIE masks both, 4.1.3 sie enables them, 4.1.9 scause names them, 3.3.3 WFI ends on
// a pending and enabled interrupt whatever sstatus.SIE says.
#include "plic.hpp"
#include "rt.hpp"

namespace shm_isa {
namespace {
constexpr uint64_t SIE_STIE = 1u << 5, SIE_SEIE = 1u << 9, SSTATUS_SIE = 1u << 1;
constexpr uint64_t IRQ_S_TIMER = (1ull << 63) | 5, IRQ_S_EXTERNAL = (1ull << 63) | 9;
void (*g_on_ring)();
void (*g_on_watchdog)();
uint32_t g_line;

void set_stimecmp(uint64_t v) { asm volatile("csrw 0x14d, %0" ::"r"(v) : "memory"); } // Sstc stimecmp

bool on_interrupt(uint64_t scause) {
    if (scause == IRQ_S_TIMER) {
        set_stimecmp(~0ull); // the timer line stays high while time >= stimecmp
        g_on_watchdog();
        return true;
    }
    if (scause != IRQ_S_EXTERNAL) return false;
    const unsigned ctx = rt::plic::s_context(rt::cpu_index());
    // Claim until the context has nothing (0); a source that is not the doorbell fails the test.
    for (uint32_t src; (src = rt::plic::claim(ctx)) != 0;) {
        if (src != g_line) return false;
        g_on_ring();
        rt::plic::complete(ctx, src);
    }
    return true;
}
} // namespace

void setup(uint32_t line, void (*on_ring)(), void (*on_watchdog)()) {
    g_on_ring = on_ring;
    g_on_watchdog = on_watchdog;
    g_line = line;
    const unsigned ctx = rt::plic::s_context(rt::cpu_index());
    set_stimecmp(~0ull);
    rt::plic::set_priority(line, 1);
    rt::plic::set_threshold(ctx, 0);
    rt::plic::enable(ctx, line, true);
    rt::set_interrupt_handler(on_interrupt);
    asm volatile("csrs sie, %0" ::"r"(SIE_STIE | SIE_SEIE));
}
void mask() { asm volatile("csrc sstatus, %0" ::"r"(SSTATUS_SIE) : "memory"); }
void unmask() { asm volatile("csrs sstatus, %0" ::"r"(SSTATUS_SIE) : "memory"); }
void wait() { asm volatile("wfi" ::: "memory"); }
void watchdog_arm(uint64_t deadline) { set_stimecmp(deadline); }
void watchdog_stop() { set_stimecmp(~0ull); }
// The peer runs on another hart: every earlier load and store before any later one (Unprivileged
// Spec 20191213, 2.7 FENCE), so pong sees ping's pattern and sequence word before the ring.
void before_ring() { asm volatile("fence rw, rw" ::: "memory"); }
} // namespace shm_isa
