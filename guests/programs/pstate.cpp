// pstate: an exception cxvisor injects must look exactly like one the hardware takes itself.
//
// For each combination of SCTLR_EL1.SPAN, SCTLR_EL1.DSSBS and PSTATE before the exception (PAN,
// UAO, DIT, SSBS where the CPU has them; condition flags), the guest runs
//   - UDF #0: UNDEFINED, taken to EL1 by the hardware, and
//   - MRS PMCR_EL0: trapped to cxvisor (MDCR_EL2.TPM), which injects UNDEF (Vcpu::inject_sync),
// and its handler records PSTATE on entry (NZCV, DAIF, PAN, UAO, DIT, SSBS, CurrentEL, SPSel),
// SPSR_EL1 and ESR_EL1. Both records must be equal (Arm ARM DDI0487 K.a, AArch64.TakeException),
// except NZCV: the pseudocode leaves the flags unchanged (cxvisor and KVM keep them), QEMU 7.2's
// exception entry clears them; the difference is printed, not counted.
// The old cxvisor set PSTATE = 0x3C5 for every injected exception: it lost the condition flags
// and, on FEAT_PAN CPUs, did not set PAN when SCTLR_EL1.SPAN == 0.
#include "rt.hpp"

namespace {
struct Capture {
    uint64_t nzcv, daif, pan, uao, dit, ssbs, el, spsel, spsr, esr;
};
Capture g_cap;
uint64_t g_feat; // bit 0 PAN, 1 UAO, 2 DIT, 3 SSBS: which PSTATE registers the handler may read
} // namespace

extern "C" Capture* pstate_capture() { return &g_cap; }

