// cxvisor's console on an ARM PrimeCell UART PL011 (ARM DDI0183 section 3.3 register summary), on
// any board that has one: the ISA's platform reader finds it in the host DTB (stdout-path) and
// passes its base; nothing is hard-coded.
#include "pl011_console.hpp"

namespace {

constexpr u64 DR = 0x000, FR = 0x018, IMSC = 0x038;
constexpr u32 FR_RXFE = 1u << 4, FR_TXFF = 1u << 5;
constexpr u32 IMSC_RXIM = 1u << 4, IMSC_RTIM = 1u << 6;

volatile u32& reg(void* ctx, u64 off) { return *reinterpret_cast<volatile u32*>(u64(ctx) + off); }

void putc(void* ctx, char c) {
    while (reg(ctx, FR) & FR_TXFF) {}
    reg(ctx, DR) = u8(c);
}

bool getc(void* ctx, char* out) {
    if (reg(ctx, FR) & FR_RXFE) return false;
    *out = char(reg(ctx, DR) & 0xFF);
    return true;
}

// Only IMSC changes, never ICR: clearing RXIC/RTIC would lose the interrupt of a character that is
// already waiting (QEMU raises RX only when a character arrives, and none arrives while its
// holding register is full), and reading would never resume.
void set_rx_irq(void* ctx, bool enabled) { reg(ctx, IMSC) = enabled ? IMSC_RXIM | IMSC_RTIM : 0; }

} // namespace

ConsoleUart pl011_console(u64 base) { return ConsoleUart{putc, getc, set_rx_irq, reinterpret_cast<void*>(base)}; }
