// fpu, the x86_64 part: the x87 registers ST0-ST7 with FCW, FSW and the tag word, MXCSR and
// XMM0-XMM15 (through an FXSAVE image: AMD64 APM vol. 3 rev. 3.36 "FXSAVE", "FXRSTOR"), and where
// cxvisor offers XSAVE with AVX (CPUID 1 ECX[26], CPUID 0Dh) the YMM registers too (VMOVDQU).
// FP on: CR0.EM clear, MP set, TS clear; CR4.OSFXSR and OSXMMEXCPT (APM vol. 2 rev. 3.42, 11.2).
//
// With XSAVE, before anything else: CR4.OSXSAVE shows in CPUID 1 ECX[27] only once the guest sets
// it; XCR0 starts at 1; CPUID (0Dh, 0) lists x87, SSE and at most AVX with the sizes that go with
// the guest's XCR0; XSETBV with a bit cxvisor does not offer, AVX without SSE, x87 clear or an XCR
// other than 0 is #GP (Intel SDM vol. 1 253665-067US 13.3, vol. 2 "XSETBV") and leaves XCR0 as it
// was. Then a VM with an odd id turns AVX on (XCR0 7) and owns YMM0-15 whole; an even one stays at
// XCR0 3 (x87, SSE) and, each round, turns AVX on for a moment to check that the upper halves of
// its YMM registers hold zeros (it never wrote them), not another VM's, and turns it off again.
// Every round checks that XCR0 is still what the VM set. Without XSAVE, XSETBV is #UD.
//
// PKRU (SDM vol. 3A 4.6.2 "Protection Keys"): cxvisor does not offer protection keys (CPUID 7 is
// hidden), but where the CPU has them nothing stops a guest from setting CR4.PKE and writing
// PKRU, which neither the VMCB nor the VMCS holds. The fpu-pkru build (CXV_FPU_PKRU, for a CPU
// with protection keys) sets CR4.PKE and has every round also load PKRU with a pattern of (vm id,
// round) (key 0's two bits left clear, so the guest's own pages stay accessible) and check it with
// the rest. (Only that build: the guest cannot tell from CPUID whether the CPU has them, and QEMU
// 7.2 takes a CR4 write with an unsupported bit without #GP; VMRUN then refuses the state.)
#include "rt.hpp"

uint64_t fpu_splitmix64(uint64_t& s); // fpu.cpp

