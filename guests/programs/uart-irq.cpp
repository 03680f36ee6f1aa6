// uart-irq: console input taken by interrupt. The 16550's receive interrupt (IER.ERBFI, PC16550D
// "Interrupt Enable Register") is one of the VM's interrupt lines (uart-irq.toml), routed by the
// ISA's part (programs/uart-irq-<isa>.cpp: riscv64 the vPLIC source 10, x86_64 GSI 4 at the
// vLAPIC's vector 0x24); the guest enables it at the UART and sleeps. Each interrupt is claimed,
// the receiver drained (LSR.DR) and the interrupt completed; the main loop only prints whole
// lines: "uart-irq: <line> (<n> interrupts)". "quit" ends the test, which passes if every
// character came through the interrupt handler (the main loop never reads the UART's receiver)
// and the claims named only the UART's line.
#include "rt.hpp"

// The ISA's part.
namespace uart_irq {
extern const unsigned LINE;        // the UART's interrupt line in the VM's config
uint8_t read(unsigned reg);        // 16550 register `reg` (0 RBR, 1 IER, 5 LSR)
void write(unsigned reg, uint8_t v);
void take_interrupts(void (*on_interrupt)()); // route LINE to this vCPU and let it in; null: off
unsigned claim();                  // the line being served, 0 if none
void complete(unsigned line);
void wait();                       // sleep until an interrupt (WFI / HLT)
} // namespace uart_irq

namespace {
constexpr unsigned RBR = 0, IER = 1, LSR = 5;
constexpr uint8_t IER_ERBFI = 1u << 0, LSR_DR = 1u << 0;

char g_buf[128];
volatile unsigned g_len;
volatile bool g_line_ready;
unsigned g_interrupts, g_chars, g_wrong_claims, g_spurious; // handler counters (atomic adds)

void count(unsigned& c) { __atomic_add_fetch(&c, 1u, __ATOMIC_RELAXED); }

void on_interrupt() {
    const unsigned line = uart_irq::claim();
    if (line == 0) {
        count(g_spurious); // another vCPU took it, or it went away: allowed, counted
        return;
    }
    count(g_interrupts);
    if (line != uart_irq::LINE) count(g_wrong_claims);
    while (uart_irq::read(LSR) & LSR_DR) {
        char c = char(uart_irq::read(RBR));
        count(g_chars);
        if (g_line_ready) continue; // the main loop has not printed the last line yet: dropped
        if (c == '\r' || c == '\n') {
            if (g_len) g_line_ready = true;
        } else if (g_len + 1 < sizeof g_buf) {
            g_buf[g_len] = c;
            g_len = g_len + 1;
        }
    }
    uart_irq::complete(line);
}
} // namespace

void guest_main() {
    rt::test_start("uart-irq");
    uart_irq::take_interrupts(on_interrupt);
    uart_irq::write(IER, IER_ERBFI);
    rt::printf("uart-irq ready\n");
    for (;;) {
        while (!g_line_ready) uart_irq::wait();
        g_buf[g_len] = 0;
        rt::printf("uart-irq: %s (%u interrupts)\n", g_buf, g_interrupts);
        bool quit = g_len == 4 && g_buf[0] == 'q' && g_buf[1] == 'u' && g_buf[2] == 'i' && g_buf[3] == 't';
        g_len = 0;
        g_line_ready = false;
        if (quit) break;
    }
    uart_irq::take_interrupts(nullptr);
    uart_irq::write(IER, 0);
    rt::check(g_interrupts > 0, "the input came by interrupt (%u interrupts, %u characters)", g_interrupts, g_chars);
    rt::check(g_wrong_claims == 0, "every claim named the UART's line %u (%u did not)", uart_irq::LINE, g_wrong_claims);
}
