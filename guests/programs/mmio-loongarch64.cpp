// mmio, loongarch64 (mmio.cpp): the emulated 16550 (byte registers, reg-shift 0) as a register
// file. Under LVZ a guest access to an unmapped GPA exits with the GPA and, for a page-invalid
// exit, the instruction in BADI (on the TLB-refill path cxvisor reads it from guest memory);
// cxvisor decodes it (arch/loongarch64/lvz_exit.hpp, LA Vol. 1 v1.10 2.2.7.1 LD/ST with si12 and
// 2.2.7.2 LDX/STX): ST.B/LD.BU write and read back SCR, LCR, MCR (5 bits kept) and the divisor
// latches behind LCR.DLAB; LD.B sign-extends into all 64 bits; the si12 immediate (positive and
// negative) and the LDX/STX index register are part of the address; loads into t8 ($r20) and
// s8 ($r31) and stores from them, a store of $zero and a load into $zero (which stays 0). 2-, 4-
// and 8-byte accesses are not 16550 accesses: the guest gets the address error cxvisor gives for
// every refused access (ADEM with BADV = the address, rt::is_external_abort).
#include "mmio-16550.hpp"

namespace {
constexpr uint64_t U = rt::UART_BASE;
constexpr uint64_t SCR = U + 7;

void sb(uint64_t a, uint64_t v) { asm volatile("st.b %1, %0, 0" ::"r"(a), "r"(v) : "memory"); }
uint64_t lbu(uint64_t a) {
    uint64_t v;
    asm volatile("ld.bu %0, %1, 0" : "=r"(v) : "r"(a) : "memory");
    return v;
}
} // namespace

void mmio_cases() {
    check_16550_register_file(U, sb, lbu, "st.b/ld.bu");
    uint64_t v;

    // Sign extension: LD.B of 0x80 and of 0x7f.
    sb(SCR, 0x80);
    asm volatile("ld.b %0, %1, 0" : "=r"(v) : "r"(SCR) : "memory");
    rt::check(v == 0xFFFFFFFFFFFFFF80, "ld.b of 0x80 -> 0x%lx (sign-extended to 64 bits)", v);
    asm volatile("ld.bu %0, %1, 0" : "=r"(v) : "r"(SCR) : "memory");
    rt::check(v == 0x80, "ld.bu of 0x80 -> 0x%lx", v);
    sb(SCR, 0x7F);
    asm volatile("ld.b %0, %1, 0" : "=r"(v) : "r"(SCR) : "memory");
    rt::check(v == 0x7F, "ld.b of 0x7f -> 0x%lx", v);

    // The immediate is part of the address: +7 from the base, -1 from the next window byte.
    asm volatile("st.b %1, %0, 7" ::"r"(U), "r"(0x3Cul) : "memory");
    asm volatile("ld.bu %0, %1, -1" : "=r"(v) : "r"(U + 8) : "memory");
    rt::check(v == 0x3C, "st.b 7(base) then ld.bu -1(base+8) both reach SCR (got 0x%lx)", v);

    // The register-index forms: base + index register.
    asm volatile("stx.b %1, %0, %2" ::"r"(U), "r"(0x4Bul), "r"(7ul) : "memory");
    asm volatile("ldx.bu %0, %1, %2" : "=r"(v) : "r"(U + 9), "r"(-2l) : "memory");
    rt::check(v == 0x4B, "stx.b base+7 then ldx.bu (base+9)+(-2) both reach SCR (got 0x%lx)", v);
    asm volatile("ldx.b %0, %1, %2" : "=r"(v) : "r"(U), "r"(7ul) : "memory");
    rt::check(v == 0x4B, "ldx.b of 0x4b -> 0x%lx", v);

    // Other registers: t8 ($r20) and s8 ($r31) as data, $zero as source and as destination.
    {
        register uint64_t t8 asm("$t8") = 0x5A;
        asm volatile("st.b $t8, %0, 0" ::"r"(SCR), "r"(t8) : "memory");
        register uint64_t s8 asm("$s8");
        asm volatile("ld.bu $s8, %1, 0" : "=r"(s8) : "r"(SCR) : "memory");
        rt::check(s8 == 0x5A, "st.b from t8, ld.bu into s8 (got 0x%lx)", uint64_t(s8));
    }
    asm volatile("st.b $zero, %0, 0" ::"r"(SCR) : "memory");
    rt::check(lbu(SCR) == 0, "st.b $zero stores 0");
    sb(SCR, 0x66);
    uint64_t zero;
    asm volatile("ld.bu $zero, %1, 0\n move %0, $zero" : "=r"(zero) : "r"(SCR) : "memory");
    rt::check(zero == 0, "ld.bu into $zero leaves it 0 (got 0x%lx)", zero);
    rt::check(lbu(SCR) == 0x66, "SCR still 0x66 after the load into $zero");

    check_16550_refuses_wide(U, lbu, 0x66, "address error (esr, BADV)");
}
