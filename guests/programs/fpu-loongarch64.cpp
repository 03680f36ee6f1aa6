// fpu, the loongarch64 part: f0-f31, or vr0-vr31 (LSX, 128 bits) or xr0-xr31 (LASX, 256 bits) as
// wide as the guest's CPUCFG2 offers, FCC0-FCC7 and FCSR0 (LoongArch Reference Manual Vol. 1
// v1.10, chapter 3; 2.2.10.5 table 2-9 for CPUCFG2), enabled through the guest's EUEN (7.4.3: FPE
// bit 0, SXE bit 1, ASXE bit 2). The guest is built soft-float (cmake/loongarch64-elf.cmake), so
// the compiler never uses these registers; only the asm blocks below do.
//
// Before its first pattern the guest also checks that each unit's instructions raise its own
// disabled exception while its EUEN enable is clear, and that the registers read 0: a vCPU starts
// with its own zeroed FP state, never with what another VM left in the core.
#include "rt.hpp"

uint64_t fpu_splitmix64(uint64_t& s); // fpu.cpp

namespace {
constexpr uint32_t CPUCFG2_FP = 1u << 0, CPUCFG2_FP_DP = 1u << 2, CPUCFG2_LSX = 1u << 6, CPUCFG2_LASX = 1u << 7;
constexpr uint64_t EUEN_FPE = 1u << 0, EUEN_SXE = 1u << 1, EUEN_ASXE = 1u << 2;
// FCSR0: Enables [4:0], RM [9:8], Flags [20:16], Cause [28:24]. No FP operation runs between the
// write and the read back (loads and stores change none of them), so every field keeps exactly the
// value written, a Cause with its Enable set included: writing FCSR0 raises nothing, in the guest
// or in cxvisor's restore.
constexpr uint64_t FCSR_ENABLES = 0x1f, FCSR_FLAGS = 0x1f0000, FCSR_CAUSE = 0x1f000000;
constexpr unsigned FCSR_RM_SHIFT = 8;

enum class Width { Fp64, Lsx128, Lasx256 };
Width g_width = Width::Fp64;

struct alignas(32) FpRegs {
    uint64_t x[32][4]; // x[n][0] = f<n>; [0..1] vr<n>; [0..3] xr<n>
    uint64_t fcc;      // FCC<n> in bit 8n
    uint64_t fcsr;
};
FpRegs g_want, g_got;
char g_text[96];

#define CXV_LA_REGS                                                                                      \
    "0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31"
// One instruction per register: `op reg\n, base, 32 * n` for n = 0..31.
#define CXV_LA_EACH(op, reg) ".irp n, " CXV_LA_REGS "\n " op " " reg "\\n, %[p], 32 * \\n\n .endr\n"

void load_fp(const FpRegs& r) {
    switch (g_width) {
    case Width::Fp64: asm volatile(CXV_LA_EACH("fld.d", "$f") ::[p] "r"(r.x) : "memory"); break;
    case Width::Lsx128: asm volatile(CXV_LA_EACH("vld", "$vr") ::[p] "r"(r.x) : "memory"); break;
    case Width::Lasx256: asm volatile(CXV_LA_EACH("xvld", "$xr") ::[p] "r"(r.x) : "memory"); break;
    }
    uint64_t fcc = r.fcc;
    asm volatile(".irp n, 0, 1, 2, 3, 4, 5, 6, 7\n movgr2cf $fcc\\n, %[c]\n srli.d %[c], %[c], 8\n .endr\n"
                 "movgr2fcsr $fcsr0, %[s]"
                 : [c] "+r"(fcc)
                 : [s] "r"(r.fcsr)
                 : "memory");
}

void store_fp(FpRegs& r) {
    switch (g_width) {
    case Width::Fp64: asm volatile(CXV_LA_EACH("fst.d", "$f") ::[p] "r"(r.x) : "memory"); break;
    case Width::Lsx128: asm volatile(CXV_LA_EACH("vst", "$vr") ::[p] "r"(r.x) : "memory"); break;
    case Width::Lasx256: asm volatile(CXV_LA_EACH("xvst", "$xr") ::[p] "r"(r.x) : "memory"); break;
    }
    uint64_t fcc = 0, flag, fcsr;
    asm volatile(".irp n, 7, 6, 5, 4, 3, 2, 1, 0\n"
                 " slli.d %[c], %[c], 8\n movcf2gr %[f], $fcc\\n\n or %[c], %[c], %[f]\n .endr\n"
                 "movfcsr2gr %[s], $fcsr0"
                 : [c] "+r"(fcc), [f] "=&r"(flag), [s] "=&r"(fcsr)
                 :
                 : "memory");
    r.fcc = fcc;
    r.fcsr = fcsr;
}

// With the unit's EUEN enable clear, its instruction raises the guest's own FPD/SXD/ASXD (LA Vol. 1
// 7.4.5 table 7-8: Ecode 0xF, 0x10, 0x11), taken at the guest's exception entry and stepped over:
// the guest's EUEN decides, as on a CPU of its own (a guest kernel switches its tasks' FP lazily
// that way), whatever cxvisor enables for itself.
void check_disabled(const char* insn, uint64_t euen, uint64_t ecode, Width w) {
    RT_CSRWR(rt::csr::EUEN, euen);
    const uint64_t before = rt::last_exception().count;
    rt::expect_fault();
    switch (w) {
    case Width::Fp64: asm volatile("fld.d $f0, %0, 0" ::"r"(g_got.x) : "memory"); break;
    case Width::Lsx128: asm volatile("vld $vr0, %0, 0" ::"r"(g_got.x) : "memory"); break;
    case Width::Lasx256: asm volatile("xvld $xr0, %0, 0" ::"r"(g_got.x) : "memory"); break;
    }
    rt::disarm_fault();
    const bool taken = rt::last_exception().count != before;
    rt::check(taken && rt::last_exception().esr == ecode, "%s with EUEN %lx raises Ecode %lx in the guest (%s, esr %lx)",
              insn, euen, ecode, taken ? "taken" : "not taken", taken ? rt::last_exception().esr : 0);
    RT_CSRWR(rt::csr::EUEN, 0);
}

unsigned words() { return g_width == Width::Lasx256 ? 4 : g_width == Width::Lsx128 ? 2 : 1; }
const char* reg_name() { return g_width == Width::Lasx256 ? "xr" : g_width == Width::Lsx128 ? "vr" : "f"; }

// Compares the live part of each register, FCC and FCSR0; reports up to 4 differences.
unsigned compare(const FpRegs& want, const FpRegs& got) {
    unsigned bad = 0;
    for (unsigned n = 0; n < 32; ++n)
        for (unsigned w = 0; w < words(); ++w)
            if (want.x[n][w] != got.x[n][w] && bad++ < 4)
                rt::printf("%s%u word %u: expected %016lx, got %016lx\n", reg_name(), n, w, want.x[n][w], got.x[n][w]);
    if (want.fcc != got.fcc && bad++ < 4) rt::printf("FCC0-7: expected %016lx, got %016lx\n", want.fcc, got.fcc);
    if (want.fcsr != (got.fcsr & 0xffffffffu) && bad++ < 4)
        rt::printf("FCSR0: expected %lx, got %lx\n", want.fcsr, got.fcsr);
    return bad;
}
} // namespace

