// The XSAVE state cxvisor offers its x86 guests and switches between vCPUs (docs/porting.md
// "x86_64: FP and vector state"). Pure: decided from the host's CPUID, checked by the host unit
// tests (tests/unit/arch/x86_xsave_test.cpp); the vCPU (vcpu.cpp) does the instructions.
//
// Sources: Intel SDM vol. 1 (Order Number 253665-067US, May 2018) chapter 13 "Managing State Using
// the XSAVE Feature Set": 13.2 (CPUID leaf 0Dh), 13.3 (XCR0 and its rules), 13.4 (the XSAVE area:
// the 512-byte legacy region, the 64-byte header, the components at the offsets CPUID gives);
// Intel SDM vol. 2 "XSETBV" (its #GP and #UD conditions); AMD64 APM vol. 2 (publication 24593
// rev. 3.42) 11.5 "XSAVE/XRSTOR Instructions" and vol. 3 (rev. 3.36) "XSETBV", which say the same
// for AMD CPUs.
//
// What is offered: the components cxvisor switches and the CPU supports, of x87 (XCR0 bit 0),
// SSE (bit 1) and AVX (bit 2, the upper halves of YMM0-15). Nothing else (MPX, AVX-512, PKRU,
// AMX ...): a guest cannot turn them on (XSETBV #GP) and CPUID 0Dh does not list them.
#pragma once
#include "base/types.hpp"
#include "cpu.hpp"

namespace arch::xsave {

inline constexpr u64 X87 = bit(0), SSE = bit(1), AVX = bit(2);
inline constexpr u64 SWITCHED = X87 | SSE | AVX;
// 13.4.1 "Legacy Region of an XSAVE Area" (the FXSAVE image) and 13.4.2 "XSAVE Header".
inline constexpr u32 LEGACY_SIZE = 512, HEADER_SIZE = 64;
inline constexpr u32 HEADER_OFFSET = LEGACY_SIZE;
// Each vCPU's buffer (vcpu.hpp): x87, SSE and AVX take 832 bytes on every CPU that has AVX (AVX at
// offset 576, 256 bytes); a CPU that puts AVX further out than this gets no AVX offered.
inline constexpr u32 AREA_CAPACITY = 1024;
// XSAVE, XSAVEOPT, XRSTOR fault on an area that is not 64-byte aligned (13.4).
inline constexpr u32 AREA_ALIGN = 64;
// CPUID leaf 1 ECX (SDM vol. 2 "CPUID" table 3-10; APM vol. 3 appendix E.3.2).
inline constexpr u32 CPUID1_FMA = u32(bit(12)), CPUID1_XSAVE = u32(bit(26)), CPUID1_OSXSAVE = u32(bit(27)),
                      CPUID1_AVX = u32(bit(28)), CPUID1_F16C = u32(bit(29));
inline constexpr u64 CR4_OSXSAVE = bit(18); // vol. 3A 2.5 / APM vol. 2 3.1.3

// What cxvisor offers on this machine: offered == 0 means no XSAVE (the CPU has none, or not x87
// and SSE in it), and the vCPUs switch FXSAVE images as before.
struct Layout {
    u64 offered = 0;                // the XCR0 bits a guest may set; cxvisor's own XCR0
    u32 avx_offset = 0, avx_size = 0; // CPUID (0Dh, 2) EBX and EAX when AVX is offered
    constexpr bool present() const { return offered != 0; }
    // Bytes of a standard-format XSAVE area holding the components in `xcr0` (13.4.3: each at its
    // CPUID offset; the legacy region and header always).
    constexpr u32 size(u64 xcr0) const {
        return (xcr0 & offered & AVX) ? avx_offset + avx_size : LEGACY_SIZE + HEADER_SIZE;
    }
};

// leaf1 = CPUID 1, d0 = CPUID (0Dh, 0), d2 = CPUID (0Dh, 2), all from the host.
constexpr Layout layout_from_cpuid(x86::CpuidRegs leaf1, x86::CpuidRegs d0, x86::CpuidRegs d2) {
    Layout l;
    if (!(leaf1.c & CPUID1_XSAVE)) return l;
    const u64 supported = u64(d0.d) << 32 | d0.a; // 13.2: the XCR0 bits the CPU supports
    // x87 and SSE are always supported where XSAVE is (13.3); a CPUID saying otherwise is not trusted.
    if ((supported & (X87 | SSE)) != (X87 | SSE)) return l;
    l.offered = X87 | SSE;
    // AVX when the CPU has the instructions and the state, at an offset past the header, within
    // the vCPU's buffer.
    if ((supported & AVX) && (leaf1.c & CPUID1_AVX) && d2.a != 0 && d2.b >= LEGACY_SIZE + HEADER_SIZE &&
        u64(d2.b) + d2.a <= AREA_CAPACITY) {
        l.offered |= AVX;
        l.avx_offset = d2.b;
        l.avx_size = d2.a;
    }
    return l;
}

// What a guest's XSETBV does (SDM vol. 2 "XSETBV", APM vol. 3 "XSETBV"): #UD without XSAVE or
// with CR4.OSXSAVE clear; #GP(0) at CPL > 0, for an XCR other than XCR0 (ECX != 0), for a bit not
// offered (an unsupported bit, as far as the guest can know), with x87 clear (13.3: XCR0[0] is
// always 1) or with AVX set and SSE clear (13.3: XCR0[2:1] = 10b is refused). The CPL and #UD
// checks are the CPU's before the intercept on VMX (SDM vol. 3C 25.1.1), not on SVM, where the
// XSETBV intercept is checked before the #GP for CPL (QEMU's commit "target/i386: check intercept
// for XSETBV" says so), so the handler checks them all.
enum class XsetbvResult : u8 { Ok, Ud, Gp };
constexpr XsetbvResult check_xsetbv(const Layout& l, bool cr4_osxsave, u8 cpl, u32 index, u64 value) {
    if (!l.present() || !cr4_osxsave) return XsetbvResult::Ud;
    if (cpl != 0 || index != 0) return XsetbvResult::Gp;
    if ((value & ~l.offered) || !(value & X87)) return XsetbvResult::Gp;
    if ((value & AVX) && !(value & SSE)) return XsetbvResult::Gp;
    return XsetbvResult::Ok;
}

// A guest XCR0 read back from the CPU, made one cxvisor offers: on a CPU that does not honour the
// XSETBV intercept (QEMU's TCG before 8.2) the guest's XSETBV reaches XCR0 itself, with only the
// CPU's own checks; bits cxvisor does not switch are dropped (and AVX without SSE cannot occur:
// the CPU refuses it).
constexpr u64 sanitize(const Layout& l, u64 xcr0) {
    u64 v = (xcr0 & l.offered) | X87;
    if (!(v & SSE)) v &= ~AVX;
    return v;
}

// The guest's CPUID view of XSAVE (cpuid_view.hpp): the layout, the guest's XCR0 now and its
// CR4.OSXSAVE (CPUID 1 ECX[27] mirrors it, SDM vol. 2 "CPUID"). The default: no XSAVE.
struct GuestXsave {
    Layout layout{};
    u64 xcr0 = X87;
    bool osxsave = false;
};

} // namespace arch::xsave
