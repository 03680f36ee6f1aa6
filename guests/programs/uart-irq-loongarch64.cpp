// uart-irq, the loongarch64 part: the UART is PCH-PIC line 2 (QEMU virt's, uart-irq.toml), sent as
// EIOINTC vector 2 (HTMSI_VEC), level-triggered and unmasked at the PCH-PIC (Loongson 7A1000 bridge
// manual, ch. 5, at QEMU virt's 0x1000_0000); at the EIOINTC (Loongson 3A5000 manual v1.03, 11.2,
// IOCSR 0x1400-0x1cff) vector 2 is enabled, routed to this core (COREMAP) and its group to pin IP0
// (IPMAP), which is this core's HWI0, ESTAT.IS[2] (LoongArch Reference Manual Vol. 1 v1.10, 7.4.5).
// The handler takes it with ECFG.LIE[2] and CRMD.IE; the claim is the vector this core's COREISR
// shows, the completion writes it back to COREISR (write 1 to clear). CRMD.IE stays set while
// interrupts are taken, and the guest sleeps with IDLE (docs/porting.md "loongarch64": the LVZ QEMU
// takes a pending interrupt at guest entry only with IE already set).
#include "rt.hpp"

namespace uart_irq {
extern const unsigned LINE = 2; // uart-irq.toml's ns16550a irq (QEMU virt's UART's PCH-PIC line)
namespace {
constexpr uint64_t PCH_PIC = 0x1000'0000, PIC_INT_MASK = 0x20, PIC_INT_EDGE = 0x60, PIC_INT_POL = 0x3E0,
                   PIC_HTMSI_VEC = 0x200;
constexpr uint64_t EIO_IPMAP = 0x14C0, EIO_ENABLE = 0x1600, EIO_COREISR = 0x1800, EIO_COREMAP = 0x1C00;
constexpr unsigned VECTOR = LINE; // the PCH-PIC sends line n as vector n, as Linux programs it
constexpr uint64_t IS_HWI0 = 1u << 2;
void (*volatile g_handler)();

uint32_t pic_read32(uint64_t off) { return rt::read32(PCH_PIC + off); }
void pic_write32(uint64_t off, uint32_t v) { rt::write32(PCH_PIC + off, v); }
inline void iocsr_write8(uint64_t a, uint8_t v) { asm volatile("iocsrwr.b %0, %1" ::"r"(uint64_t(v)), "r"(a) : "memory"); }

bool on_interrupt(uint64_t estat) {
    if (!(estat & IS_HWI0)) return false;
    if (auto h = g_handler) h();
    return true;
}
} // namespace

uint8_t read(unsigned reg) { return rt::read8(rt::UART_BASE + reg); }
void write(unsigned reg, uint8_t v) { rt::write8(rt::UART_BASE + reg, v); }
void take_interrupts(void (*handler)()) {
    if (!handler) {
        RT_CSRXCHG(rt::csr::CRMD, 0, rt::CRMD_IE);
        RT_CSRXCHG(rt::csr::ECFG, 0, IS_HWI0);
        rt::iocsr_write32(EIO_ENABLE, 0);
        pic_write32(PIC_INT_MASK, ~0u);
        rt::set_interrupt_handler(nullptr);
        g_handler = nullptr;
        return;
    }
    g_handler = handler;
    rt::set_interrupt_handler(on_interrupt);
    rt::write8(PCH_PIC + PIC_HTMSI_VEC + LINE, uint8_t(VECTOR));
    pic_write32(PIC_INT_EDGE, pic_read32(PIC_INT_EDGE) & ~(1u << LINE)); // level
    pic_write32(PIC_INT_POL, pic_read32(PIC_INT_POL) & ~(1u << LINE));   // active high
    iocsr_write8(EIO_IPMAP + VECTOR / 32, 1u << 0);                      // the group on IP0
    iocsr_write8(EIO_COREMAP + VECTOR, uint8_t(1u << rt::cpu_index()));   // to this core
    rt::iocsr_write32(EIO_ENABLE + VECTOR / 32 * 4, 1u << (VECTOR % 32));
    pic_write32(PIC_INT_MASK, pic_read32(PIC_INT_MASK) & ~(1u << LINE)); // unmasked last
    RT_CSRXCHG(rt::csr::ECFG, IS_HWI0, IS_HWI0);
    RT_CSRXCHG(rt::csr::CRMD, rt::CRMD_IE, rt::CRMD_IE);
}
unsigned claim() {
    const uint32_t isr = rt::iocsr_read32(EIO_COREISR + VECTOR / 32 * 4);
    if (!(isr & (1u << (VECTOR % 32)))) return 0;
    return VECTOR == LINE ? LINE : 0;
}
void complete(unsigned line) { rt::iocsr_write32(EIO_COREISR + line / 32 * 4, 1u << (line % 32)); }
void wait() { asm volatile("dbar 0\n idle 0" ::: "memory"); }
} // namespace uart_irq
