// CSR access and the few instructions cxvisor's riscv64 host code needs. CSR names and numbers as
// in the RISC-V Privileged Spec 20211203 (chapter 2.2 "CSR Listing", chapter 4 "Supervisor-Level
// ISA", chapter 8 "Hypervisor Extension"); CSRs the assembler of GCC 12 may not know by name are
// written by number.
#pragma once
#include "base/types.hpp"

#define csr_read(csr)                                                                              \
    ({                                                                                             \
        u64 _v;                                                                                    \
        asm volatile("csrr %0, " #csr : "=r"(_v)::"memory");                                       \
        _v;                                                                                        \
    })
#define csr_write(csr, v) asm volatile("csrw " #csr ", %0" ::"rK"(u64(v)) : "memory")
#define csr_set(csr, v) asm volatile("csrs " #csr ", %0" ::"rK"(u64(v)) : "memory")
#define csr_clear(csr, v) asm volatile("csrc " #csr ", %0" ::"rK"(u64(v)) : "memory")

// Sstc's supervisor timer compare (Sstc extension 1.0, CSR 0x14D): by number, GCC 12's assembler
// predates the name.
#define CSR_STIMECMP 0x14D

namespace arch {

// Supervisor interrupt bits of sip/sie (Privileged Spec 20211203, 4.1.3 "Supervisor Interrupt
// Registers"): the cause numbers of scause (4.1.9, table 4.2).
inline constexpr u64 IRQ_CAUSE_S_SOFT = 1, IRQ_CAUSE_S_TIMER = 5, IRQ_CAUSE_S_EXT = 9;
inline constexpr u64 SIP_SSIP = 1ull << IRQ_CAUSE_S_SOFT, SIP_STIP = 1ull << IRQ_CAUSE_S_TIMER,
                     SIP_SEIP = 1ull << IRQ_CAUSE_S_EXT;
// sstatus.SIE (4.1.1): interrupts at HS level. cxvisor keeps it clear: interrupts are taken as
// guest exits or polled in the idle loop (kernel/sched.cpp), as on aarch64.
inline constexpr u64 SSTATUS_SIE = 1ull << 1;

// FENCE orders memory and device (I/O) accesses alike when both predecessor and successor sets
// name I, O, R and W (unprivileged spec 20191213, 2.7 "Memory Ordering Instructions").
inline void fence_all() { asm volatile("fence iorw, iorw" ::: "memory"); }
inline void fence_i() { asm volatile("fence.i" ::: "memory"); }
// Privileged Spec 20211203, 4.2.1 "Supervisor Memory-Management Fence Instruction".
inline void sfence_vma_all() { asm volatile("sfence.vma" ::: "memory"); }

// HFENCE.GVMA rs1 = GPA >> 2, rs2 = VMID (Privileged Spec 20211203, 8.3.2 "Hypervisor
// Memory-Management Fence Instructions"); x0 in either means "all". Encoded with .insn (funct7
// 0b0110001, opcode SYSTEM): GCC 12 cannot enable the H extension.
inline void hfence_gvma(u64 gpa_shr2, u64 vmid) {
    asm volatile(".insn r 0x73, 0, 0x31, x0, %0, %1" ::"r"(gpa_shr2), "r"(vmid) : "memory");
}
inline void hfence_gvma_vmid(u64 vmid) { asm volatile(".insn r 0x73, 0, 0x31, x0, x0, %0" ::"r"(vmid) : "memory"); }
inline void hfence_gvma_all() { asm volatile(".insn r 0x73, 0, 0x31, x0, x0, x0" ::: "memory"); }
// HFENCE.VVMA rs1 = rs2 = x0 (funct7 0b0010001): every VS-stage translation of the VMID in this
// hart's hgatp (8.3.2).
inline void hfence_vvma_all() { asm volatile(".insn r 0x73, 0, 0x11, x0, x0, x0" ::: "memory"); }

} // namespace arch

// The hypervisor-extension and VS CSRs by number (Privileged Spec 20211203, 2.2 Tables 2.2-2.3),
// read and written through templates so that the number is a compile-time immediate.
namespace arch::csr {

inline constexpr u32 sstatus = 0x100, sie = 0x104, stvec = 0x105, scounteren = 0x106, senvcfg = 0x10a;
inline constexpr u32 sscratch = 0x140, sepc = 0x141, scause = 0x142, stval = 0x143, sip = 0x144;
inline constexpr u32 stimecmp = 0x14d, satp = 0x180;
inline constexpr u32 hstatus = 0x600, hedeleg = 0x602, hideleg = 0x603, hie = 0x604, htimedelta = 0x605;
inline constexpr u32 hcounteren = 0x606, hgeie = 0x607, henvcfg = 0x60a;
inline constexpr u32 htval = 0x643, hip = 0x644, hvip = 0x645, htinst = 0x64a, hgatp = 0x680, hgeip = 0xe12;
inline constexpr u32 vsstatus = 0x200, vsie = 0x204, vstvec = 0x205, vsscratch = 0x240, vsepc = 0x241;
inline constexpr u32 vscause = 0x242, vstval = 0x243, vsip = 0x244, vstimecmp = 0x24d, vsatp = 0x280;
inline constexpr u32 time = 0xc01;

template <u32 N> inline u64 read() {
    u64 v;
    asm volatile("csrr %0, %1" : "=r"(v) : "i"(N) : "memory");
    return v;
}
template <u32 N> inline void write(u64 v) { asm volatile("csrw %0, %1" ::"i"(N), "rK"(v) : "memory"); }
template <u32 N> inline u64 swap(u64 v) {
    u64 old;
    asm volatile("csrrw %0, %1, %2" : "=r"(old) : "i"(N), "rK"(v) : "memory");
    return old;
}
template <u32 N> inline void set(u64 mask) { asm volatile("csrs %0, %1" ::"i"(N), "rK"(mask) : "memory"); }
template <u32 N> inline void clear(u64 mask) { asm volatile("csrc %0, %1" ::"i"(N), "rK"(mask) : "memory"); }

} // namespace arch::csr
