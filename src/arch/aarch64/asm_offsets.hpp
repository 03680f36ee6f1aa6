// Offsets shared between assembly (boot.S) and C++ (checked by static_assert in vcpu.cpp/percpu).
#pragma once
#define GUEST_REGS_X0 0
#define GUEST_REGS_PC (31 * 8)
#define GUEST_REGS_PSTATE (32 * 8)
#define GUEST_REGS_SIZE (33 * 8)
// PerCpu layout head (kernel/percpu.hpp): the first fields are used by the exception vectors.
#define PERCPU_GUEST_REGS 0   // GuestRegs* of the vCPU being run on this CPU
#define PERCPU_HOST_SP 8      // host stack pointer saved at guest entry
#define PERCPU_ID 16
#define PERCPU_STACK_TOP 24
#define PERCPU_EXIT_PLAN 32   // Spectre plan word (vcpu.cpp init_spectre), read by guest_exit_common
#define CPU_STACK_SIZE (32 * 1024)
// The table of constant SMCCC answers the guest-exit vector serves (smccc_fast.hpp).
#define SMCCC_FAST_SLOTS 2
#define SMCCC_FAST_ENTRY_FID 0
#define SMCCC_FAST_ENTRY_X0 8
#define SMCCC_FAST_ENTRY_SIZE 16
// ESR_EL2 of a trapped `HVC #0` from AArch64: EC 0x16 [31:26], IL [25], ISS = imm16 = 0 (Arm ARM
// DDI0487 K.a, ESR_EL2 register description, "Exception from HVC or SVC instruction execution").
#define ESR_EL2_HVC64_IMM0 0x5A000000
