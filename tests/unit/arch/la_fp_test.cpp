// The loongarch64 guest's FP/vector view (src/arch/loongarch64/fp_context.hpp): CPUCFG word 2 as a
// guest reads it (LoongArch Reference Manual Vol. 1 v1.10, 2.2.10.5 table 2-9), how wide the
// registers cxvisor switches are, which EUEN enables the host sets for that (7.4.3), and the
// saved context's layout that fp_context.S addresses.
#include "arch/loongarch64/fp_context.hpp"
#include <cstdint>
#include <gtest/gtest.h>
#include <new>

using namespace arch::lvz;

namespace {
// The LVZ QEMU fork's la464 (measured: a guest read 0x60c0cf through cxvisor with LVZ and LVVER
// hidden): FP, FP_SP, FP_DP, FP_ver 1, LSX, LASX, LVZ, LVVER 1, LLFTP, LLFTP_ver 1, LSPW, LAM.
constexpr u32 FORK_LA464 = 0x0060'CCCF;
// Stock QEMU 7.2's la464 (measured): FP, FP_SP, FP_DP, FP_ver 1, LLFTP, LLFTP_ver 1, LAM; no LSX,
// LASX or LVZ.
constexpr u32 QEMU72_LA464 = 0x0040'C00F;
} // namespace

TEST(LaFpView, TheForksLa464OffersFpLsxLasxAndNotLvz) {
    EXPECT_EQ(fp_width(FORK_LA464), FpWidth::Lasx256);
    EXPECT_EQ(guest_cpucfg2(FORK_LA464), 0x0060'C0CFu); // FP..LASX kept, LVZ and LVVER gone
    EXPECT_EQ(host_euen(FpWidth::Lasx256), EUEN_FPE | EUEN_SXE | EUEN_ASXE);
}

TEST(LaFpView, FpWithoutVectorsIsOfferedAs64BitRegisters) {
    EXPECT_EQ(fp_width(QEMU72_LA464), FpWidth::Fp64);
    EXPECT_EQ(guest_cpucfg2(QEMU72_LA464), QEMU72_LA464); // nothing of it is hidden
    EXPECT_EQ(host_euen(FpWidth::Fp64), EUEN_FPE);
}

TEST(LaFpView, LsxWithoutLasxSwitches128Bits) {
    const u32 host = QEMU72_LA464 | CPUCFG2_LSX;
    EXPECT_EQ(fp_width(host), FpWidth::Lsx128);
    EXPECT_EQ(guest_cpucfg2(host), host);
    EXPECT_EQ(host_euen(FpWidth::Lsx128), EUEN_FPE | EUEN_SXE);
}

TEST(LaFpView, AUnitWithoutTheOneItBuildsOnIsNotOffered) {
    // LASX widens LSX's registers, which widen FP's: a CPUCFG2 claiming LASX without LSX gets FP
    // only, one claiming vectors without FP gets nothing of the three (and no FP_SP/FP_DP/FP_ver).
    const u32 lasx_only = QEMU72_LA464 | CPUCFG2_LASX;
    EXPECT_EQ(fp_width(lasx_only), FpWidth::Fp64);
    EXPECT_EQ(guest_cpucfg2(lasx_only), QEMU72_LA464);
    const u32 no_fp = (FORK_LA464 & ~CPUCFG2_FP);
    EXPECT_EQ(fp_width(no_fp), FpWidth::None);
    EXPECT_EQ(guest_cpucfg2(no_fp) & 0xFF, 0u);
    EXPECT_EQ(guest_cpucfg2(no_fp), 0x0060'C000u);
    EXPECT_EQ(host_euen(FpWidth::None), 0u);
}

TEST(LaFpView, LbtAndLvzAreHiddenEverythingElseIsTheHosts) {
    // LBT's scratch registers and flags are not switched; LVZ would promise nested virtualization.
    const u32 host = FORK_LA464 | CPUCFG2_LBT | 1u << 8 | 1u << 9 | 1u << 21 | 1u << 24;
    const u32 v = guest_cpucfg2(host);
    EXPECT_EQ(v & CPUCFG2_LBT, 0u);
    EXPECT_EQ(v & CPUCFG2_LVZ_BITS, 0u);
    EXPECT_EQ(v, (host & ~(CPUCFG2_LBT | CPUCFG2_LVZ_BITS)));
}

TEST(LaFpContext, LayoutFp_contextSAddresses) {
    // fp_context.S: register n at 32 * n (xr<n> whole, vr<n>/f<n> its low 16/8 bytes), FCC at 1024,
    // FCSR0 at 1032; 16-byte aligned (the alignment kmalloc gives the Vcpu holding it).
    EXPECT_EQ(sizeof(FpContext), 1040u);
    EXPECT_EQ(alignof(FpContext), 16u);
    FpContext c{};
    EXPECT_EQ(reinterpret_cast<char*>(&c.reg[5][0]) - reinterpret_cast<char*>(&c), 5 * 32);
    EXPECT_EQ(reinterpret_cast<char*>(&c.fcc) - reinterpret_cast<char*>(&c), 1024);
    EXPECT_EQ(reinterpret_cast<char*>(&c.fcsr) - reinterpret_cast<char*>(&c), 1032);
}

TEST(LaFpContext, TheSlotGivesA32ByteAlignedContextInsideItself) {
    // A Vcpu (and so its FpSlot) is only 16-byte aligned (kmalloc); the context inside is at a
    // 32-byte boundary for XVST/XVLD, and lies wholly inside the slot.
    for (usize offset : {usize(0), usize(16)}) {
        alignas(32) unsigned char buf[sizeof(FpSlot) + 32];
        auto* slot = new (buf + offset) FpSlot;
        const auto at = reinterpret_cast<std::uintptr_t>(slot->get()), base = reinterpret_cast<std::uintptr_t>(slot);
        EXPECT_EQ(at % 32, 0u) << "offset " << offset;
        EXPECT_GE(at, base);
        EXPECT_LE(at + sizeof(FpContext), base + sizeof(FpSlot));
        EXPECT_EQ(slot->get()->fcsr, 0u); // zero at creation
        slot->get()->fcsr = 0x1f1f031f;
        slot->clear();
        EXPECT_EQ(slot->get()->fcsr, 0u);
    }
}
