// bench-ipi, x86_64 (bench-ipi.hpp): a fixed IPI at vector 0x70 from vCPU 0 to APIC ID 1 through
// the emulated local APIC's ICR (Intel SDM vol. 3A 11.6.1), taken by vCPU 1 through the runtime's
// IDT stub (which saves the registers first). Under cxvisor the ICR write is an MMIO exit, the
// vLAPIC accepts the vector for vCPU 1 and the VM kicks it (an IPI to its CPU when it runs, a
// wake-up when it is halted); its next entry injects it. x86's HLT does not end for a masked
// interrupt (AMD APM vol. 3 "HLT"), so wait() opens IF for the HLT (`sti; hlt; cli`): the handler
// runs inside it, which the generic loop allows (it only needs the handler's counter read).
#include "bench-ipi.hpp"

namespace {
constexpr unsigned VECTOR = 0x70;
void (*g_on_ipi)();

void on_interrupt(unsigned vector) {
    const uint64_t at = rt::counter();
    rt::lapic::eoi();
    if (vector != VECTOR) return;
    ipi::taken_at = at;
    g_on_ipi();
}
} // namespace

volatile uint64_t ipi::taken_at;

void ipi::init_sender() { rt::lapic::enable(); }
void ipi::init_receiver(void (*on_ipi)()) {
    g_on_ipi = on_ipi;
    rt::set_interrupt_handler(on_interrupt);
    rt::lapic::enable();
}
void ipi::send() {
    rt::lapic::write(rt::lapic::ICR_HI, 1u << 24);
    rt::lapic::write(rt::lapic::ICR_LO, VECTOR);
}
void ipi::irq_off() { rt::irq_disable(); }
void ipi::irq_on() { rt::irq_enable(); }
void ipi::wait() { rt::wait_for_interrupt(); }