asm(R"(
    // Stores PSTATE register \reg at [x0 + \off] if bit \bit of g_feat (in x2) says it exists, else 0.
    .macro cap_if bit, reg, off
    mov     x1, #0
    tbz     x2, #\bit, 1f
    mrs     x1, \reg
1:  str     x1, [x0, #\off]
    .endm
    .section .text.pstate_vectors, "ax"
    .balign 2048
pstate_vectors:
    .org    pstate_vectors + 0x200          // current EL, SP_ELx, synchronous
    stp     x0, x1, [sp, #-32]!
    str     x2, [sp, #16]
    adrp    x0, _ZN12_GLOBAL__N_15g_capE
    add     x0, x0, :lo12:_ZN12_GLOBAL__N_15g_capE
    adrp    x2, _ZN12_GLOBAL__N_16g_featE
    ldr     x2, [x2, :lo12:_ZN12_GLOBAL__N_16g_featE]
    mrs     x1, nzcv
    str     x1, [x0, #0]
    mrs     x1, daif
    str     x1, [x0, #8]
    cap_if  0, S3_0_C4_C2_3, 16             // PAN
    cap_if  1, S3_0_C4_C2_4, 24             // UAO
    cap_if  2, S3_3_C4_C2_5, 32             // DIT
    cap_if  3, S3_3_C4_C2_6, 40             // SSBS
    mrs     x1, CurrentEL
    str     x1, [x0, #48]
    mrs     x1, SPSel
    str     x1, [x0, #56]
    mrs     x1, spsr_el1
    str     x1, [x0, #64]
    mrs     x1, esr_el1
    str     x1, [x0, #72]
    mrs     x1, elr_el1                     // step over the instruction
    add     x1, x1, #4
    msr     elr_el1, x1
    ldr     x2, [sp, #16]
    ldp     x0, x1, [sp], #32
    eret
    .org    pstate_vectors + 0x800
    .text
)");
extern "C" char pstate_vectors[];

namespace {
// Runs `insn` (0: UDF #0, 1: MRS PMCR_EL0) with the given PSTATE extras set just before it.
Capture take(int insn, uint64_t nzcv, uint64_t pan, uint64_t uao, uint64_t dit, uint64_t ssbs) {
    g_cap = Capture{};
    const uint64_t f = g_feat;
    if (f & 1) asm volatile("msr S3_0_C4_C2_3, %0" ::"r"(pan) : "memory");
    if (f & 2) asm volatile("msr S3_0_C4_C2_4, %0" ::"r"(uao) : "memory");
    if (f & 4) asm volatile("msr S3_3_C4_C2_5, %0" ::"r"(dit) : "memory");
    if (f & 8) asm volatile("msr S3_3_C4_C2_6, %0" ::"r"(ssbs) : "memory");
    uint64_t scratch = 0;
    if (insn == 0)
        asm volatile("msr nzcv, %1\n udf #0" : "+r"(scratch) : "r"(nzcv) : "cc", "memory");
    else
        asm volatile("msr nzcv, %1\n mrs %0, pmcr_el0" : "+r"(scratch) : "r"(nzcv) : "cc", "memory");
    const uint64_t zero = 0;
    if (f & 1) asm volatile("msr S3_0_C4_C2_3, %0" ::"r"(zero) : "memory");
    if (f & 2) asm volatile("msr S3_0_C4_C2_4, %0" ::"r"(zero) : "memory");
    if (f & 4) asm volatile("msr S3_3_C4_C2_5, %0" ::"r"(zero) : "memory");
    if (f & 8) asm volatile("msr S3_3_C4_C2_6, %0" ::"r"(zero) : "memory");
    return g_cap;
}
} // namespace

void guest_main() {
    rt::test_start("pstate");
    uint64_t mmfr1, mmfr2, pfr0, pfr1;
    asm volatile("mrs %0, id_aa64mmfr1_el1" : "=r"(mmfr1));
    asm volatile("mrs %0, id_aa64mmfr2_el1" : "=r"(mmfr2));
    asm volatile("mrs %0, id_aa64pfr0_el1" : "=r"(pfr0));
    asm volatile("mrs %0, id_aa64pfr1_el1" : "=r"(pfr1));
    g_feat = (((mmfr1 >> 20) & 0xF) ? 1 : 0) | (((mmfr2 >> 4) & 0xF) ? 2 : 0) | (((pfr0 >> 48) & 0xF) ? 4 : 0) |
             (((pfr1 >> 4) & 0xF) >= 2 ? 8 : 0); // SSBS >= 2: the PSTATE.SSBS register exists
    rt::printf("features: PAN %lu UAO %lu DIT %lu SSBS %lu\n", g_feat & 1, (g_feat >> 1) & 1, (g_feat >> 2) & 1,
               (g_feat >> 3) & 1);
    uint64_t sctlr0, vbar0;
    asm volatile("mrs %0, sctlr_el1" : "=r"(sctlr0));
    asm volatile("mrs %0, vbar_el1" : "=r"(vbar0));
    asm volatile("msr vbar_el1, %0\n isb" ::"r"(pstate_vectors) : "memory");
    unsigned cases = 0, differ = 0;
    for (unsigned k = 0; k < 16; ++k) {
        const uint64_t span = k & 1, dssbs = (k >> 1) & 1, pan = ((k >> 2) & 1) << 22;
        const uint64_t other = (k >> 3) & 1; // UAO, DIT, SSBS all set or all clear
        const uint64_t nzcv = (k & 1 ? 0xA0000000ull : 0x50000000ull);
        uint64_t sctlr = (sctlr0 & ~((1ull << 23) | (1ull << 44))) | (span << 23) | (dssbs << 44);
        if (!(g_feat & 1) && !span) continue;  // SPAN is RES1 without FEAT_PAN
        if (!(g_feat & 8) && dssbs) continue;  // DSSBS is RES0 without FEAT_SSBS
        asm volatile("msr sctlr_el1, %0\n isb" ::"r"(sctlr) : "memory");
        Capture hw = take(0, nzcv, pan, other << 23, other << 24, other << 12);
        Capture inj = take(1, nzcv, pan, other << 23, other << 24, other << 12);
        asm volatile("msr sctlr_el1, %0\n isb" ::"r"(sctlr0) : "memory");
        ++cases;
        const uint64_t* a = &hw.nzcv;
        const uint64_t* b = &inj.nzcv;
        static const char* const names[] = {"NZCV", "DAIF", "PAN", "UAO", "DIT", "SSBS", "CurrentEL", "SPSel",
                                            "SPSR_EL1", "ESR_EL1"};
        for (unsigned i = 0; i < 10; ++i) {
            if (a[i] == b[i]) continue;
            if (i == 0 && b[i] == nzcv) {
                if (k < 2) rt::printf("note: NZCV on entry: hardware (QEMU) %lx, injected %lx (kept)\n", a[i], b[i]);
                continue;
            }
            ++differ;
            rt::printf("SPAN %lu DSSBS %lu PAN %lu others %lu: %s on entry: hardware %lx, injected %lx\n", span, dssbs,
                       pan >> 22, other, names[i], a[i], b[i]);
        }
    }
    asm volatile("msr vbar_el1, %0\n isb" ::"r"(vbar0) : "memory");
    rt::check(cases >= 2, "%u combinations tried", cases);
    rt::check(differ == 0, "injected UNDEF enters EL1 exactly like a hardware UNDEF (%u differences)", differ);
}
