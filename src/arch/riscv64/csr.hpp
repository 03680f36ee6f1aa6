// Control and status registers of the riscv64 host (HS-mode) and of the hypervisor extension,
// by number, and the instructions that reach them. CSR numbers: RISC-V Privileged Spec 20211203,
// 2.2 "CSR Listing" (Tables 2.2 supervisor, 2.3 hypervisor and VS). Numbers rather than names so
// that the assembler accepts them whatever -march says (GCC 12 cannot enable the H extension).
#pragma once
#include "base/types.hpp"

namespace arch::csr {

// Supervisor (Table 2.2).
inline constexpr u32 sstatus = 0x100, sie = 0x104, stvec = 0x105, scounteren = 0x106, senvcfg = 0x10a;
inline constexpr u32 sscratch = 0x140, sepc = 0x141, scause = 0x142, stval = 0x143, sip = 0x144;
inline constexpr u32 stimecmp = 0x14d; // Sstc
inline constexpr u32 satp = 0x180;
// Hypervisor (Table 2.3).
inline constexpr u32 hstatus = 0x600, hedeleg = 0x602, hideleg = 0x603, hie = 0x604, htimedelta = 0x605;
inline constexpr u32 hcounteren = 0x606, hgeie = 0x607, henvcfg = 0x60a;
inline constexpr u32 htval = 0x643, hip = 0x644, hvip = 0x645, htinst = 0x64a, hgatp = 0x680, hgeip = 0xe12;
// Virtual supervisor (Table 2.3).
inline constexpr u32 vsstatus = 0x200, vsie = 0x204, vstvec = 0x205, vsscratch = 0x240, vsepc = 0x241;
inline constexpr u32 vscause = 0x242, vstval = 0x243, vsip = 0x244, vstimecmp = 0x24d, vsatp = 0x280;
// Unprivileged counters.
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

namespace arch {

// HFENCE.GVMA rs1 = GPA >> 2, rs2 = VMID (Priv 20211203, 8.3.2 "Hypervisor Memory-Management Fence
// Instructions"); x0 in either means "all". Encoded with .insn: funct7 0b0110001, opcode SYSTEM.
inline void hfence_gvma(u64 gpa_shr2, u64 vmid) {
    asm volatile(".insn r 0x73, 0, 0x31, x0, %0, %1" ::"r"(gpa_shr2), "r"(vmid) : "memory");
}
inline void hfence_gvma_vmid(u64 vmid) { asm volatile(".insn r 0x73, 0, 0x31, x0, x0, %0" ::"r"(vmid) : "memory"); }
inline void hfence_gvma_all() { asm volatile(".insn r 0x73, 0, 0x31, x0, x0, x0" ::: "memory"); }
// HFENCE.VVMA with rs1 = rs2 = x0: every VS-stage translation of the VMID in this hart's hgatp (8.3.2).
inline void hfence_vvma_all() { asm volatile(".insn r 0x73, 0, 0x11, x0, x0, x0" ::: "memory"); }
inline void fence_i() { asm volatile("fence.i" ::: "memory"); }
// Makes this hart's earlier memory writes visible to the other harts before its later accesses
// (page-table stores before an SBI remote fence that asks them to walk again).
inline void fence_rw_rw() { asm volatile("fence rw, rw" ::: "memory"); }

} // namespace arch
