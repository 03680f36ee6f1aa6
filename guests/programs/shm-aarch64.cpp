// shm, the aarch64 part (shm.cpp, namespace shm_isa): the doorbell is an SPI of the VM's GICv3
// (edge-triggered: HC_DOORBELL raises one edge per ring), the watchdog the EL1 virtual timer (PPI 27),
// both at one priority through the runtime's GIC driver (runtime/aarch64/gic.hpp).
#include "gic.hpp"

namespace gic = rt::gic;

namespace shm_isa {
namespace {
void (*g_on_ring)();
void (*g_on_watchdog)();
void ring_irq(uint32_t, void*) { g_on_ring(); }
void watchdog_irq(uint32_t, void*) { g_on_watchdog(); }
} // namespace

void setup(uint32_t line, void (*on_ring)(), void (*on_watchdog)()) {
    g_on_ring = on_ring;
    g_on_watchdog = on_watchdog;
    gic::dist_init();
    gic::cpu_init();
    gic::set_handler(gic::PPI_VTIMER, watchdog_irq);
    gic::configure(gic::PPI_VTIMER, 0x80, gic::Trigger::Level);
    gic::set_handler(line, ring_irq);
    gic::configure(line, 0x80, gic::Trigger::Edge); // HC_DOORBELL raises an edge
}
void mask() { gic::irq_disable(); }
void unmask() { gic::irq_enable(); }
void wait() { gic::wfi(); }
void watchdog_arm(uint64_t deadline) { rt::vtimer_arm(deadline); }
void watchdog_stop() { rt::vtimer_stop(); }
// Inner-shareable: the peer VM runs on another CPU of the same machine (Arm ARM DDI0487 K.a, B2.3.12 DMB).
void before_ring() { asm volatile("dmb ish" ::: "memory"); }
} // namespace shm_isa
