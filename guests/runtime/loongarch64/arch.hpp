// The loongarch64 part of the test-guest runtime (rt.hpp includes it): the VM's addresses (QEMU
// LoongArch virt's layout as cxvisor's guest board gives it, tools/vmconfig/board_loongarch64.cpp
// and configs/vms/loongarch64/), cxvisor's HVCL conduit (abi/hypercall.hpp), the GED power
// registers and the IPI mail buffers. The guest runs at PLV0 in direct address mode (CRMD.DA = 1):
// physical addresses, no TLB. Manual: "LoongArch Reference Manual Volume 1: Basic Architecture"
// v1.10 (below "Vol. 1"); the virtualization extension (LVZ) as the fork of QEMU implements it
// (../shared/platform-notes.md "loongarch64").
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "abi/hypercall.hpp"

namespace rt {

inline constexpr uint64_t RAM_BASE = 0;
inline constexpr uint64_t IMAGE_BASE = 0x200000; // guest.ld; where cxvisor enters vCPU 0
// The console: a 16550 with byte registers (reg-shift 0). cxvisor's guest board puts it at the
// start of the page of QEMU virt's own UART (0x1fe0_01e0), as emulated devices take whole pages.
// CXV_GUEST_UART_BASE=0x1fe001e0 builds a guest for bare QEMU (no hypervisor), to check the
// runtime on the board itself (guests/README.md "loongarch64").
#ifdef CXV_GUEST_UART_BASE
inline constexpr uint64_t UART_BASE = CXV_GUEST_UART_BASE;
#else
inline constexpr uint64_t UART_BASE = 0x1fe00000;
#endif
// QEMU virt's ACPI Generic Event Device registers (hw/loongarch/virt.c VIRT_GED_REG_ADDR; ACPI 6.5,
// 4.8.3.7 "Sleep Control and Status Registers" of a hardware-reduced platform, and the FADT
// RESET_REG): writing SLP_TYP = 5 (S5) with SLP_EN powers off, writing 0x42 to the reset register
// resets. cxvisor's LoongArch host powers QEMU off through the same register; its LVZ backend
// takes a guest's store to either as the VM's power-off / reset (docs/porting.md "loongarch64").
inline constexpr uint64_t GED_SLEEP_CTL = 0x100E001C, GED_RESET = 0x100E001E;
inline constexpr uint8_t GED_SLP_S5_EN = 5u << 2 | 1u << 5, GED_RESET_VALUE = 0x42;

// ---- CSRs (Vol. 1 7.1 table 7-1) and the instructions that reach them (4.2.10) ----
namespace csr {
inline constexpr unsigned CRMD = 0x0, PRMD = 0x1, EUEN = 0x2, ECFG = 0x4, ESTAT = 0x5, ERA = 0x6, BADV = 0x7,
                          BADI = 0x8, EENTRY = 0xc, CPUID = 0x20, TCFG = 0x41, TVAL = 0x42, TICLR = 0x44,
                          GSTAT = 0x50, GCFG = 0x51;
}
#define RT_CSRRD(num)                                                                                              \
    ({                                                                                                             \
        uint64_t v_;                                                                                               \
        asm volatile("csrrd %0, %1" : "=r"(v_) : "i"(num) : "memory");                                             \
        v_;                                                                                                        \
    })
#define RT_CSRWR(num, val)                                                                                         \
    do {                                                                                                           \
        uint64_t v_ = (val);                                                                                       \
        asm volatile("csrwr %0, %1" : "+r"(v_) : "i"(num) : "memory");                                             \
    } while (0)
// CSRXCHG: the bits of `mask` take `val`'s (4.2.10.1).
#define RT_CSRXCHG(num, val, mask)                                                                                 \
    do {                                                                                                           \
        uint64_t v_ = (val);                                                                                       \
        asm volatile("csrxchg %0, %1, %2" : "+r"(v_) : "r"(uint64_t(mask)), "i"(num) : "memory");                 \
    } while (0)
inline constexpr uint64_t CRMD_IE = 1u << 2;
// ECFG.LIE / ESTAT.IS (7.4.4, 7.4.5): bits 0-1 software, 2-9 HWI0-7, 10 PMC, 11 timer, 12 IPI.
inline constexpr uint64_t IS_TIMER = 1u << 11, IS_IPI = 1u << 12;
// TCFG (7.6.2): En [0], Periodic [1], InitVal [n-1:2]; TICLR.CLR [0] clears the timer interrupt.
inline constexpr uint64_t TCFG_EN = 1;

// CPUCFG (2.2.10.5): configuration word `word`.
inline uint32_t cpucfg(uint32_t word) {
    uint64_t v;
    asm volatile("cpucfg %0, %1" : "=r"(v) : "r"(uint64_t(word)));
    return static_cast<uint32_t>(v);
}

// ---- IOCSR (4.2.10.2) ----
inline uint32_t iocsr_read32(uint64_t a) {
    uint64_t v;
    asm volatile("iocsrrd.w %0, %1" : "=r"(v) : "r"(a) : "memory");
    return static_cast<uint32_t>(v);
}
inline void iocsr_write32(uint64_t a, uint32_t v) { asm volatile("iocsrwr.w %0, %1" ::"r"(uint64_t(v)), "r"(a) : "memory"); }
inline void iocsr_write64(uint64_t a, uint64_t v) { asm volatile("iocsrwr.d %0, %1" ::"r"(v), "r"(a) : "memory"); }

// ---- cxvisor's calls: HVCL 0 (LVZ: Ecode 0x17 to the host, the code in BADI), a0 = number,
// "x1".."x6" in a1..a6, results "x0".."x3" in a0..a3 (src/abi/hypercall.hpp). cxvisor changes no
// other register, but the call is a function-call boundary for the compiler anyway (t0-t8 are
// caller-saved in the LoongArch ELF psABI v2.20), which costs nothing here. ----
struct HvclResult {
    int64_t x0;
    uint64_t x1, x2, x3;
};
inline HvclResult hvcl(uint64_t nr, uint64_t a1 = 0, uint64_t a2 = 0, uint64_t a3 = 0, uint64_t a4 = 0, uint64_t a5 = 0,
                       uint64_t a6 = 0) {
    register uint64_t r4 asm("$a0") = nr;
    register uint64_t r5 asm("$a1") = a1;
    register uint64_t r6 asm("$a2") = a2;
    register uint64_t r7 asm("$a3") = a3;
    register uint64_t r8 asm("$a4") = a4;
    register uint64_t r9 asm("$a5") = a5;
    register uint64_t r10 asm("$a6") = a6;
    asm volatile("hvcl 0" : "+r"(r4), "+r"(r5), "+r"(r6), "+r"(r7) : "r"(r8), "r"(r9), "r"(r10) : "memory");
    return {int64_t(r4), r5, r6, r7};
}

// rt::start_cpu / rt::cpu_state: LoongArch has no firmware call for cores; a core is started
// through its IPI mail buffers (arch.cpp), as QEMU virt and Linux do. These are the runtime's own
// codes, in PSCI's numbering for the messages.
inline constexpr int64_t CPU_START_OK = 0;
inline constexpr int64_t CPU_START_INVALID = -2;
inline constexpr int64_t CPU_START_ALREADY = -4;
inline constexpr int64_t CPU_STATE_ON = 0;
inline constexpr int64_t CPU_STATE_OFF = 1;
inline constexpr const char* SYSTEM_OFF_NAME = "the GED sleep control register (S5)";
inline constexpr const char* SYSTEM_RESET_NAME = "the GED reset register";

// ---- per-CPU and time ----
inline unsigned cpu_index() {
    uint64_t v;
    asm volatile("move %0, $tp" : "=r"(v));
    return static_cast<unsigned>(v);
}
// RDTIME.D (4.2.10.4): the constant-frequency stable counter.
inline uint64_t counter() {
    uint64_t v, id;
    asm volatile("rdtime.d %0, %1" : "=r"(v), "=r"(id)::"memory");
    return v;
}
// CPUCFG word 4 (the constant timer's crystal frequency) x word 5 [15:0] / [31:16] (2.2.10.5),
// read once.
uint64_t counter_freq();
// No pause hint in LoongArch: a data barrier is the cheap thing to spin on.
inline void cpu_relax() { asm volatile("dbar 0" ::: "memory"); }
// 100 single-cycle ALU instructions: the bench programs' loop-overhead probe (add100 - 100).
inline void add100() { asm volatile(".rept 100\n addi.d $t8, $t8, 1\n .endr" ::: "$t8"); }
// DBAR 0 (2.2.8.1): a full completion barrier for every kind of access, memory and device alike.
inline void dma_wmb() { asm volatile("dbar 0" ::: "memory"); }
inline void dma_rmb() { asm volatile("dbar 0" ::: "memory"); }
inline void dma_mb() { asm volatile("dbar 0" ::: "memory"); }

// ---- interrupts: the exception entry calls `handler` for every interrupt (ESTAT.Ecode 0) with
// ESTAT; it returns false for one it does not know, which then fails the test as unexpected. ----
using InterruptHandler = bool (*)(uint64_t estat);
void set_interrupt_handler(InterruptHandler handler);

// rt::expect_fault/last_exception (rt.hpp): ExcRecord.esr = ESTAT[30:16] (Ecode | EsubCode << 6),
// far = BADV, elr = ERA; an armed exception skips the instruction (always 4 bytes).
// rt::probe_read/probe_write/is_external_abort (rt.hpp): Probe.esr/far likewise. The abort cxvisor
// gives for an access to nothing is the address error of a memory access (ADEM: Ecode 0x8,
// EsubCode 1, Vol. 1 6.2.1 table 6-6) with BADV = the address: what a LoongArch core raises for
// an address it cannot reach, so a guest kernel reports it as a bad access.
inline constexpr uint64_t ECODE_INT = 0x0, ECODE_ADE = 0x8, ECODE_ALE = 0x9, ECODE_INE = 0xd, ECODE_IPE = 0xe;
inline constexpr uint64_t esr_code(uint64_t ecode, uint64_t esubcode = 0) { return ecode | esubcode << 6; }
inline constexpr uint64_t ESR_ADEM = esr_code(ECODE_ADE, 1);

} // namespace rt
