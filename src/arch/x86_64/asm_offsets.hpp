// Offsets shared between assembly (boot.S) and C++ (checked by static_assert in host.cpp and
// percpu_x86.cpp).
#pragma once
// PerCpu layout head (kernel/percpu.hpp).
#define PERCPU_GUEST_REGS 0
#define PERCPU_HOST_SP 8
#define PERCPU_ID 16
#define PERCPU_STACK_TOP 24
#define PERCPU_HW_ID 48 // the APIC id: secondary_entry finds its PerCpu by it
#define PERCPU_SIZE 104 // sizeof(PerCpu)
#define PERCPU_COUNT 16 // the g_percpu slots (MAX_CPUS)
#define CPU_STACK_SIZE (32 * 1024)
// Where the real-mode AP trampoline is copied (smp.cpp): below 1 MiB and page aligned, as the
// SIPI vector names a 4 KiB page there (APM vol. 2 rev. 3.42, 16.5 "Interprocessor Interrupts").
#define TRAMPOLINE_BASE 0x8000
// The interrupt/exception frame the IDT stubs build (boot.S isr_common, trap.cpp TrapFrame):
// 15 GPRs, vector, error code, then what the CPU pushed.
#define TRAP_FRAME_GPRS 15
