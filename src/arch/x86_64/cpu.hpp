// x86-64 instructions cxvisor uses, as inline functions (AMD64 APM vol. 3 rev. 3.36 for the
// instructions; vol. 2 rev. 3.42 for the registers they reach). Nothing here has state.
#pragma once
#include "base/types.hpp"

namespace arch::x86 {

// Port I/O (APM vol. 1, 14.2 "I/O Addresses").
inline void outb(u16 port, u8 v) { asm volatile("outb %0, %1" ::"a"(v), "Nd"(port) : "memory"); }
inline void outl(u16 port, u32 v) { asm volatile("outl %0, %1" ::"a"(v), "Nd"(port) : "memory"); }
inline void outw(u16 port, u16 v) { asm volatile("outw %0, %1" ::"a"(v), "Nd"(port) : "memory"); }
inline u8 inb(u16 port) {
    u8 v;
    asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port) : "memory");
    return v;
}

// Model-specific registers (vol. 2, 6.8 "Model-Specific Registers").
inline u64 rdmsr(u32 msr) {
    u32 lo, hi;
    asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return u64(hi) << 32 | lo;
}
inline void wrmsr(u32 msr, u64 v) { asm volatile("wrmsr" ::"c"(msr), "a"(u32(v)), "d"(u32(v >> 32)) : "memory"); }

inline constexpr u32 MSR_APIC_BASE = 0x1B;        // vol. 2, 16.3.1 "Local APIC Enable"
inline constexpr u32 MSR_EFER = 0xC000'0080;      // vol. 2, 3.1.7 "Extended Feature Enable Register"
inline constexpr u32 MSR_GS_BASE = 0xC000'0101;   // vol. 2, 4.5.3 "Segment Registers in 64-Bit Mode"
inline constexpr u32 MSR_VM_CR = 0xC001'0114;     // vol. 2, 15.30.1 "VM_CR MSR"
inline constexpr u32 MSR_VM_HSAVE_PA = 0xC001'0117; // vol. 2, 15.30.4 "VM_HSAVE_PA MSR"
inline constexpr u64 EFER_NXE = bit(11), EFER_SVME = bit(12);
inline constexpr u64 VM_CR_SVMDIS = bit(4);

struct CpuidRegs {
    u32 a, b, c, d;
};
// CPUID (vol. 3, "CPUID"; the function list in appendix E).
inline CpuidRegs cpuid(u32 leaf, u32 subleaf = 0) {
    CpuidRegs r;
    asm volatile("cpuid" : "=a"(r.a), "=b"(r.b), "=c"(r.c), "=d"(r.d) : "a"(leaf), "c"(subleaf));
    return r;
}

inline u64 rdtsc() {
    u32 lo, hi;
    asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return u64(hi) << 32 | lo;
}

inline u64 read_cr2() {
    u64 v;
    asm volatile("mov %%cr2, %0" : "=r"(v));
    return v;
}
inline u64 read_cr3() {
    u64 v;
    asm volatile("mov %%cr3, %0" : "=r"(v));
    return v;
}
inline u64 read_cr4() {
    u64 v;
    asm volatile("mov %%cr4, %0" : "=r"(v));
    return v;
}
inline void write_cr4(u64 v) { asm volatile("mov %0, %%cr4" ::"r"(v) : "memory"); }
// Writing CR3 flushes every non-global TLB entry (vol. 2, 5.5.2 "TLB Management").
inline void write_cr3(u64 v) { asm volatile("mov %0, %%cr3" ::"r"(v) : "memory"); }

// XCRs and the XSAVE area (SDM vol. 1 13.3, 13.7, 13.8; APM vol. 3 "XGETBV", "XSETBV", "XSAVE",
// "XRSTOR"): CR4.OSXSAVE must be set, the area 64-byte aligned. `mask` is the requested-feature
// bitmap (EDX:EAX), ANDed with XCR0 by the CPU.
inline u64 xgetbv(u32 index) {
    u32 lo, hi;
    asm volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(index));
    return u64(hi) << 32 | lo;
}
inline void xsetbv(u32 index, u64 v) { asm volatile("xsetbv" ::"c"(index), "a"(u32(v)), "d"(u32(v >> 32)) : "memory"); }
// The protection-key rights register (SDM vol. 3A 4.6.2 "Protection Keys"; vol. 2 "RDPKRU",
// "WRPKRU"): both #UD unless CR4.PKE is set; ECX (and EDX for WRPKRU) must be 0.
inline u32 rdpkru() {
    u32 v, d;
    asm volatile("rdpkru" : "=a"(v), "=d"(d) : "c"(0));
    return v;
}
inline void wrpkru(u32 v) { asm volatile("wrpkru" ::"a"(v), "c"(0), "d"(0) : "memory"); }
inline void xsave64(void* area, u64 mask) {
    asm volatile("xsave64 (%0)" ::"r"(area), "a"(u32(mask)), "d"(u32(mask >> 32)) : "memory");
}
inline void xrstor64(const void* area, u64 mask) {
    asm volatile("xrstor64 (%0)" ::"r"(area), "a"(u32(mask)), "d"(u32(mask >> 32)) : "memory");
}
inline void fxsave64(void* area) { asm volatile("fxsave64 (%0)" ::"r"(area) : "memory"); }
inline void fxrstor64(const void* area) { asm volatile("fxrstor64 (%0)" ::"r"(area) : "memory"); }

inline void mfence() { asm volatile("mfence" ::: "memory"); }

} // namespace arch::x86
