// The XSAVE state cxvisor offers x86 guests (src/arch/x86_64/xsave.hpp) and the CPUID view of it
// (cpuid_view.cpp leaves 1 and 0Dh): host CPUID answers as a CPU with more than cxvisor switches
// would give them (Intel SDM vol. 1, 253665-067US, 13.2/13.3), and what a guest must see.
#include "arch/x86_64/cpuid_view.hpp"
#include "arch/x86_64/xsave.hpp"
#include <gtest/gtest.h>

using namespace arch;
using namespace arch::xsave;

namespace {
// CPUID 1 ECX with FMA, XSAVE, OSXSAVE (the host's CR4), AVX and F16C, plus SSE3 (bit 0).
constexpr u32 HOST_LEAF1_ECX = 1u | CPUID1_FMA | CPUID1_XSAVE | CPUID1_OSXSAVE | CPUID1_AVX | CPUID1_F16C;
const x86::CpuidRegs LEAF1{0x000806F8, 0x0001'0800, HOST_LEAF1_ECX, 0x078B'FBFF};
// (0Dh, 0): x87, SSE, AVX, MPX (3, 4), AVX-512 (5-7) and PKRU (9) supported; 2696 bytes for all.
const x86::CpuidRegs D0{0x2FF, 0x340, 0xA88, 0};
const x86::CpuidRegs D2{256, 576, 0, 0}; // AVX: 256 bytes at 576 (13.4.3, standard format)

Layout host_layout() { return layout_from_cpuid(LEAF1, D0, D2); }
} // namespace

TEST(X86Xsave, OffersExactlyTheComponentsCxvisorSwitches) {
    const Layout l = host_layout();
    EXPECT_EQ(l.offered, X87 | SSE | AVX); // not MPX, AVX-512 or PKRU, which the CPU has
    EXPECT_EQ(l.avx_offset, 576u);
    EXPECT_EQ(l.avx_size, 256u);
    EXPECT_EQ(l.size(X87), 576u);          // legacy region + header
    EXPECT_EQ(l.size(X87 | SSE), 576u);
    EXPECT_EQ(l.size(X87 | SSE | AVX), 832u);
    EXPECT_LE(l.size(l.offered), AREA_CAPACITY);
}

TEST(X86Xsave, NoXsaveOrNoAvxOnTheCpuOffersLess) {
    // No XSAVE in CPUID 1: nothing (the vCPUs switch FXSAVE images).
    EXPECT_FALSE(layout_from_cpuid({0, 0, HOST_LEAF1_ECX & ~CPUID1_XSAVE, 0}, D0, D2).present());
    // XSAVE without AVX (no CPUID 1 AVX, or no XCR0 bit 2): x87 and SSE only.
    EXPECT_EQ(layout_from_cpuid({0, 0, HOST_LEAF1_ECX & ~CPUID1_AVX, 0}, D0, D2).offered, X87 | SSE);
    EXPECT_EQ(layout_from_cpuid(LEAF1, {0x3, 0x240, 0x240, 0}, D2).offered, X87 | SSE);
    // AVX placed beyond the vCPU's buffer, or inside the legacy region/header: not offered.
    EXPECT_EQ(layout_from_cpuid(LEAF1, D0, {256, AREA_CAPACITY - 128, 0, 0}).offered, X87 | SSE);
    EXPECT_EQ(layout_from_cpuid(LEAF1, D0, {256, 512, 0, 0}).offered, X87 | SSE);
    // A CPUID without x87 or SSE in XCR0's supported bits is not trusted: no XSAVE.
    EXPECT_FALSE(layout_from_cpuid(LEAF1, {0x5, 0x340, 0x340, 0}, D2).present());
}