namespace {
constexpr uint64_t CR0_MP = 1u << 1, CR0_EM = 1u << 2, CR0_TS = 1u << 3;
constexpr uint64_t CR4_OSFXSR = 1u << 9, CR4_OSXMMEXCPT = 1u << 10, CR4_OSXSAVE = 1u << 18, CR4_PKE = 1u << 22;
constexpr uint32_t CPUID1_XSAVE = 1u << 26, CPUID1_OSXSAVE = 1u << 27, CPUID1_AVX = 1u << 28;
constexpr uint64_t XCR0_X87 = 1, XCR0_SSE = 2, XCR0_AVX = 4, XCR0_PKRU = 1u << 9, XCR0_BNDREGS = 1u << 3;
// The FXSAVE image (APM vol. 3 "FXSAVE", 64-bit format): FCW 0, FSW 2, abridged FTW 4, MXCSR 24,
// ST(i)/MMi at 32 + 16 i (80 bits used), XMMi at 160 + 16 i.
constexpr unsigned FCW = 0, FSW = 2, FTW = 4, MXCSR = 24, ST0 = 32, XMM0 = 160;

struct alignas(16) FxImage {
    uint8_t b[512];
};
struct Ymm {
    uint64_t q[4];
};
FxImage g_want, g_got;
Ymm g_want_ymm[16], g_got_ymm[16];
bool g_xsave, g_avx_offered, g_avx; // g_avx: this VM runs with XCR0 7 and fills YMM0-15
bool g_pkru;                        // CR4.PKE could be set: PKRU is part of the pattern
uint32_t g_want_pkru;
uint64_t g_xcr0 = XCR0_X87;
char g_text[96];

uint64_t read_cr(int n) {
    uint64_t v = 0;
    if (n == 0) asm volatile("mov %%cr0, %0" : "=r"(v));
    else asm volatile("mov %%cr4, %0" : "=r"(v));
    return v;
}
uint64_t xgetbv0() {
    uint32_t lo, hi;
    asm volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return uint64_t(hi) << 32 | lo;
}
// XSETBV with the fault handler armed: the vector it raised, or -1 if it completed.
int xsetbv_probe(uint32_t index, uint64_t value) {
    const uint64_t before = rt::last_exception().count;
    rt::expect_fault();
    asm volatile("leaq 1f(%%rip), %%r11\n\tmovq %%r11, (%0)\n\txsetbv\n1:" ::"r"(rt::fault_resume_slot()), "c"(index),
                 "a"(uint32_t(value)), "d"(uint32_t(value >> 32))
                 : "r11", "memory");
    rt::disarm_fault();
    const rt::ExcRecord& e = rt::last_exception();
    return e.count != before ? int(e.esr) : -1;
}
void xsetbv_ok(uint64_t value) {
    const int v = xsetbv_probe(0, value);
    rt::check(v < 0, "xsetbv XCR0 = %lx completes (vector %d)", value, v);
}
void expect_gp(const char* what, uint32_t index, uint64_t value) {
    const uint64_t was = xgetbv0();
    const int v = xsetbv_probe(index, value);
    rt::check(v == int(rt::VEC_GP) && xgetbv0() == was, "xsetbv %s -> #GP, XCR0 stays %lx (vector %d, XCR0 %lx)", what,
              was, v, xgetbv0());
}

// CR4 = v with the fault handler armed: true if it completed (the fpu-pkru build's CR4.PKE).
[[maybe_unused]] bool write_cr4_probe(uint64_t v) {
    const uint64_t before = rt::last_exception().count;
    rt::expect_fault();
    asm volatile("leaq 1f(%%rip), %%r11\n\tmovq %%r11, (%0)\n\tmov %1, %%cr4\n1:" ::"r"(rt::fault_resume_slot()), "r"(v)
                 : "r11", "memory");
    rt::disarm_fault();
    return rt::last_exception().count == before;
}
uint32_t rdpkru() {
    uint32_t v, d;
    asm volatile("rdpkru" : "=a"(v), "=d"(d) : "c"(0));
    return v;
}
void wrpkru(uint32_t v) { asm volatile("wrpkru" ::"a"(v), "c"(0), "d"(0) : "memory"); }
void fxrstor(const FxImage& i) { asm volatile("fxrstor64 %0" ::"m"(i)); }
void fxsave(FxImage& i) { asm volatile("fxsave64 %0" : "=m"(i)); }
// VMOVDQU of all sixteen YMM registers from / to 32-byte slots.
void ymm_load(const Ymm* y) {
    asm volatile(".irp n,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n\t"
                 "vmovdqu \\n*32(%0), %%ymm\\n\n\t"
                 ".endr" ::"r"(y)
                 : "memory");
}
void ymm_store(Ymm* y) {
    asm volatile(".irp n,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n\t"
                 "vmovdqu %%ymm\\n, \\n*32(%0)\n\t"
                 ".endr" ::"r"(y)
                 : "memory");
}

template <typename T> T get(const FxImage& i, unsigned off) {
    T v;
    __builtin_memcpy(&v, i.b + off, sizeof v);
    return v;
}
template <typename T> void put(FxImage& i, unsigned off, T v) { __builtin_memcpy(i.b + off, &v, sizeof v); }

// The XSAVE checks before this VM picks its XCR0 (the file comment).
void xsave_checks(uint64_t vm_id) {
    rt::check(!(rt::cpuid(1).c & CPUID1_OSXSAVE), "CPUID 1 ECX.OSXSAVE clear while the guest's CR4.OSXSAVE is");
    const uint64_t cr4 = read_cr(4) | CR4_OSXSAVE;
    asm volatile("mov %0, %%cr4" ::"r"(cr4));
    rt::check(rt::cpuid(1).c & CPUID1_OSXSAVE, "CPUID 1 ECX.OSXSAVE set once CR4.OSXSAVE is");
    rt::check(xgetbv0() == XCR0_X87, "XCR0 starts at 1 (got %lx)", xgetbv0());
    const rt::CpuidRegs d0 = rt::cpuid(0xD, 0);
    const uint64_t offered = uint64_t(d0.d) << 32 | d0.a;
    rt::check((offered & (XCR0_X87 | XCR0_SSE)) == (XCR0_X87 | XCR0_SSE) &&
                  !(offered & ~(XCR0_X87 | XCR0_SSE | XCR0_AVX)),
              "CPUID (0Dh, 0) offers x87, SSE and at most AVX (got %lx)", offered);
    g_avx_offered = offered & XCR0_AVX;
    rt::check(bool(rt::cpuid(1).c & CPUID1_AVX) == g_avx_offered, "CPUID 1 ECX.AVX says what XCR0 offers");
    rt::check(d0.b == 576 && d0.c == (g_avx_offered ? 832u : 576u), "CPUID (0Dh, 0) sizes 576 now, %u for all (got %u, %u)",
              g_avx_offered ? 832u : 576u, d0.b, d0.c);
    const rt::CpuidRegs d1 = rt::cpuid(0xD, 1);
    rt::check(d1.a == 0, "CPUID (0Dh, 1): no XSAVEOPT/XSAVEC/XSAVES offered (got %x)", d1.a);
    if (g_avx_offered) {
        const rt::CpuidRegs d2 = rt::cpuid(0xD, 2);
        rt::check(d2.a == 256 && d2.b == 576, "CPUID (0Dh, 2): AVX 256 bytes at 576 (got %u at %u)", d2.a, d2.b);
    }
    // What cxvisor does not offer, and what 13.3 forbids.
    expect_gp("with PKRU (bit 9), not offered", 0, XCR0_X87 | XCR0_SSE | XCR0_PKRU);
    expect_gp("with BNDREGS (bit 3), not offered", 0, XCR0_X87 | XCR0_SSE | XCR0_BNDREGS);
    expect_gp("with bit 63", 0, XCR0_X87 | (1ull << 63));
    expect_gp("AVX without SSE", 0, XCR0_X87 | XCR0_AVX);
    expect_gp("without x87", 0, XCR0_SSE);
    expect_gp("to XCR 1", 1, XCR0_X87);
    if (!g_avx_offered) expect_gp("with AVX, not offered", 0, XCR0_X87 | XCR0_SSE | XCR0_AVX);
    g_avx = g_avx_offered && (vm_id & 1);
    g_xcr0 = XCR0_X87 | XCR0_SSE | (g_avx ? XCR0_AVX : 0);
    xsetbv_ok(g_xcr0);
    rt::check(xgetbv0() == g_xcr0, "XCR0 reads back %lx (got %lx)", g_xcr0, xgetbv0());
    rt::check(rt::cpuid(0xD, 0).b == (g_avx ? 832u : 576u), "CPUID (0Dh, 0) EBX follows XCR0 (got %u)", rt::cpuid(0xD, 0).b);
    rt::printf("fpu: XSAVE offers XCR0 %lx; this VM runs with XCR0 %lx\n", offered, g_xcr0);
}
} // namespace

