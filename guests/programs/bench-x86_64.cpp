// bench, the x86_64 cases (bench.cpp, bench.hpp), timed with RDTSC. Under QEMU -icount shift=0 the
// TSC QEMU gives the guest is the instruction counter (one tick per executed instruction; under
// SVM plus the VMCB's TSC_OFFSET, which a difference cancels), so bench/run.py reads the ticks
// per iteration as guest-visible instructions without the CPUID 4000_0010h frequency.
//   add100      100 ADDs in the bench loop (the loop's own cost: add100 - 100)
//   hc_nop      cxvisor's null hypercall (VMMCALL, HC_NR_NOP): one #VMEXIT and VMRUN round trip
//   cpuid0      CPUID leaf 0 (intercepted: cxvisor's sanitised view, docs/porting.md)
//   pio_read    IN of the port-space 16550's LSR (port 3FDh: an IOIO exit, the IOPM says trap)
//   pio_write   OUT to the port-space 16550's SCR (port 3FFh: scratch register, no side effect)
//   mmio_read   MOVZX load of the memory-mapped 16550's LSR (a nested page fault, decoded)
//   mmio_write  MOV store to the memory-mapped 16550's SCR
//   lapic_self_ipi  a fixed self-IPI (ICR shorthand self) until its handler runs, IF = 1 spinning:
//               the ICR write's NPF exit, the vLAPIC, EVENTINJ at the next entry
//   lapic_timer     the local APIC timer armed one tick ahead (10 ns at its 100 MHz) until its
//               handler runs: the TIMER_INIT write's exit, a host timer event, the exit it causes,
//               EVENTINJ
#include "bench.hpp"

namespace {
constexpr uint16_t PIO_LSR = rt::UART_PORT + 5, PIO_SCR = rt::UART_PORT + 7;
constexpr uint64_t MMIO_UART = 0x1000'0000; // configs/vms/x86_64/bench.toml
constexpr uint64_t MMIO_LSR = MMIO_UART + 5, MMIO_SCR = MMIO_UART + 7;
constexpr unsigned IPI_VEC = 0x52, TIMER_VEC = 0x62;
volatile uint64_t g_at;
volatile uint32_t g_seen;
void on_interrupt(unsigned) {
    g_at = rt::counter();
    g_seen = g_seen + 1;
    rt::lapic::eoi();
}
} // namespace

void bench::cases() {
    using namespace cxv_abi;
    run("add100", [] { rt::add100(); });
    if (rt::hypercalls_available())
        run("hc_nop", [] { (void)rt::vmmcall(HC_NR_NOP); });
    else
        rt::check(false, "HC_NOP available");
    run("cpuid0", [] { (void)rt::cpuid(0); });
    run("pio_read", [] { (void)rt::inb(PIO_LSR); });
    run("pio_write", [] { rt::outb(PIO_SCR, 0x5a); });
    run("mmio_read", [] {
        uint64_t v;
        asm volatile("movzbq (%1), %0" : "=r"(v) : "r"(MMIO_LSR) : "memory");
    });
    run("mmio_write", [] { asm volatile("movb %b1, (%0)" ::"r"(MMIO_SCR), "q"(uint8_t(0x5a)) : "memory"); });
    // Interrupt latencies through the emulated local APIC (bench.toml: interrupt_mode "emulated").
    using namespace rt::lapic;
    rt::set_interrupt_handler(on_interrupt);
    enable();
    write(TIMER_DIV, 0xB); // divide by 1
    write(LVT_TIMER, TIMER_VEC);
    rt::irq_enable();
    latency("lapic_self_ipi", g_at, g_seen, [](uint64_t) {
        const uint64_t from = rt::counter();
        write(ICR_LO, ICR_SELF | IPI_VEC);
        return from;
    });
    latency("lapic_timer", g_at, g_seen, [](uint64_t) {
        const uint64_t from = rt::counter();
        write(TIMER_INIT, 1);
        return from;
    });
    rt::irq_disable();
}
