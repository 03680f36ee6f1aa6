// mmio, riscv64 (mmio.cpp): the emulated 16550 (byte registers, reg-shift 0) as a register file.
// QEMU 7.2 leaves htinst 0, so cxvisor reads and decodes each trapping instruction itself
// (arch/riscv64/mmio_decode.cpp): SB/LBU write and read back SCR, LCR, MCR (5 bits kept) and the
// divisor latches behind LCR.DLAB; LB sign-extends into all 64 bits; the immediate (positive and
// negative) is part of the address; loads into t6 and s11 and stores from them, a store of x0 and a
// load into x0 (which must stay 0). 2-, 4- and 8-byte accesses are not 16550 accesses: the guest
// gets an access fault (load 5, store/AMO 7) with stval = the address, as from any refused access.
#include "mmio-16550.hpp"

namespace {
constexpr uint64_t U = rt::UART_BASE;
constexpr uint64_t SCR = U + 7;

void sb(uint64_t a, uint64_t v) { asm volatile("sb %1, 0(%0)" ::"r"(a), "r"(v) : "memory"); }
uint64_t lbu(uint64_t a) {
    uint64_t v;
    asm volatile("lbu %0, 0(%1)" : "=r"(v) : "r"(a) : "memory");
    return v;
}
} // namespace

void mmio_cases() {
    check_16550_register_file(U, sb, lbu, "sb/lbu");
    uint64_t v;

    // Sign extension: LB of 0x80 and of 0x7f.
    sb(SCR, 0x80);
    asm volatile("lb %0, 0(%1)" : "=r"(v) : "r"(SCR) : "memory");
    rt::check(v == 0xFFFFFFFFFFFFFF80, "lb of 0x80 -> 0x%lx (sign-extended to 64 bits)", v);
    asm volatile("lbu %0, 0(%1)" : "=r"(v) : "r"(SCR) : "memory");
    rt::check(v == 0x80, "lbu of 0x80 -> 0x%lx", v);
    sb(SCR, 0x7F);
    asm volatile("lb %0, 0(%1)" : "=r"(v) : "r"(SCR) : "memory");
    rt::check(v == 0x7F, "lb of 0x7f -> 0x%lx", v);

    // The immediate is part of the address: +7 from the base, -1 from the next window byte.
    asm volatile("sb %1, 7(%0)" ::"r"(U), "r"(0x3Cul) : "memory");
    asm volatile("lbu %0, -1(%1)" : "=r"(v) : "r"(U + 8) : "memory");
    rt::check(v == 0x3C, "sb 7(base) then lbu -1(base+8) both reach SCR (got 0x%lx)", v);

    // Other registers: t6 (x31) and s11 (x27) as data, x0 as source and as destination.
    {
        register uint64_t t6 asm("t6") = 0x5A;
        asm volatile("sb t6, 0(%0)" ::"r"(SCR), "r"(t6) : "memory");
        register uint64_t s11 asm("s11");
        asm volatile("lbu s11, 0(%1)" : "=r"(s11) : "r"(SCR) : "memory");
        rt::check(s11 == 0x5A, "sb from t6, lbu into s11 (got 0x%lx)", uint64_t(s11));
    }
    asm volatile("sb zero, 0(%0)" ::"r"(SCR) : "memory");
    rt::check(lbu(SCR) == 0, "sb zero stores 0");
    sb(SCR, 0x66);
    uint64_t zero;
    asm volatile("lbu zero, 0(%1)\n mv %0, zero" : "=r"(zero) : "r"(SCR) : "memory");
    rt::check(zero == 0, "lbu into x0 leaves it 0 (got 0x%lx)", zero);
    rt::check(lbu(SCR) == 0x66, "SCR still 0x66 after the load into x0");

    check_16550_refuses_wide(U, lbu, 0x66, "access fault (scause, stval)");
}