void fpu_enable() {
    uint64_t cr0 = (read_cr(0) & ~(CR0_EM | CR0_TS)) | CR0_MP;
    asm volatile("mov %0, %%cr0" ::"r"(cr0));
    const uint64_t cr4 = read_cr(4) | CR4_OSFXSR | CR4_OSXMMEXCPT;
    asm volatile("mov %0, %%cr4" ::"r"(cr4));
    g_xsave = rt::cpuid(1).c & CPUID1_XSAVE;
    if (g_xsave) {
        xsave_checks(rt::vm_info().vm_id);
    } else {
        rt::check(!(rt::cpuid(1).c & CPUID1_AVX), "no AVX in CPUID 1 without XSAVE");
        const int v = xsetbv_probe(0, XCR0_X87 | XCR0_SSE);
        rt::check(v == int(rt::VEC_UD), "xsetbv without XSAVE -> #UD (vector %d)", v);
        rt::printf("fpu: no XSAVE: x87 and SSE state only\n");
    }
#ifdef CXV_FPU_PKRU
    g_pkru = write_cr4_probe(read_cr(4) | CR4_PKE);
    rt::check(g_pkru, "CR4.PKE can be set (the fpu-pkru build needs a CPU with protection keys)");
    if (g_pkru) rt::printf("fpu: CR4.PKE set (the CPU has protection keys): PKRU checked too\n");
#endif
}

void fpu_load(uint64_t vm_id, unsigned round) {
    uint64_t seed = (vm_id << 32) ^ (uint64_t(round) << 8) ^ 0x86F9;
    __builtin_memset(&g_want, 0, sizeof g_want);
    // FCW: every exception masked (5:0; bit 6 reads 1, as after FNINIT), 64-bit precision (9:8),
    // rounding control (11:10) per VM and round; FSW 0 (TOP 0, so ST(i) is register i); all eight registers valid (abridged tag
    // 1 each); MXCSR: every exception masked (12:7), rounding (14:13) per VM and round, random
    // sticky flags (5:0).
    put<uint16_t>(g_want, FCW, uint16_t(0x037F | ((vm_id + round) % 4) << 10));
    put<uint8_t>(g_want, FTW, 0xFF);
    put<uint32_t>(g_want, MXCSR, uint32_t(0x1F80 | ((vm_id + round + 1) % 4) << 13 | (fpu_splitmix64(seed) & 0x3F)));
    for (unsigned i = 0; i < 8; ++i) {
        // A normal extended-precision number: integer bit set, exponent near the bias, random sign.
        const uint64_t r = fpu_splitmix64(seed);
        put<uint64_t>(g_want, ST0 + 16 * i, fpu_splitmix64(seed) | 1ull << 63);
        put<uint16_t>(g_want, ST0 + 16 * i + 8, uint16_t((0x3FFF - 32 + (r & 63)) | (r & 0x8000)));
    }
    for (unsigned i = 0; i < 16; ++i) {
        g_want_ymm[i].q[0] = fpu_splitmix64(seed);
        g_want_ymm[i].q[1] = fpu_splitmix64(seed);
        g_want_ymm[i].q[2] = g_avx ? fpu_splitmix64(seed) : 0;
        g_want_ymm[i].q[3] = g_avx ? fpu_splitmix64(seed) : 0;
        put<uint64_t>(g_want, XMM0 + 16 * i, g_want_ymm[i].q[0]);
        put<uint64_t>(g_want, XMM0 + 16 * i + 8, g_want_ymm[i].q[1]);
    }
    fxrstor(g_want);
    if (g_avx) ymm_load(g_want_ymm);
    if (g_pkru) wrpkru(g_want_pkru = uint32_t(fpu_splitmix64(seed)) & ~3u);
}

