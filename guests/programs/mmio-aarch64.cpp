// mmio, aarch64 (mmio.cpp): the emulated PL011 as a register file. Identification registers, reset
// value of CR, write/read-back at 32/16/8-bit width, sign-extending loads (ISS.SSE/SF), post/pre-
// indexed forms (ISV = 0: cxvisor must decode the instruction and write the base register back),
// and an 8-byte access the device does not support (-> external abort).
#include "rt.hpp"

namespace {
constexpr uint64_t U = rt::UART_BASE;
constexpr uint64_t IBRD = U + 0x24, FBRD = U + 0x28, LCR_H = U + 0x2C, CR = U + 0x30,
                   IMSC = U + 0x38;

uint64_t rd(uint64_t a, unsigned size) {
    uint64_t v;
    if (size == 1) asm volatile("ldrb %w0, [%1]" : "=r"(v) : "r"(a) : "memory");
    else if (size == 2) asm volatile("ldrh %w0, [%1]" : "=r"(v) : "r"(a) : "memory");
    else asm volatile("ldr %w0, [%1]" : "=r"(v) : "r"(a) : "memory");
    return v;
}
void wr(uint64_t a, unsigned size, uint64_t v) {
    if (size == 1) asm volatile("strb %w0, [%1]" ::"r"(v), "r"(a) : "memory");
    else if (size == 2) asm volatile("strh %w0, [%1]" ::"r"(v), "r"(a) : "memory");
    else asm volatile("str %w0, [%1]" ::"r"(v), "r"(a) : "memory");
}

struct Reg {
    const char* name;
    uint64_t addr;
    uint32_t v32, v16, v8; // values inside each register's implemented bits
};
} // namespace

void mmio_cases() {

    // PeriphID2 0x34: revision r1p5 (bits 7:4 = 3), which tells Linux the FIFOs are 32 deep.
    static const uint8_t ids[8] = {0x11, 0x10, 0x34, 0x00, 0x0D, 0xF0, 0x05, 0xB1};
    for (unsigned i = 0; i < 8; ++i) {
        uint32_t v = rt::read32(U + 0xFE0 + 4 * i);
        rt::check(v == ids[i], "%s%u (0x%03x) == 0x%02x (got 0x%x)", i < 4 ? "PeriphID" : "PCellID",
                  i & 3, 0xFE0 + 4 * i, ids[i], v);
    }
    uint32_t cr = rt::read32(CR);
    rt::check(cr == 0x300, "CR reset value == 0x300 (got 0x%x)", cr);

    const uint32_t saved[4] = {rt::read32(IBRD), rt::read32(FBRD), rt::read32(LCR_H),
                               rt::read32(IMSC)};
    static const Reg regs[4] = {{"IBRD", IBRD, 0x1234, 0xBEEF, 0x5A},
                                {"FBRD", FBRD, 0x2A, 0x15, 0x3F},
                                {"LCR_H", LCR_H, 0x6A, 0x70, 0x60},
                                {"IMSC", IMSC, 0x7FF, 0x2A5, 0xA5}};
    for (const Reg& r : regs) {
        wr(r.addr, 4, r.v32);
        uint64_t v = rd(r.addr, 4);
        rt::check(v == r.v32, "%s str/ldr 0x%x (got 0x%lx)", r.name, r.v32, v);
        wr(r.addr, 2, r.v16);
        v = rd(r.addr, 2);
        rt::check(v == r.v16, "%s strh/ldrh 0x%x (got 0x%lx)", r.name, r.v16, v);
        wr(r.addr, 1, r.v8);
        v = rd(r.addr, 1);
        rt::check(v == r.v8, "%s strb/ldrb 0x%x (got 0x%lx)", r.name, r.v8, v);
    }

    // Sign extension: IBRD holds 16 bits, so bit 7 and bit 15 can both be set.
    uint64_t v;
    rt::write32(IBRD, 0xFF80);
    asm volatile("ldrsb %x0, [%1]" : "=r"(v) : "r"(IBRD) : "memory");
    rt::check(v == 0xFFFFFFFFFFFFFF80, "ldrsb x of 0x80 -> %lx", v);
    asm volatile("ldrsb %w0, [%1]" : "=r"(v) : "r"(IBRD) : "memory");
    rt::check(v == 0xFFFFFF80, "ldrsb w of 0x80 -> %lx (upper 32 bits zero)", v);
    asm volatile("ldrsh %x0, [%1]" : "=r"(v) : "r"(IBRD) : "memory");
    rt::check(v == 0xFFFFFFFFFFFFFF80, "ldrsh x of 0xFF80 -> %lx", v);
    rt::write32(IBRD, 0x8001);
    asm volatile("ldrsh %w0, [%1]" : "=r"(v) : "r"(IBRD) : "memory");
    rt::check(v == 0xFFFF8001, "ldrsh w of 0x8001 -> %lx", v);
    asm volatile("ldrsb %x0, [%1]" : "=r"(v) : "r"(IBRD) : "memory");
    rt::check(v == 0x1, "ldrsb x of 0x01 -> %lx", v);

    // Writeback forms: no valid syndrome, cxvisor decodes the instruction.
    rt::write32(IBRD, 0x1234);
    uint64_t base = IBRD;
    uint32_t w;
    asm volatile("ldr %w0, [%1], #4" : "=&r"(w), "+r"(base) : : "memory");
    rt::check(w == 0x1234, "ldr w, [x], #4 reads IBRD (got 0x%x)", w);
    rt::check(base == IBRD + 4, "ldr w, [x], #4 advances the base by 4 (got %lx)", base);
    base = IBRD;
    asm volatile("str %w1, [%0, #4]!" : "+r"(base) : "r"(0x21u) : "memory");
    rt::check(base == FBRD, "str w, [x, #4]! advances the base by 4 (got %lx)", base);
    rt::check(rt::read32(FBRD) == 0x21, "str w, [x, #4]! wrote FBRD (got 0x%x)", rt::read32(FBRD));

    // 8-byte accesses are not PL011 accesses: external abort.
    rt::Probe p = rt::probe_read(IBRD, 8);
    rt::printf("ldr x from IBRD: %s ESR=%lx FAR=%lx\n", p.taken ? "exception" : "no exception",
               p.esr, p.far);
    rt::check(rt::is_external_abort(p, IBRD, false), "8-byte read -> external abort (EC 0x25)");
    p = rt::probe_write(IBRD, 8, 0);
    rt::printf("str x to IBRD: %s ESR=%lx FAR=%lx\n", p.taken ? "exception" : "no exception",
               p.esr, p.far);
    rt::check(rt::is_external_abort(p, IBRD, true), "8-byte write -> external abort (EC 0x25)");

    rt::write32(IBRD, saved[0]);
    rt::write32(FBRD, saved[1]);
    rt::write32(LCR_H, saved[2]);
    rt::write32(IMSC, saved[3]);
}
