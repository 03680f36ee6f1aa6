// The x86_64 part of the test-guest runtime (rt.hpp includes it): the VM's addresses (a PC's
// layout: RAM from 0, the image at 1 MiB, the console a 16550 at I/O port 0x3F8; configs/vms/x86_64/),
// port I/O, cxvisor's VMMCALL conduit and the chipset's power ports. start.S takes the vCPU from
// cxvisor's 32-bit entry (docs/porting.md "x86 VMs") to 64-bit mode with an identity map of the
// first 4 GiB.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "abi/hypercall.hpp"

namespace rt {

inline constexpr uint64_t RAM_BASE = 0;
inline constexpr uint64_t IMAGE_BASE = 0x100000; // guest.ld; where cxvisor enters vCPU 0
inline constexpr uint16_t UART_PORT = 0x3F8;     // COM1: a 16550 in the port space
inline constexpr uint16_t PM1A_CNT_PORT = 0x604, RESET_CONTROL_PORT = 0xCF9; // QEMU pc/q35's chipset ports

// ---- port I/O (AMD64 APM vol. 3, IN / OUT) ----
inline void outb(uint16_t port, uint8_t v) { asm volatile("outb %0, %1" ::"a"(v), "Nd"(port) : "memory"); }
inline void outw(uint16_t port, uint16_t v) { asm volatile("outw %0, %1" ::"a"(v), "Nd"(port) : "memory"); }
inline void outl(uint16_t port, uint32_t v) { asm volatile("outl %0, %1" ::"a"(v), "Nd"(port) : "memory"); }
inline uint8_t inb(uint16_t port) {
    uint8_t v;
    asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port) : "memory");
    return v;
}
inline uint16_t inw(uint16_t port) {
    uint16_t v;
    asm volatile("inw %1, %0" : "=a"(v) : "Nd"(port) : "memory");
    return v;
}
inline uint32_t inl(uint16_t port) {
    uint32_t v;
    asm volatile("inl %1, %0" : "=a"(v) : "Nd"(port) : "memory");
    return v;
}

// ---- CPUID (APM vol. 3, "CPUID"): what cxvisor shows its guests (docs/porting.md "x86_64: CPUID") ----
struct CpuidRegs {
    uint32_t a, b, c, d;
};
inline CpuidRegs cpuid(uint32_t leaf, uint32_t subleaf = 0) {
    CpuidRegs r;
    asm volatile("cpuid" : "=a"(r.a), "=b"(r.b), "=c"(r.c), "=d"(r.d) : "a"(leaf), "c"(subleaf));
    return r;
}

// ---- cxvisor's calls: VMMCALL, RAX = number, "x1".."x6" in RDI, RSI, RDX, R10, R8, R9, results
// "x0".."x3" in RAX, RDI, RSI, RDX (src/abi/hypercall.hpp; the other registers are preserved) ----
struct VmmcallResult {
    int64_t x0;
    uint64_t x1, x2, x3;
};
inline VmmcallResult vmmcall(uint64_t nr, uint64_t a1 = 0, uint64_t a2 = 0, uint64_t a3 = 0, uint64_t a4 = 0,
                             uint64_t a5 = 0, uint64_t a6 = 0) {
    register uint64_t rax asm("rax") = nr;
    register uint64_t rdi asm("rdi") = a1;
    register uint64_t rsi asm("rsi") = a2;
    register uint64_t rdx asm("rdx") = a3;
    register uint64_t r10 asm("r10") = a4;
    register uint64_t r8 asm("r8") = a5;
    register uint64_t r9 asm("r9") = a6;
    asm volatile("vmmcall" : "+r"(rax), "+r"(rdi), "+r"(rsi), "+r"(rdx) : "r"(r10), "r"(r8), "r"(r9) : "memory");
    return {int64_t(rax), rdi, rsi, rdx};
}

// rt::start_cpu / rt::cpu_state: a PC has no firmware to ask, so the runtime starts an AP itself
// with INIT-SIPI-SIPI through its local APIC (start.S's real-mode trampoline) and keeps each
// vCPU's state (started, off after rt::cpu_off) in its own memory; the VM's vCPU count comes from
// cxvisor's CPUID leaf 0x4000_0001 EBX. The codes mirror PSCI's, as the other ISAs' runtimes.
inline constexpr int64_t CPU_START_OK = 0;
inline constexpr int64_t CPU_START_ALREADY = -6;
inline constexpr int64_t CPU_START_INVALID = -3;
inline constexpr int64_t CPU_STATE_ON = 0;
inline constexpr int64_t CPU_STATE_OFF = 1;
inline constexpr const char* SYSTEM_OFF_NAME = "ACPI PM1a_CNT SLP_EN";
inline constexpr const char* SYSTEM_RESET_NAME = "the reset control register";
// The VM's vCPUs (cxvisor's CPUID leaf 0x4000_0001 EBX; 1 without it).
unsigned vcpu_count();