unsigned fpu_check() {
    if (g_avx) ymm_store(g_got_ymm);
    fxsave(g_got);
    unsigned bad = 0;
    auto diff = [&](const char* what, unsigned n, uint64_t want, uint64_t got) {
        if (want != got && bad++ < 4) rt::printf("%s%u: expected %016lx, got %016lx\n", what, n, want, got);
    };
    diff("FCW", 0, get<uint16_t>(g_want, FCW), get<uint16_t>(g_got, FCW));
    diff("FSW", 0, get<uint16_t>(g_want, FSW), get<uint16_t>(g_got, FSW));
    diff("FTW", 0, get<uint8_t>(g_want, FTW), get<uint8_t>(g_got, FTW));
    diff("MXCSR", 0, get<uint32_t>(g_want, MXCSR), get<uint32_t>(g_got, MXCSR));
    for (unsigned i = 0; i < 8; ++i) {
        diff("ST mantissa ", i, get<uint64_t>(g_want, ST0 + 16 * i), get<uint64_t>(g_got, ST0 + 16 * i));
        diff("ST sign/exponent ", i, get<uint16_t>(g_want, ST0 + 16 * i + 8), get<uint16_t>(g_got, ST0 + 16 * i + 8));
    }
    for (unsigned i = 0; i < 16; ++i) {
        diff("XMM low ", i, get<uint64_t>(g_want, XMM0 + 16 * i), get<uint64_t>(g_got, XMM0 + 16 * i));
        diff("XMM high ", i, get<uint64_t>(g_want, XMM0 + 16 * i + 8), get<uint64_t>(g_got, XMM0 + 16 * i + 8));
        if (g_avx) {
            diff("YMM ", i, g_want_ymm[i].q[0], g_got_ymm[i].q[0]);
            diff("YMM ", i, g_want_ymm[i].q[1], g_got_ymm[i].q[1]);
            diff("YMM upper ", i, g_want_ymm[i].q[2], g_got_ymm[i].q[2]);
            diff("YMM upper ", i, g_want_ymm[i].q[3], g_got_ymm[i].q[3]);
        }
    }
    if (g_pkru) diff("PKRU", 0, g_want_pkru, rdpkru());
    if (g_xsave) {
        diff("XCR0 ", 0, g_xcr0, xgetbv0());
        if (g_avx_offered && !g_avx) {
            // AVX on for a moment: this VM never wrote the upper halves, so they are zero.
            const int on = xsetbv_probe(0, g_xcr0 | XCR0_AVX);
            diff("XSETBV AVX on, vector ", 0, uint64_t(-1), uint64_t(on));
            if (on < 0) ymm_store(g_got_ymm);
            diff("XSETBV AVX off, vector ", 0, uint64_t(-1), uint64_t(xsetbv_probe(0, g_xcr0)));
            for (unsigned i = 0; i < 16; ++i) {
                diff("YMM upper (never written) ", i, 0, g_got_ymm[i].q[2]);
                diff("YMM upper (never written) ", i, 0, g_got_ymm[i].q[3]);
            }
        }
    }
    return bad;
}

const char* fpu_describe() {
    if (!g_xsave) return g_pkru ? "ST0-7, FCW, MXCSR, XMM0-15, PKRU" : "ST0-7, FCW, MXCSR, XMM0-15";
    rt::format(g_text, sizeof g_text, "ST0-7, FCW, MXCSR, XMM0-15%s, XCR0 %lx%s",
               g_avx ? ", YMM0-15" : g_avx_offered ? ", zero YMM upper halves" : "", g_xcr0, g_pkru ? ", PKRU" : "");
    return g_text;
}
