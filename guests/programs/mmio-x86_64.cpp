// mmio, x86_64 (mmio.cpp): a 16550 in memory (configs/vms/x86_64/mmio.toml puts a second one at
// MMIO_UART, besides the port-space console) as a register file. QEMU's SVM has no decode assists,
// so cxvisor reads every trapping instruction from guest memory and decodes it
// (arch/x86_64/mmio_decode.cpp): MOV stores from byte registers including AH..BH and R8B..R15B,
// MOV of an immediate, MOV loads into byte registers (the rest of the register kept), MOVZX and
// MOVSX into 32- and 64-bit registers, base + displacement and SIB addressing. 2-, 4- and 8-byte
// accesses are not 16550 accesses: the guest gets #GP(0), cxvisor's abort on x86.
// mmio-la57 (CXV_MMIO_LA57) runs the same cases with the guest's own paging 5-level (CR4.LA57, a
// PML5 above the runtime's PML4: runtime/x86_64/start.S rt_la57), so cxvisor fetches every trapping
// instruction through a 5-level guest walk (x86_guest_translate).
#include "mmio-16550.hpp"

#ifdef CXV_MMIO_LA57
extern "C" const unsigned char rt_la57 = 1;
#endif

namespace {
constexpr uint64_t U = 0x1000'0000; // configs/vms/x86_64/mmio.toml
constexpr uint64_t SCR = U + 7;

void sb(uint64_t a, uint8_t v) { asm volatile("movb %b1, (%0)" ::"r"(a), "q"(v) : "memory"); }
uint64_t lbu(uint64_t a) {
    uint64_t v;
    asm volatile("movzbq (%1), %0" : "=r"(v) : "r"(a) : "memory");
    return v;
}
} // namespace

void mmio_cases() {
#ifdef CXV_MMIO_LA57
    uint64_t cr4;
    asm volatile("mov %%cr4, %0" : "=r"(cr4));
    rt::check(cr4 & (1u << 12), "CR4.LA57: the guest pages with 5 levels (CR4 0x%lx)", cr4);
#endif
    check_16550_register_file(U, sb, lbu, "movb/movzbq");
    uint64_t v;

    // MOV r8, m8 (8A) writes only the low byte.
    sb(SCR, 0x5C);
    v = 0x1122334455667788;
    asm volatile("movb (%1), %b0" : "+q"(v) : "r"(SCR) : "memory");
    rt::check(v == 0x112233445566775C, "movb (m), %%al keeps bits 63:8 (got 0x%lx)", v);
    // MOVSX / MOVZX widths: 0x80 sign-extended to 64 and to 32 bits (a 32-bit result clears 63:32).
    sb(SCR, 0x80);
    asm volatile("movsbq (%1), %0" : "=r"(v) : "r"(SCR) : "memory");
    rt::check(v == 0xFFFFFFFFFFFFFF80, "movsbq of 0x80 -> 0x%lx", v);
    v = ~0ull;
    asm volatile("movsbl (%1), %k0" : "+r"(v) : "r"(SCR) : "memory");
    rt::check(v == 0xFFFFFF80, "movsbl of 0x80 -> 0x%lx (bits 63:32 cleared)", v);
    v = ~0ull;
    asm volatile("movzbl (%1), %k0" : "+r"(v) : "r"(SCR) : "memory");
    rt::check(v == 0x80, "movzbl of 0x80 -> 0x%lx", v);
    v = ~0ull;
    asm volatile("movzbw (%1), %w0" : "+r"(v) : "r"(SCR) : "memory");
    rt::check(v == 0xFFFFFFFFFFFF0080, "movzbw of 0x80 -> 0x%lx (bits 63:16 kept)", v);

    // AH as source and BH as destination (no REX: register numbers 4..7 are the high bytes).
    {
        uint64_t out = 0x1111;
        asm volatile("movl $0x4200, %%eax\n\t"
                     "movb %%ah, (%1)\n\t"
                     "movq %0, %%rbx\n\t"
                     "movb (%1), %%bh\n\t"
                     "movq %%rbx, %0"
                     : "+r"(out)
                     : "r"(SCR)
                     : "rax", "rbx", "memory");
        rt::check(out == 0x4211, "movb %%ah -> SCR, movb SCR -> %%bh (got 0x%lx)", out);
    }
    // R15B and R9B (REX.R).
    {
        uint64_t out;
        asm volatile("movl $0x3C, %%r15d\n\t"
                     "movb %%r15b, (%1)\n\t"
                     "movq $-1, %%r9\n\t"
                     "movb (%1), %%r9b\n\t"
                     "movq %%r9, %0"
                     : "=r"(out)
                     : "r"(SCR)
                     : "r9", "r15", "memory");
        rt::check(out == 0xFFFFFFFFFFFFFF3C, "movb %%r15b -> SCR, movb SCR -> %%r9b (got 0x%lx)", out);
    }
    // An immediate (C6 /0), a displacement from the base, and base + index (SIB).
    asm volatile("movb $0x77, 7(%0)" ::"r"(U) : "memory");
    rt::check(lbu(SCR) == 0x77, "movb $0x77, 7(base) reaches SCR");
    asm volatile("movb $0x66, -1(%0)" ::"r"(U + 8) : "memory");
    v = 0;
    asm volatile("movzbl (%1,%2,1), %k0" : "=r"(v) : "r"(U), "r"(7ul) : "memory");
    rt::check(v == 0x66, "movb $0x66, -1(base+8) then movzbl (base,7) (got 0x%lx)", v);

    check_16550_refuses_wide(U, lbu, 0x66, "#GP (vector, error)");
}
