// uart-irq, the x86_64 part: COM1 in the port space is GSI 4 (uart-irq.toml), which cxvisor's
// vLAPIC delivers to vCPU 0 at vector 0x20 + 4 (docs/porting.md "x86 VMs: interrupts"; there is no
// IOAPIC to program). The handler runs at that vector; "claim" is the line the vector names and
// "complete" the local APIC's EOI. The wait is HLT with interrupts open for it.
#include "rt.hpp"

namespace uart_irq {
namespace {
constexpr unsigned VECTOR_BASE = 0x20;
void (*volatile g_on_interrupt)();
volatile unsigned g_vector; // the vector being served
void on_vector(unsigned vector) {
    g_vector = vector;
    if (auto f = g_on_interrupt) f();
    else rt::lapic::eoi();
}
} // namespace

extern const unsigned LINE = 4; // COM1's IRQ on a PC
uint8_t read(unsigned reg) { return rt::inb(uint16_t(rt::UART_PORT + reg)); }
void write(unsigned reg, uint8_t v) { rt::outb(uint16_t(rt::UART_PORT + reg), v); }
void take_interrupts(void (*on_interrupt)()) {
    g_on_interrupt = on_interrupt;
    if (on_interrupt) {
        rt::set_interrupt_handler(on_vector);
        rt::lapic::enable();
    }
}
unsigned claim() { return g_vector > VECTOR_BASE && g_vector < VECTOR_BASE + 24 ? g_vector - VECTOR_BASE : 0; }
void complete(unsigned) { rt::lapic::eoi(); }
void wait() { rt::wait_for_interrupt(); }
} // namespace uart_irq