// ---- the local APIC (xAPIC, Intel SDM vol. 3A ch. 11; docs/porting.md "x86 VMs: interrupts") ----
inline constexpr uint64_t LAPIC_BASE = 0xFEE00000;
namespace lapic {
inline constexpr uint32_t ID = 0x20, TPR = 0x80, PPR = 0xA0, EOI = 0xB0, SVR = 0xF0, ISR = 0x100, IRR = 0x200,
                          ESR = 0x280, ICR_LO = 0x300, ICR_HI = 0x310, LVT_TIMER = 0x320, TIMER_INIT = 0x380,
                          TIMER_CUR = 0x390, TIMER_DIV = 0x3E0;
inline constexpr uint32_t SVR_ENABLE = 1u << 8, LVT_MASKED = 1u << 16, LVT_PERIODIC = 1u << 17;
inline constexpr uint32_t ICR_INIT = 5u << 8, ICR_SIPI = 6u << 8, ICR_ASSERT = 1u << 14, ICR_SELF = 1u << 18;
inline uint32_t read(uint32_t reg) { return *reinterpret_cast<volatile uint32_t*>(LAPIC_BASE + reg); }
inline void write(uint32_t reg, uint32_t v) { *reinterpret_cast<volatile uint32_t*>(LAPIC_BASE + reg) = v; }
// Software-enables this CPU's APIC (SVR bit 8, spurious vector 0xFF) and opens TPR.
inline void enable() {
    write(SVR, SVR_ENABLE | 0xFF);
    write(TPR, 0);
}
inline void eoi() { write(EOI, 0); }
// The timer's input clock (cxvisor's CPUID leaf 0x4000_0010 EBX, kHz); 0 if unknown.
uint64_t timer_hz();
} // namespace lapic

// ---- interrupts: every vector 32..255 calls `handler(vector)` (the IDT's gates clear IF while it
// runs); without a handler an interrupt fails the test. The handler sends the EOI itself. ----
using InterruptHandler = void (*)(unsigned vector);
void set_interrupt_handler(InterruptHandler handler);
inline void irq_enable() { asm volatile("sti" ::: "memory"); }
inline void irq_disable() { asm volatile("cli" ::: "memory"); }
// HLT with interrupts enabled for exactly that instruction (STI's shadow, APM vol. 3 "STI"): an
// interrupt that is already pending is taken after HLT starts, so it ends the HLT instead of
// being lost in between. IF is 0 again on return.
inline void wait_for_interrupt() { asm volatile("sti; hlt; cli" ::: "memory"); }

// ---- per-CPU and time ----
// The vCPU index lives in the per-CPU word GS points at (start.S): one load.
inline unsigned cpu_index() {
    uint64_t v;
    asm volatile("movq %%gs:0, %0" : "=r"(v));
    return static_cast<unsigned>(v);
}
inline uint64_t counter() {
    uint32_t lo, hi;
    asm volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi)::"memory"); // LFENCE keeps it from being hoisted
    return uint64_t(hi) << 32 | lo;
}
// The TSC's rate from cxvisor's CPUID leaf 0x4000_0010 (EAX = kHz, docs/porting.md "x86_64:
// CPUID"), read once.
uint64_t counter_freq();
inline void cpu_relax() { asm volatile("pause"); }
// 100 single-cycle ALU instructions: the bench programs' loop-overhead probe (add100 - 100).
inline void add100() { asm volatile(".rept 100\n addq $1, %%r11\n .endr" ::: "r11", "cc"); }
// x86 orders stores with stores and loads with loads already (APM vol. 2, 7.2); the fences keep
// the compiler from reordering and order everything for the full barrier.
inline void dma_wmb() { asm volatile("sfence" ::: "memory"); }
inline void dma_rmb() { asm volatile("lfence" ::: "memory"); }
inline void dma_mb() { asm volatile("mfence" ::: "memory"); }

// rt::expect_fault/last_exception (rt.hpp): ExcRecord.esr = the exception vector, far = CR2 for a
// #PF and the error code otherwise, elr = the faulting RIP. x86 instructions have no fixed length:
// only the probes (which know where to resume) can be skipped; any other armed fault is recorded
// and fails the test, as the runtime cannot step over it.
// rt::probe_read/probe_write/is_external_abort: the abort cxvisor gives for an access to nothing
// is #GP(0) (vector 13) at the access (docs/porting.md "x86 VMs").
inline constexpr uint64_t VEC_GP = 13, VEC_PF = 14, VEC_UD = 6;
// Where an armed fault on this CPU continues: a program that arms expect_fault() and stores the
// address after its faulting instruction here (in the same asm statement) has it stepped over.
volatile uint64_t* fault_resume_slot();

} // namespace rt
