// fpu, the aarch64 part: q0-q31, FPCR and FPSR (Arm ARM C5.2.8, C5.2.10), FP enabled at EL1 with
// CPACR_EL1.FPEN. The compiler never allocates FP/SIMD registers here (-mgeneral-regs-only).
#include "rt.hpp"

uint64_t fpu_splitmix64(uint64_t& s); // fpu.cpp

namespace {
// FPCR (C5.2.8): AHP bit 26, DN bit 25, FZ bit 24, RMode bits 23:22.
constexpr uint64_t FPCR_AHP = 1ull << 26, FPCR_DN = 1ull << 25, FPCR_FZ = 1ull << 24;
constexpr unsigned FPCR_RMODE_SHIFT = 22;
// FPSR (C5.2.10): QC bit 27, IDC bit 7, IXC/UFC/OFC/DZC/IOC bits 4:0. No FP instruction runs
// between writing and reading it back, so these sticky flags keep exactly the value written.
constexpr uint64_t FPSR_MASK = (1ull << 27) | (1ull << 7) | 0x1f;

struct alignas(16) FpRegs {
    uint64_t v[32][2]; // v[n][0] = low 64 bits of qn, v[n][1] = high 64 bits
    uint64_t fpcr, fpsr;
};

void make_pattern(FpRegs& r, uint64_t vm_id, unsigned round) {
    uint64_t seed = (vm_id << 32) ^ (uint64_t(round) << 8) ^ 0xF9F9;
    for (auto& q : r.v) {
        q[0] = fpu_splitmix64(seed);
        q[1] = fpu_splitmix64(seed);
    }
    // Distinct per VM (ids 20..22 give three different rounding modes in each round) and per round.
    r.fpcr = (((vm_id + round + 1) & 3) << FPCR_RMODE_SHIFT) | ((vm_id & 1) ? FPCR_FZ : 0) |
             (((vm_id + round) & 1) ? FPCR_DN : 0) | ((vm_id & 2) ? FPCR_AHP : 0);
    r.fpsr = fpu_splitmix64(seed) & FPSR_MASK;
}

void enable_fp() {
    // CPACR_EL1.FPEN (bits 21:20) = 0b11: no trapping of FP/SIMD at EL0 or EL1 (D13.2.30).
    uint64_t v;
    asm volatile("mrs %0, cpacr_el1" : "=r"(v));
    v |= 3ull << 20;
    asm volatile("msr cpacr_el1, %0\n isb" ::"r"(v) : "memory");
}

// The compiler never allocates FP/SIMD registers here (-mgeneral-regs-only), so it need not be told
// that these blocks change them; the assembler accepts them (-mcpu=cortex-a72 has fp+simd).
void load_fp(const FpRegs& r) {
    asm volatile("ldp q0, q1, [%0, #0]\n ldp q2, q3, [%0, #32]\n"
                 "ldp q4, q5, [%0, #64]\n ldp q6, q7, [%0, #96]\n"
                 "ldp q8, q9, [%0, #128]\n ldp q10, q11, [%0, #160]\n"
                 "ldp q12, q13, [%0, #192]\n ldp q14, q15, [%0, #224]\n"
                 "ldp q16, q17, [%0, #256]\n ldp q18, q19, [%0, #288]\n"
                 "ldp q20, q21, [%0, #320]\n ldp q22, q23, [%0, #352]\n"
                 "ldp q24, q25, [%0, #384]\n ldp q26, q27, [%0, #416]\n"
                 "ldp q28, q29, [%0, #448]\n ldp q30, q31, [%0, #480]\n"
                 "msr fpcr, %1\n msr fpsr, %2\n isb"
                 :
                 : "r"(r.v), "r"(r.fpcr), "r"(r.fpsr)
                 : "memory");
}

void store_fp(FpRegs& r) {
    uint64_t fpcr, fpsr;
    asm volatile("stp q0, q1, [%2, #0]\n stp q2, q3, [%2, #32]\n"
                 "stp q4, q5, [%2, #64]\n stp q6, q7, [%2, #96]\n"
                 "stp q8, q9, [%2, #128]\n stp q10, q11, [%2, #160]\n"
                 "stp q12, q13, [%2, #192]\n stp q14, q15, [%2, #224]\n"
                 "stp q16, q17, [%2, #256]\n stp q18, q19, [%2, #288]\n"
                 "stp q20, q21, [%2, #320]\n stp q22, q23, [%2, #352]\n"
                 "stp q24, q25, [%2, #384]\n stp q26, q27, [%2, #416]\n"
                 "stp q28, q29, [%2, #448]\n stp q30, q31, [%2, #480]\n"
                 "mrs %0, fpcr\n mrs %1, fpsr"
                 : "=&r"(fpcr), "=&r"(fpsr)
                 : "r"(r.v)
                 : "memory");
    r.fpcr = fpcr;
    r.fpsr = fpsr;
}

// Compares and reports up to 4 differences; returns the number of differing items.
unsigned compare(const FpRegs& want, const FpRegs& got) {
    unsigned bad = 0;
    for (unsigned n = 0; n < 32; ++n)
        if (want.v[n][0] != got.v[n][0] || want.v[n][1] != got.v[n][1]) {
            if (bad++ < 4)
                rt::printf("q%u: expected %016lx%016lx, got %016lx%016lx\n", n, want.v[n][1],
                           want.v[n][0], got.v[n][1], got.v[n][0]);
        }
    if (want.fpcr != got.fpcr) {
        if (bad++ < 4) rt::printf("FPCR: expected %lx, got %lx\n", want.fpcr, got.fpcr);
    }
    if (want.fpsr != (got.fpsr & FPSR_MASK)) {
        if (bad++ < 4) rt::printf("FPSR: expected %lx, got %lx\n", want.fpsr, got.fpsr);
    }
    return bad;
}

FpRegs g_want, g_got;
char g_text[80];
} // namespace

void fpu_enable() { enable_fp(); }
void fpu_load(uint64_t vm_id, unsigned round) {
    make_pattern(g_want, vm_id, round);
    load_fp(g_want);
}
unsigned fpu_check() {
    store_fp(g_got);
    return compare(g_want, g_got);
}
const char* fpu_describe() {
    rt::format(g_text, sizeof g_text, "q0-q31, FPCR %lx, FPSR %lx", g_want.fpcr, g_want.fpsr);
    return g_text;
}