TEST(X86Xsave, XsetbvAcceptsOnlyValidCombinationsOfOfferedBits) {
    const Layout l = host_layout();
    auto check = [&](u64 value, u32 index = 0, u8 cpl = 0, bool osxsave = true) {
        return check_xsetbv(l, osxsave, cpl, index, value);
    };
    EXPECT_EQ(check(X87), XsetbvResult::Ok);
    EXPECT_EQ(check(X87 | SSE), XsetbvResult::Ok);
    EXPECT_EQ(check(X87 | SSE | AVX), XsetbvResult::Ok);
    // Bits the CPU supports but cxvisor does not offer: #GP, as an unsupported bit.
    EXPECT_EQ(check(X87 | SSE | AVX | bit(9)), XsetbvResult::Gp); // PKRU
    EXPECT_EQ(check(X87 | SSE | bit(3) | bit(4)), XsetbvResult::Gp); // MPX
    EXPECT_EQ(check(X87 | SSE | AVX | bit(5) | bit(6) | bit(7)), XsetbvResult::Gp); // AVX-512
    EXPECT_EQ(check(X87 | bit(63)), XsetbvResult::Gp);
    // 13.3: XCR0[0] must be 1; XCR0[2:1] = 10b is refused.
    EXPECT_EQ(check(SSE), XsetbvResult::Gp);
    EXPECT_EQ(check(0), XsetbvResult::Gp);
    EXPECT_EQ(check(X87 | AVX), XsetbvResult::Gp);
    // Only XCR0 can be written; XSETBV is CPL 0 only; #UD with CR4.OSXSAVE clear or without XSAVE.
    EXPECT_EQ(check(X87, 1), XsetbvResult::Gp);
    EXPECT_EQ(check(X87, 0xFFFF'FFFF), XsetbvResult::Gp);
    EXPECT_EQ(check(X87 | SSE, 0, 3), XsetbvResult::Gp);
    EXPECT_EQ(check(X87 | SSE, 0, 0, false), XsetbvResult::Ud);
    EXPECT_EQ(check_xsetbv(Layout{}, true, 0, 0, X87), XsetbvResult::Ud);
    // Without AVX offered, AVX is an unoffered bit.
    const Layout no_avx = layout_from_cpuid({0, 0, HOST_LEAF1_ECX & ~CPUID1_AVX, 0}, D0, D2);
    EXPECT_EQ(check_xsetbv(no_avx, true, 0, 0, X87 | SSE | AVX), XsetbvResult::Gp);
    EXPECT_EQ(check_xsetbv(no_avx, true, 0, 0, X87 | SSE), XsetbvResult::Ok);
}

TEST(X86Xsave, SanitizeKeepsWhatWasOfferedOfAnXcr0TheGuestSetUnchecked) {
    const Layout l = host_layout();
    EXPECT_EQ(sanitize(l, X87 | SSE | AVX), X87 | SSE | AVX);
    EXPECT_EQ(sanitize(l, X87 | SSE | AVX | bit(9)), X87 | SSE | AVX); // PKRU dropped
    EXPECT_EQ(sanitize(l, X87 | bit(9)), X87);
    EXPECT_EQ(sanitize(l, 0), X87);
}

TEST(X86Xsave, CpuidLeaf1ShowsXsaveAvxAndTheGuestsOwnOsxsave) {
    const GuestXsave off{host_layout(), X87, false}, on{host_layout(), X87 | SSE | AVX, true};
    x86::CpuidRegs r = guest_cpuid(1, 0, LEAF1, 0, 0, 1, off);
    EXPECT_TRUE(r.c & CPUID1_XSAVE);
    EXPECT_FALSE(r.c & CPUID1_OSXSAVE); // the host's CR4.OSXSAVE is set; the guest's is not
    EXPECT_TRUE(r.c & CPUID1_AVX);
    EXPECT_TRUE(r.c & CPUID1_FMA);
    EXPECT_TRUE(r.c & CPUID1_F16C);
    EXPECT_TRUE(r.c & 1u); // SSE3 untouched
    EXPECT_TRUE(guest_cpuid(1, 0, LEAF1, 0, 0, 1, on).c & CPUID1_OSXSAVE);
    // Without AVX offered: no AVX, FMA or F16C, even where the CPU has them.
    const GuestXsave no_avx{layout_from_cpuid({0, 0, HOST_LEAF1_ECX & ~CPUID1_AVX, 0}, D0, D2), X87, true};
    r = guest_cpuid(1, 0, LEAF1, 0, 0, 1, no_avx);
    EXPECT_TRUE(r.c & CPUID1_XSAVE);
    EXPECT_FALSE(r.c & (CPUID1_AVX | CPUID1_FMA | CPUID1_F16C));
    // Without XSAVE: none of it, OSXSAVE included (the FXSAVE path, as before).
    r = guest_cpuid(1, 0, LEAF1, 0, 0, 1, GuestXsave{});
    EXPECT_FALSE(r.c & (CPUID1_XSAVE | CPUID1_OSXSAVE | CPUID1_AVX | CPUID1_FMA | CPUID1_F16C));
    EXPECT_FALSE(guest_cpuid(1, 0, LEAF1, 0, 0).c & CPUID1_XSAVE); // the default view
}

TEST(X86Xsave, CpuidLeafDListsExactlyTheOfferedComponents) {
    const GuestXsave sse{host_layout(), X87 | SSE, true}, avx{host_layout(), X87 | SSE | AVX, true};
    x86::CpuidRegs r = guest_cpuid(0xD, 0, D0, 0, 0, 1, sse);
    EXPECT_EQ(r.a, u32(X87 | SSE | AVX)); // the host's 0x2FF, sanitised
    EXPECT_EQ(r.d, 0u);
    EXPECT_EQ(r.b, 576u);                 // for the guest's XCR0 now
    EXPECT_EQ(r.c, 832u);                 // for everything offered (the host says 2696)
    EXPECT_EQ(guest_cpuid(0xD, 0, D0, 0, 0, 1, avx).b, 832u);
    // Subleaf 1: no XSAVEOPT, XSAVEC, XGETBV(1), XSAVES, no IA32_XSS bits.
    r = guest_cpuid(0xD, 1, {0xF, 0x988, 0x1800, 0}, 0, 0, 1, avx);
    EXPECT_EQ(r.a | r.b | r.c | r.d, 0u);
    // Subleaf 2: AVX's size and offset; the components not offered are empty.
    r = guest_cpuid(0xD, 2, D2, 0, 0, 1, avx);
    EXPECT_EQ(r.a, 256u);
    EXPECT_EQ(r.b, 576u);
    EXPECT_EQ(r.c | r.d, 0u);
    for (u32 sub : {3u, 5u, 7u, 9u, 63u}) {
        r = guest_cpuid(0xD, sub, {64, 960, 0, 0}, 0, 0, 1, avx);
        EXPECT_EQ(r.a | r.b | r.c | r.d, 0u) << sub;
    }
    // No XSAVE: the leaf is empty.
    r = guest_cpuid(0xD, 0, D0, 0, 0, 1, GuestXsave{});
    EXPECT_EQ(r.a | r.b | r.c | r.d, 0u);
    // XSAVE without AVX: subleaf 2 empty, sizes of the legacy region and header.
    const GuestXsave no_avx{layout_from_cpuid({0, 0, HOST_LEAF1_ECX & ~CPUID1_AVX, 0}, D0, D2), X87 | SSE, true};
    r = guest_cpuid(0xD, 0, D0, 0, 0, 1, no_avx);
    EXPECT_EQ(r.a, u32(X87 | SSE));
    EXPECT_EQ(r.c, 576u);
    r = guest_cpuid(0xD, 2, D2, 0, 0, 1, no_avx);
    EXPECT_EQ(r.a | r.b | r.c | r.d, 0u);
}
