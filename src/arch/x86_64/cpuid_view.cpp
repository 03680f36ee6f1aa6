// The guest's CPUID view (cpuid_view.hpp).
#include "cpuid_view.hpp"
#include "abi/hypercall.hpp"
#include "vintc/vlapic.hpp"

namespace arch {

// CPUID as the guest sees it (docs/porting.md "x86_64: CPUID"): the host's, less what cxvisor
// does not virtualize, plus the hypervisor leaves. Leaf numbers and bits: APM vol. 3 rev. 3.36,
// appendix E ("Obtaining Processor Information Via the CPUID Instruction").
x86::CpuidRegs guest_cpuid(u32 leaf, u32 subleaf, x86::CpuidRegs r, u32 vcpu_id, u64 tsc_khz, u32 vcpu_count,
                           const xsave::GuestXsave& xs) {
    const xsave::Layout& xl = xs.layout;
    switch (leaf) {
    case 0x1: {
        // E.3.2: EBX[31:24] the initial APIC id = the vCPU's index; ECX: no MONITOR (3), no VMX
        // (5), no x2APIC (21: no x2APIC is emulated), no TSC deadline (24: the vLAPIC timer has
        // one-shot and periodic modes only); XSAVE (26) where cxvisor switches XSAVE state
        // (xsave.hpp), OSXSAVE (27) as the guest's own CR4.OSXSAVE is (the CPU would show the
        // host's), and what needs the AVX state (FMA 12, AVX 28, F16C 29) only where AVX is
        // offered; bit 31 = running under a hypervisor.
        const u32 host_c = r.c;
        r.b = (r.b & 0x00FF'FFFF) | vcpu_id << 24;
        r.c &= ~u32(bit(3) | bit(5) | bit(12) | bit(21) | bit(24) | bit(26) | bit(27) | bit(28) | bit(29));
        r.c |= u32(bit(31));
        if (xl.present()) r.c |= xsave::CPUID1_XSAVE | (xs.osxsave ? xsave::CPUID1_OSXSAVE : 0);
        if (xl.offered & xsave::AVX) r.c |= host_c & (xsave::CPUID1_FMA | xsave::CPUID1_AVX | xsave::CPUID1_F16C);
        return r;
    }
    case 0x5: // MONITOR/MWAIT, hidden above
    case 0x7: // structured extended features: hidden until each is reviewed for guests (AVX2 among them)
    case 0xB: // x2APIC topology, with no x2APIC
        return {0, 0, 0, 0};
    case 0xD:
        // XSAVE state (SDM vol. 1 13.2): exactly the components cxvisor offers and switches.
        // Subleaf 0: EDX:EAX the XCR0 bits a guest may set, EBX the area size for the guest's
        // XCR0 now, ECX the size for all offered. Subleaf 1 (XSAVEOPT, XSAVEC, XGETBV ECX=1,
        // XSAVES and IA32_XSS) all 0: none of them is offered. Subleaf 2 (AVX): size and offset.
        // Nothing without XSAVE.
        if (!xl.present()) return {0, 0, 0, 0};
        if (subleaf == 0) return {u32(xl.offered), xl.size(xs.xcr0), xl.size(xl.offered), u32(xl.offered >> 32)};
        if (subleaf == 2 && (xl.offered & xsave::AVX)) return {xl.avx_size, xl.avx_offset, 0, 0};
        return {0, 0, 0, 0};
    case 0x4000'0000:
        // The hypervisor leaves (the range Linux and others probe when bit 31 of leaf 1 ECX is
        // set): EAX the highest, EBX:ECX:EDX the vendor signature "cxvisor\0\0\0\0\0".
        return {0x4000'0010, 0x6976'7863 /* "cxvi" */, 0x0072'6f73 /* "sor\0" */, 0};
    case 0x4000'0001:
        // cxvisor's leaf: EAX = the hypercall ABI version (abi/hypercall.hpp, HC_VERSION's value),
        // EBX = the VM's vCPUs (their APIC ids are 0..EBX-1: the guest has no MP table or MADT).
        return {cxv_abi::VERSION_MAJOR << 16 | cxv_abi::VERSION_MINOR, vcpu_count, 0, 0};
    case 0x4000'0010:
        // Timing: EAX = the TSC's rate in kHz, EBX = the local APIC timer's input clock in kHz, as
        // VMware and KVM publish them in this leaf (the guest has no other way to learn them:
        // CPUID 15h does not exist on AMD).
        return {u32(tsc_khz), u32(vlapic::TimerHz / 1000), 0, 0};
    case 0x8000'0001:
        // E.4.2: ECX[2] SVM (a guest never runs SVM: the instructions raise #UD), ECX[11] XOP
        // and ECX[16] FMA4 (AMD's instructions over the AVX state, not reviewed for guests), ECX[13] WDT.
        r.c &= ~u32(bit(2) | bit(11) | bit(13) | bit(16));
        return r;
    case 0x8000'000A: // SVM features, hidden with SVM
        return {0, 0, 0, 0};
    default:
        if (leaf >= 0x4000'0000 && leaf <= 0x4FFF'FFFF) return {0, 0, 0, 0}; // the rest of the hypervisor range
        return r;
    }
}

} // namespace arch
