// cxvisor's console on a 16550-compatible UART (TI PC16550D datasheet, "Register Description":
// RBR/THR 0, IER 1, IIR/FCR 2, LCR 3, MCR 4, LSR 5), on any board that has one: the ISA's
// platform reader finds it in the host DTB (stdout-path) and passes its layout, or passes its own
// register access (x86: I/O ports, Ns16550Access); nothing is hard-coded. The line (LCR, divisor)
// is the firmware's (OpenSBI) or the ISA's to set up: only the interrupt enables and MCR are
// touched here.
#include "ns16550_console.hpp"

namespace {

constexpr u32 RBR = 0, THR = 0, IER = 1, MCR = 4, LSR = 5;
constexpr u32 IER_ERBFI = 1u << 0;          // received data available interrupt
constexpr u32 LSR_DR = 1u << 0, LSR_THRE = 1u << 5;
// OUT2 gates the UART's interrupt output on PC-style boards (datasheet, MCR bit 3); DTR and RTS
// tell the other side that the console is there.
constexpr u32 MCR_DTR = 1u << 0, MCR_RTS = 1u << 1, MCR_OUT2 = 1u << 3;

// Memory-mapped registers (the DTB's reg-shift and reg-io-width).
struct MmioUart {
    u64 base;
    u32 shift;
    u32 width;
} g_mmio;

u32 mmio_read(void* ctx, u32 r) {
    auto* u = static_cast<const MmioUart*>(ctx);
    const u64 a = u->base + (u64(r) << u->shift);
    return u->width == 4 ? *reinterpret_cast<volatile u32*>(a) : *reinterpret_cast<volatile u8*>(a);
}
void mmio_write(void* ctx, u32 r, u32 v) {
    auto* u = static_cast<const MmioUart*>(ctx);
    const u64 a = u->base + (u64(r) << u->shift);
    if (u->width == 4) *reinterpret_cast<volatile u32*>(a) = v;
    else *reinterpret_cast<volatile u8*>(a) = u8(v);
}

Ns16550Access g_uart; // how the console's UART is reached

u32 rd(const Ns16550Access* u, u32 r) { return u->read(u->ctx, r); }
void wr(const Ns16550Access* u, u32 r, u32 v) { u->write(u->ctx, r, v); }

void putc(void* ctx, char c) {
    auto* u = static_cast<const Ns16550Access*>(ctx);
    while (!(rd(u, LSR) & LSR_THRE)) {}
    wr(u, THR, u8(c));
}

bool getc(void* ctx, char* out) {
    auto* u = static_cast<const Ns16550Access*>(ctx);
    if (!(rd(u, LSR) & LSR_DR)) return false;
    *out = char(rd(u, RBR) & 0xFF);
    return true;
}

// Only IER changes: the receive interrupt is a level that stays up while data waits (datasheet,
// IIR priority 2 "received data available"), so data that arrived while it was masked raises it
// again as soon as it is unmasked, and nothing is lost.
void set_rx_irq(void* ctx, bool enabled) {
    auto* u = static_cast<const Ns16550Access*>(ctx);
    wr(u, IER, enabled ? IER_ERBFI : 0);
}

} // namespace

ConsoleUart ns16550_console(Ns16550Access access) {
    g_uart = access;
    wr(&g_uart, IER, 0);
    wr(&g_uart, MCR, MCR_DTR | MCR_RTS | MCR_OUT2);
    return ConsoleUart{putc, getc, set_rx_irq, &g_uart};
}

ConsoleUart ns16550_console(u64 base, u32 reg_shift, u32 reg_io_width) {
    g_mmio = {base, reg_shift, reg_io_width == 4 ? 4u : 1u};
    return ns16550_console(Ns16550Access{mmio_read, mmio_write, &g_mmio});
}
