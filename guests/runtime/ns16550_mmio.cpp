// The console of the runtimes whose VM has a memory-mapped 16550 with byte registers (reg-shift 0)
// at the ISA's UART_BASE (riscv64, loongarch64): polled output and input. x86_64's 16550 sits in
// the port space and has its own (x86_64/arch.cpp).
#include "rt.hpp"
#include "rt_detail.hpp"

namespace rt::detail {
namespace {
// The PC16550D datasheet's registers: THR/RBR at 0, LSR at 5.
constexpr uint64_t UART_THR = UART_BASE + 0, UART_RBR = UART_BASE + 0, UART_LSR = UART_BASE + 5;
constexpr uint8_t LSR_DR = 1u << 0;   // data ready
constexpr uint8_t LSR_THRE = 1u << 5; // transmit holding register empty
} // namespace

void uart_putc(char c) {
    while (!(read8(UART_LSR) & LSR_THRE)) {
    }
    write8(UART_THR, static_cast<uint8_t>(c));
}
int uart_try_getc() { return (read8(UART_LSR) & LSR_DR) ? read8(UART_RBR) : -1; }

} // namespace rt::detail
