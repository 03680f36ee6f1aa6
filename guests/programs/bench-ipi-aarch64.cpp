// bench-ipi, aarch64 (bench-ipi.hpp): SGI 3 through the vGIC, written to ICC_SGI1R_EL1 by vCPU 0,
// taken by vCPU 1's GIC handler; WFI with IRQs masked at PSTATE.I.
#include "bench-ipi.hpp"
#include "gic.hpp"

namespace gic = rt::gic;

namespace {
constexpr uint32_t SGI = 3;
void (*g_on_ipi)();

void sgi_handler(uint32_t, void*) {
    ipi::taken_at = rt::counter();
    g_on_ipi();
}
} // namespace

volatile uint64_t ipi::taken_at;

void ipi::init_sender() {
    gic::dist_init();
    gic::cpu_init();
}
void ipi::init_receiver(void (*on_ipi)()) {
    g_on_ipi = on_ipi;
    gic::cpu_init();
    gic::set_handler(SGI, sgi_handler);
    gic::configure(SGI, 0x80, gic::Trigger::Edge);
    gic::enable(SGI);
}
void ipi::send() { gic::send_sgi(SGI, 1u << 1); }
void ipi::irq_off() { gic::irq_disable(); }
void ipi::irq_on() { gic::irq_enable(); }
void ipi::wait() { gic::wfi(); }
