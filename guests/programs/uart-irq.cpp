// uart-irq (riscv64): console input taken by interrupt. The 16550's receive interrupt (IER.ERBFI,
// PC16550D "Interrupt Enable Register") is the VM's PLIC source UART_IRQ (uart-irq.toml); the
// guest enables it in the vPLIC for its S-mode context, sets sie.SEIE and sstatus.SIE and sleeps
// in WFI. Each supervisor external interrupt claims the source, drains the receiver (LSR.DR) and
// completes it; the main loop only prints whole lines: "uart-irq: <line> (<n> interrupts)". "quit"
// ends the test, which passes if every character came through the interrupt handler (the main
// loop never reads the UART's receiver) and the claims named only the UART's source.
#include "plic.hpp"
#include "rt.hpp"

namespace {
constexpr unsigned UART_IRQ = 10; // uart-irq.toml's ns16550a irq (QEMU virt's UART0 source)
constexpr uint64_t UART_RBR = rt::UART_BASE + 0, UART_IER = rt::UART_BASE + 1, UART_LSR = rt::UART_BASE + 5;
constexpr uint8_t IER_ERBFI = 1u << 0, LSR_DR = 1u << 0;

char g_buf[128];
volatile unsigned g_len;
volatile bool g_line_ready;
unsigned g_interrupts, g_chars, g_wrong_claims, g_spurious; // handler counters (atomic adds)

void count(unsigned& c) { __atomic_add_fetch(&c, 1u, __ATOMIC_RELAXED); }

void on_external() {
    const unsigned ctx = rt::plic::s_context(rt::cpu_index());
    uint32_t src = rt::plic::claim(ctx);
    if (src == 0) {
        count(g_spurious); // another vCPU took it, or it went away: allowed, counted
        return;
    }
    count(g_interrupts);
    if (src != UART_IRQ) count(g_wrong_claims);
    while (rt::read8(UART_LSR) & LSR_DR) {
        char c = char(rt::read8(UART_RBR));
        count(g_chars);
        if (g_line_ready) continue; // the main loop has not printed the last line yet: dropped
        if (c == '\r' || c == '\n') {
            if (g_len) g_line_ready = true;
        } else if (g_len + 1 < sizeof g_buf) {
            g_buf[g_len] = c;
            g_len = g_len + 1;
        }
    }
    rt::plic::complete(ctx, src);
}
} // namespace

void guest_main() {
    rt::test_start("uart-irq");
    const unsigned ctx = rt::plic::s_context(rt::cpu_index());
    rt::plic::set_priority(UART_IRQ, 1);
    rt::plic::set_threshold(ctx, 0);
    rt::plic::enable(ctx, UART_IRQ, true);
    rt::write8(UART_IER, IER_ERBFI);
    rt::plic::take_external_interrupts(on_external);
    rt::printf("uart-irq ready\n");
    for (;;) {
        while (!g_line_ready) asm volatile("wfi" ::: "memory");
        g_buf[g_len] = 0;
        rt::printf("uart-irq: %s (%u interrupts)\n", g_buf, g_interrupts);
        bool quit = g_len == 4 && g_buf[0] == 'q' && g_buf[1] == 'u' && g_buf[2] == 'i' && g_buf[3] == 't';
        g_len = 0;
        g_line_ready = false;
        if (quit) break;
    }
    rt::plic::take_external_interrupts(nullptr);
    rt::write8(UART_IER, 0);
    rt::check(g_interrupts > 0, "the input came by interrupt (%u interrupts, %u characters)", g_interrupts, g_chars);
    rt::check(g_wrong_claims == 0, "every claim named the UART's source %u (%u did not)", UART_IRQ, g_wrong_claims);
}
