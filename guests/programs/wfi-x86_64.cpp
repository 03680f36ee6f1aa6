// wfi, the x86_64 part: the local APIC timer in one-shot mode at vector 0x40 (Intel SDM vol. 3A
// 11.5.4), and HLT. Unlike WFI, HLT does not end for an interrupt the CPU masks (AMD APM vol. 3
// "HLT": RFLAGS.IF = 0 keeps the processor halted), so the wait is `sti; hlt; cli`: the timer's
// interrupt is taken right after HLT ends, and "fired" is what its handler recorded.
#include "rt.hpp"

namespace wfi {
namespace {
constexpr unsigned VECTOR = 0x40;
volatile unsigned g_fired;
void on_interrupt(unsigned vector) {
    if (vector == VECTOR) g_fired = g_fired + 1;
    rt::lapic::eoi();
}
} // namespace

extern const char* const FIRED = "the local APIC timer interrupt";
void arm(uint64_t deadline) {
    // The count in timer ticks, rounded up, one tick more: never before the deadline.
    const uint64_t hz = rt::lapic::timer_hz(), freq = rt::counter_freq(), now = rt::counter();
    const uint64_t left = deadline > now ? deadline - now : 0;
    const uint64_t ticks = hz ? (left * hz + freq - 1) / freq + 1 : 1;
    rt::set_interrupt_handler(on_interrupt);
    rt::lapic::enable();
    rt::lapic::write(rt::lapic::TIMER_DIV, 0xB); // divide by 1
    rt::lapic::write(rt::lapic::LVT_TIMER, VECTOR);
    rt::lapic::write(rt::lapic::TIMER_INIT, uint32_t(ticks > 0xFFFF'FFFF ? 0xFFFF'FFFF : ticks));
}
bool fired() { return g_fired != 0; }
void disarm() {
    rt::lapic::write(rt::lapic::TIMER_INIT, 0);
    rt::lapic::write(rt::lapic::LVT_TIMER, rt::lapic::LVT_MASKED | VECTOR);
}
bool disarmed() {
    return (rt::lapic::read(rt::lapic::LVT_TIMER) & rt::lapic::LVT_MASKED) && rt::lapic::read(rt::lapic::TIMER_CUR) == 0;
}
void wait() { rt::wait_for_interrupt(); }
} // namespace wfi
