// uart-irq, the riscv64 part: the UART (QEMU virt's, in memory) is vPLIC source 10, enabled with
// priority 1 and threshold 0 on this hart's S-mode context; supervisor external interrupts
// (sie.SEIE, sstatus.SIE) call the handler, which claims and completes at the PLIC.
#include "plic.hpp"
#include "rt.hpp"

namespace uart_irq {
extern const unsigned LINE = 10; // uart-irq.toml's ns16550a irq (QEMU virt's UART0 source)
uint8_t read(unsigned reg) { return rt::read8(rt::UART_BASE + reg); }
void write(unsigned reg, uint8_t v) { rt::write8(rt::UART_BASE + reg, v); }
void take_interrupts(void (*on_interrupt)()) {
    const unsigned ctx = rt::plic::s_context(rt::cpu_index());
    if (on_interrupt) {
        rt::plic::set_priority(LINE, 1);
        rt::plic::set_threshold(ctx, 0);
        rt::plic::enable(ctx, LINE, true);
    }
    rt::plic::take_external_interrupts(on_interrupt);
}
unsigned claim() { return rt::plic::claim(rt::plic::s_context(rt::cpu_index())); }
void complete(unsigned line) { rt::plic::complete(rt::plic::s_context(rt::cpu_index()), line); }
void wait() { asm volatile("wfi" ::: "memory"); }
} // namespace uart_irq
