// Offsets shared between assembly (boot.S) and C++ (checked by static_assert in host.cpp).
#pragma once
// PerCpu layout head (kernel/percpu.hpp).
#define PERCPU_GUEST_REGS 0
#define PERCPU_HOST_SP 8
#define PERCPU_ID 16
#define PERCPU_STACK_TOP 24
#define PERCPU_HW_ID 48 // the hart id: boot.S stores the boot hart's before kernel_main
#define PERCPU_SIZE 104 // sizeof(PerCpu): boot.S finds a started hart's PerCpu by its hart id
#define PERCPU_COUNT 16 // the g_percpu slots (MAX_CPUS)
#define CPU_STACK_SIZE (32 * 1024)
// The HS trap frame (boot.S cxv_hs_trap_vector, trap.cpp HsTrapFrame): x1..x31 at 8 * n.
#define HS_TRAP_FRAME_SIZE (32 * 8)