void fpu_enable() {
    const uint32_t cfg2 = rt::cpucfg(2);
    rt::check((cfg2 & CPUCFG2_FP) && (cfg2 & CPUCFG2_FP_DP), "CPUCFG2 offers FP with double precision (CPUCFG2 %x)",
              cfg2);
    check_disabled("fld.d", 0, 0xF, Width::Fp64);
    uint64_t euen = EUEN_FPE;
    if (cfg2 & CPUCFG2_LSX) {
        check_disabled("vld", EUEN_FPE, 0x10, Width::Lsx128);
        g_width = Width::Lsx128, euen |= EUEN_SXE;
    }
    if ((cfg2 & CPUCFG2_LSX) && (cfg2 & CPUCFG2_LASX)) {
        check_disabled("xvld", EUEN_FPE | EUEN_SXE, 0x11, Width::Lasx256);
        g_width = Width::Lasx256, euen |= EUEN_ASXE;
    }
    RT_CSRWR(rt::csr::EUEN, euen);
    store_fp(g_got);
    const FpRegs zero{};
    const unsigned bad = compare(zero, g_got);
    rt::check(bad == 0, "%s0-%s31, FCC and FCSR0 read 0 before the first pattern (%u differ)", reg_name(), reg_name(),
              bad);
}

void fpu_load(uint64_t vm_id, unsigned round) {
    uint64_t seed = (vm_id << 32) ^ (uint64_t(round) << 8) ^ 0xF9F9;
    for (auto& r : g_want.x)
        for (unsigned w = 0; w < 4; ++w) r[w] = w < words() ? fpu_splitmix64(seed) : 0;
    g_want.fcc = fpu_splitmix64(seed) & 0x0101010101010101ull;
    // RM 0..3 (RNE, RZ, RP, RM), distinct per VM and round; random enables, flags and causes.
    g_want.fcsr = ((vm_id + round) & 3) << FCSR_RM_SHIFT |
                  (fpu_splitmix64(seed) & (FCSR_ENABLES | FCSR_FLAGS | FCSR_CAUSE));
    load_fp(g_want);
}

unsigned fpu_check() {
    store_fp(g_got);
    return compare(g_want, g_got);
}

const char* fpu_describe() {
    rt::format(g_text, sizeof g_text, "%s0-%s31 (%u bits), FCC0-7 %lx, FCSR0 %lx", reg_name(), reg_name(), 64 * words(),
               g_want.fcc, g_want.fcsr);
    return g_text;
}
