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

} // namespace arch
