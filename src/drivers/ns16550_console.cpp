// cxvisor's console on a 16550-compatible UART (TI PC16550D datasheet, "Register Description":
// RBR/THR 0, IER 1, IIR/FCR 2, LCR 3, MCR 4, LSR 5), on any board that has one: the ISA's
// platform reader finds it in the host DTB (stdout-path) and passes its layout; nothing is
// hard-coded. The firmware (OpenSBI) has already set the line up (LCR, divisor): only the
// interrupt enables and MCR are touched.
#include "ns16550_console.hpp"

namespace {

constexpr u32 RBR = 0, THR = 0, IER = 1, MCR = 4, LSR = 5;
constexpr u32 IER_ERBFI = 1u << 0;          // received data available interrupt
constexpr u32 LSR_DR = 1u << 0, LSR_THRE = 1u << 5;
// OUT2 gates the UART's interrupt output on PC-style boards (datasheet, MCR bit 3); DTR and RTS
// tell the other side that the console is there.
constexpr u32 MCR_DTR = 1u << 0, MCR_RTS = 1u << 1, MCR_OUT2 = 1u << 3;

struct Uart {
    u64 base;
    u32 shift;
    u32 width;
} g_uart;

u32 rd(const Uart* u, u32 r) {
    const u64 a = u->base + (u64(r) << u->shift);
    return u->width == 4 ? *reinterpret_cast<volatile u32*>(a) : *reinterpret_cast<volatile u8*>(a);
}
void wr(const Uart* u, u32 r, u32 v) {
    const u64 a = u->base + (u64(r) << u->shift);
    if (u->width == 4) *reinterpret_cast<volatile u32*>(a) = v;
    else *reinterpret_cast<volatile u8*>(a) = u8(v);
}

void putc(void* ctx, char c) {
    auto* u = static_cast<const Uart*>(ctx);
    while (!(rd(u, LSR) & LSR_THRE)) {}
    wr(u, THR, u8(c));
}

bool getc(void* ctx, char* out) {
    auto* u = static_cast<const Uart*>(ctx);
    if (!(rd(u, LSR) & LSR_DR)) return false;
    *out = char(rd(u, RBR) & 0xFF);
    return true;
}

// Only IER changes: the receive interrupt is a level that stays up while data waits (datasheet,
// IIR priority 2 "received data available"), so data that arrived while it was masked raises it
// again as soon as it is unmasked, and nothing is lost.
void set_rx_irq(void* ctx, bool enabled) {
    auto* u = static_cast<const Uart*>(ctx);
    wr(u, IER, enabled ? IER_ERBFI : 0);
}

} // namespace

ConsoleUart ns16550_console(u64 base, u32 reg_shift, u32 reg_io_width) {
    g_uart = {base, reg_shift, reg_io_width == 4 ? 4u : 1u};
    wr(&g_uart, IER, 0);
    wr(&g_uart, MCR, MCR_DTR | MCR_RTS | MCR_OUT2);
    return ConsoleUart{putc, getc, set_rx_irq, &g_uart};
}
