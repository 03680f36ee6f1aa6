// fpu, the riscv64 part: f0-f31 (D, 64 bits each) and fcsr (frm 7:5, fflags 4:0; RISC-V
// Unprivileged Spec 20191213, 11.2), FP on with sstatus.FS = Initial (Privileged Spec 20211203,
// 4.1.1; cxvisor starts a vCPU with FS Dirty anyway). The guest is built for rv64imac, so the
// assembler is told about D around the two asm blocks only.
#include "rt.hpp"

uint64_t fpu_splitmix64(uint64_t& s); // fpu.cpp

namespace {
constexpr uint64_t SSTATUS_FS_INITIAL = 1ull << 13;
constexpr uint64_t FCSR_MASK = 0xff; // frm and fflags; nothing else is defined

struct FpRegs {
    uint64_t f[32];
    uint64_t fcsr;
};
FpRegs g_want, g_got;
char g_text[80];

#define CXV_FP_REGS(op)                                                                                   \
    op " f0, 0(%[p])\n " op " f1, 8(%[p])\n " op " f2, 16(%[p])\n " op " f3, 24(%[p])\n " op " f4, 32(%[p])\n "     \
    op " f5, 40(%[p])\n " op " f6, 48(%[p])\n " op " f7, 56(%[p])\n " op " f8, 64(%[p])\n " op " f9, 72(%[p])\n "   \
    op " f10, 80(%[p])\n " op " f11, 88(%[p])\n " op " f12, 96(%[p])\n " op " f13, 104(%[p])\n "                  \
    op " f14, 112(%[p])\n " op " f15, 120(%[p])\n " op " f16, 128(%[p])\n " op " f17, 136(%[p])\n "               \
    op " f18, 144(%[p])\n " op " f19, 152(%[p])\n " op " f20, 160(%[p])\n " op " f21, 168(%[p])\n "               \
    op " f22, 176(%[p])\n " op " f23, 184(%[p])\n " op " f24, 192(%[p])\n " op " f25, 200(%[p])\n "               \
    op " f26, 208(%[p])\n " op " f27, 216(%[p])\n " op " f28, 224(%[p])\n " op " f29, 232(%[p])\n "               \
    op " f30, 240(%[p])\n " op " f31, 248(%[p])\n "

void load_fp(const FpRegs& r) {
    asm volatile(".option push\n .option arch, +d\n" CXV_FP_REGS("fld") "fscsr %[c]\n .option pop"
                 :
                 : [p] "r"(r.f), [c] "r"(r.fcsr)
                 : "memory");
}
void store_fp(FpRegs& r) {
    uint64_t fcsr;
    asm volatile(".option push\n .option arch, +d\n" CXV_FP_REGS("fsd") "frcsr %[c]\n .option pop"
                 : [c] "=r"(fcsr)
                 : [p] "r"(r.f)
                 : "memory");
    r.fcsr = fcsr;
}
} // namespace

void fpu_enable() { asm volatile("csrs sstatus, %0" ::"r"(SSTATUS_FS_INITIAL)); }

void fpu_load(uint64_t vm_id, unsigned round) {
    uint64_t seed = (vm_id << 32) ^ (uint64_t(round) << 8) ^ 0xF9F9;
    for (uint64_t& f : g_want.f) f = fpu_splitmix64(seed);
    // frm 0..4 (RNE, RTZ, RDN, RUP, RMM), distinct per VM and round; random sticky flags.
    g_want.fcsr = ((vm_id + round) % 5) << 5 | (fpu_splitmix64(seed) & 0x1f);
    load_fp(g_want);
}

unsigned fpu_check() {
    store_fp(g_got);
    unsigned bad = 0;
    for (unsigned n = 0; n < 32; ++n)
        if (g_want.f[n] != g_got.f[n] && bad++ < 4)
            rt::printf("f%u: expected %016lx, got %016lx\n", n, g_want.f[n], g_got.f[n]);
    if (g_want.fcsr != (g_got.fcsr & FCSR_MASK) && bad++ < 4)
        rt::printf("fcsr: expected %lx, got %lx\n", g_want.fcsr, g_got.fcsr);
    return bad;
}

const char* fpu_describe() {
    rt::format(g_text, sizeof g_text, "f0-f31, fcsr %lx", g_want.fcsr);
    return g_text;
}
