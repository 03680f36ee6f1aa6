// A loongarch64 vCPU's floating-point and vector state: what the guest's CPUCFG shows of it, which
// units the host enables for it, and the saved registers. LoongArch Reference Manual Vol. 1 v1.10
// ("LA Vol. 1"): chapter 3 "Overview of Floating-Point Instructions" (f0-f31, the condition flags
// FCC0-FCC7, the control and status register FCSR0), 2.2.10.5 table 2-9 (CPUCFG word 2), 7.4.3
// (EUEN); the LSX/LASX vector extensions widen f0-f31 to vr0-vr31 (128 bits) and xr0-xr31 (256
// bits): f<n> is the low 64 bits of vr<n>, which is the low 128 bits of xr<n>.
//
// Switched eagerly: put() saves the registers, load() writes them back (vcpu.cpp), the widest the
// host has, whether or not the guest used them. The lazy way (the host's EUEN enables cleared, the
// guest's first FP instruction exiting to the host as FPD, as Linux KVM does on hardware) cannot
// work on the LVZ QEMU fork: measured there, a guest FP/LSX/LASX instruction with the guest's own
// EUEN enable set runs on the core's registers with the host's EUEN = 0, and never exits
// (docs/porting.md "loongarch64"). cxvisor itself never uses these registers: its code is built
// soft-float (cmake/loongarch64-elf.cmake, checked below), so between put() and load() the guest's
// values stay in the core untouched.
// Pure (host-tested: tests/unit/arch/la_fp_test.cpp) apart from the two assembly routines.
#pragma once
#include "asm_offsets.hpp"
#include "base/types.hpp"

#if defined(__loongarch__) && !defined(__loongarch_soft_float)
#error "cxvisor's loongarch64 code must be built soft-float: a guest's FP registers stay live in the core across exits"
#endif

namespace arch::lvz {

// CPUCFG word 2 (LA Vol. 1 2.2.10.5, table 2-9).
inline constexpr u32 CPUCFG2_FP = 1u << 0, CPUCFG2_FP_SP = 1u << 1, CPUCFG2_FP_DP = 1u << 2,
                     CPUCFG2_FP_VER = 7u << 3, CPUCFG2_LSX = 1u << 6, CPUCFG2_LASX = 1u << 7,
                     CPUCFG2_LVZ_BITS = 1u << 10 | 7u << 11,        // LVZ, LVVER
                     CPUCFG2_LBT = 1u << 18 | 1u << 19 | 1u << 20; // LBT_X86, LBT_ARM, LBT_MIPS

// How much of each of the 32 FP/vector registers the host has, so how much cxvisor switches.
enum class FpWidth : u8 {
    None = FP_WIDTH_NONE,
    Fp64 = FP_WIDTH_FP64,
    Lsx128 = FP_WIDTH_LSX,
    Lasx256 = FP_WIDTH_LASX,
};
inline constexpr FpWidth fp_width(u32 host_cpucfg2) {
    if (!(host_cpucfg2 & CPUCFG2_FP)) return FpWidth::None; // LSX/LASX build on the FP registers
    if ((host_cpucfg2 & CPUCFG2_LASX) && (host_cpucfg2 & CPUCFG2_LSX)) return FpWidth::Lasx256;
    if (host_cpucfg2 & CPUCFG2_LSX) return FpWidth::Lsx128;
    return FpWidth::Fp64;
}

// The guest's view of CPUCFG word 2: the host's, with the FP and vector bits only as far as cxvisor
// switches those registers (all of them when the host has them: fp_width), without LVZ (no nested
// virtualization) and without LBT, whose scratch registers and flags cxvisor does not switch.
inline constexpr u32 guest_cpucfg2(u32 host_cpucfg2) {
    u32 v = host_cpucfg2 & ~(CPUCFG2_LVZ_BITS | CPUCFG2_LBT);
    switch (fp_width(host_cpucfg2)) {
    case FpWidth::None:
        v &= ~(CPUCFG2_FP | CPUCFG2_FP_SP | CPUCFG2_FP_DP | CPUCFG2_FP_VER | CPUCFG2_LSX | CPUCFG2_LASX);
        break;
    case FpWidth::Fp64: v &= ~(CPUCFG2_LSX | CPUCFG2_LASX); break;
    case FpWidth::Lsx128: v &= ~CPUCFG2_LASX; break;
    case FpWidth::Lasx256: break;
    }
    return v;
}

// EUEN (LA Vol. 1 7.4.3): FPE bit 0, SXE bit 1, ASXE bit 2 enable the FP, LSX and LASX instructions
// at the current level. The host sets the ones of the units it switches, once per core: its own
// save/restore needs them, and on hardware they let the guest's instructions run (the guest's own
// EUEN then decides, as on a CPU of its own) instead of exiting as FPD/SXD/ASXD.
inline constexpr u64 EUEN_FPE = 1u << 0, EUEN_SXE = 1u << 1, EUEN_ASXE = 1u << 2;
inline constexpr u64 host_euen(FpWidth w) {
    switch (w) {
    case FpWidth::None: return 0;
    case FpWidth::Fp64: return EUEN_FPE;
    case FpWidth::Lsx128: return EUEN_FPE | EUEN_SXE;
    case FpWidth::Lasx256: return EUEN_FPE | EUEN_SXE | EUEN_ASXE;
    }
    return 0;
}

// The saved state (fp_context.S, asm_offsets.hpp FPCTX_*): xr0-xr31 at 32 * n (of a narrower
// unit only the low 8 or 16 bytes are used), FCC0-FCC7 one byte each (FCC<n> in bits
// [8n+7:8n], 0 or 1), FCSR0.
struct alignas(16) FpContext {
    u64 reg[32][4]; // reg[n][0] = f<n>, reg[n][0..1] = vr<n>, reg[n][0..3] = xr<n>
    u64 fcc;
    u64 fcsr;
};
static_assert(__builtin_offsetof(FpContext, reg[1]) == 32 && __builtin_offsetof(FpContext, fcc) == FPCTX_FCC &&
              __builtin_offsetof(FpContext, fcsr) == FPCTX_FCSR && sizeof(FpContext) == FPCTX_SIZE);

// Where a vCPU keeps its FpContext: at a 32-byte boundary whatever the Vcpu's own alignment
// (kmalloc gives 16), so that XVST/XVLD and VST/VLD move naturally aligned blocks and the switch
// does not depend on a CPU's unaligned-access support for vector instructions. Zero at creation.
class FpSlot {
public:
    FpContext* get() { return reinterpret_cast<FpContext*>((reinterpret_cast<uptr>(m_raw) + 31) & ~uptr(31)); }
    void clear() { *get() = FpContext{}; }

private:
    alignas(16) unsigned char m_raw[sizeof(FpContext) + 16] = {};
};

} // namespace arch::lvz

// fp_context.S: the core's registers to `ctx` and back, as wide as `width` (an FpWidth; None does
// nothing). The host's EUEN must enable that unit (host_euen).
extern "C" void cxv_la_fp_save(arch::lvz::FpContext* ctx, unsigned width);
extern "C" void cxv_la_fp_restore(const arch::lvz::FpContext* ctx, unsigned width);
