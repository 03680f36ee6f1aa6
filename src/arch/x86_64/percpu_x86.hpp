// x86's own per-CPU area: what only this ISA keeps per CPU (the GDT with its TSS, the IST stacks
// of the exceptions that must not use the interrupted stack, the vectors the IDT stubs recorded).
// GS points at it (IA32_GS_BASE); its first word is the generic PerCpu (arch.hpp percpu_pointer).
// Slot 0 is the boot CPU's, slot i + 1 logical CPU i's (the stack slots' convention).
#pragma once
#include "base/types.hpp"
#include "kernel/percpu.hpp"
#include <atomic>

namespace arch {

inline constexpr usize IST_STACK_SIZE = 4096;
// IST numbers (APM vol. 2 rev. 3.42, 8.9.4 "Interrupt-Stack Table"): an NMI, a double fault or a
// machine check can arrive with any stack, even a broken one, so each gets its own.
inline constexpr u32 IST_NMI = 1, IST_DF = 2, IST_MC = 3;

// 64-bit TSS (12.2.5 "64-Bit Task State Segment"): only the IST pointers are used.
struct __attribute__((packed)) Tss64 {
    u32 reserved0;
    u64 rsp[3];
    u64 reserved1;
    u64 ist[7];
    u64 reserved2;
    u16 reserved3;
    u16 iomap_base;
};
static_assert(sizeof(Tss64) == 104);

struct alignas(64) X86Cpu {
    void* percpu = nullptr; // must stay first: `mov %gs:0` (arch.hpp)
    X86Cpu* self = nullptr; // second: `mov %gs:8` gives the area itself
    // Vectors taken by the IDT stubs and not yet handled (bit v of word v / 64): set with
    // interrupts off by the stub's handler on this CPU, read by handle_pending_irqs on this CPU.
    u64 pending[4] = {};
    u64 gdt[5] = {}; // null, code 0x08, data 0x10, TSS 0x18 (two words)
    Tss64 tss{};
    alignas(16) u8 ist_stack[3][IST_STACK_SIZE];
};

inline X86Cpu& this_x86_cpu() {
    X86Cpu* c;
    asm volatile("mov %%gs:8, %0" : "=r"(c));
    return *c;
}

} // namespace arch
