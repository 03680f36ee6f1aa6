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
#define PERCPU_EXIT_FAST 40   // const ExitFast* of the loaded vCPU (vcpu.hpp), or 0
#define CPU_STACK_SIZE (32 * 1024)
// The table of constant SMCCC answers the guest-exit vector serves (smccc_fast.hpp).
#define SMCCC_FAST_SLOTS 2
#define SMCCC_FAST_ENTRY_FID 0
#define SMCCC_FAST_ENTRY_X0 8
#define SMCCC_FAST_ENTRY_SIZE 16
// ESR_EL2 of a trapped `HVC #0` from AArch64: EC 0x16 [31:26], IL [25], ISS = imm16 = 0 (Arm ARM
// DDI0487 K.a, ESR_EL2 register description, "Exception from HVC or SVC instruction execution").
#define ESR_EL2_HVC64_IMM0 0x5A000000
// The exit vector's answers for the emulated distributor's identification registers (vcpu.hpp
// ExitFast), and the data-abort syndrome they are served for: ESR_EL2 & MASK == VALUE (Arm ARM
// DDI0487 K.a, ESR_EL2, "ISS encoding for an exception from a Data Abort"): ISS2 [63:32] = 0,
// EC [31:26] = 0x24 (from a lower EL), IL [25] = 1, ISV [24] = 1, SAS [23:22] = 0b10 (word),
// SSE [21] = 0, VNCR [13] = 0, FnV [10] = 0 (FAR valid), EA [9] = 0, CM [8] = 0, S1PTW [7] = 0,
// WnR [6] = 0 (read), DFSC [5:2] = 0b0001 (translation fault, level 0-3: HPFAR_EL2 valid).
// SRT [20:16], SF [15], AR [14] and [12:11] may be anything.
#define EXIT_FAST_GICD_ESR_MASK 0xFFFFFFFFFFE027FC
#define EXIT_FAST_GICD_ESR_VALUE 0x93800004
#define EXIT_FAST_GICD_HPFAR 0
#define EXIT_FAST_GICD_TYPER 8
#define EXIT_FAST_GICD_IIDR 12
#define EXIT_FAST_GICD_TYPER2 16
#define EXIT_FAST_GICD_PIDR2 20
// The emulated PL011's FR reads and DR writes (devices/uart_fast.hpp, vcpu.hpp ExitFast): the same
// syndrome with SAS [23:22] (byte, halfword or word: the doubleword the model rejects is tested
// apart) and WnR [6] (FR read or DR write) left out.
#define EXIT_FAST_UART_ESR_MASK 0xFFFFFFFFFF2027BC
#define EXIT_FAST_UART_ESR_VALUE 0x93000004
#define EXIT_FAST_UART_HPFAR 24
#define EXIT_FAST_UART_BLOCK 32
#define EXIT_FAST_SIZE 40
// UartFastBlock (devices/uart_fast.hpp).
#define UART_FAST_FR 0
#define UART_FAST_TX_OK 4
#define UART_FAST_HEAD 8
#define UART_FAST_TAIL 16
#define UART_FAST_SLOT 24
#define UART_FAST_SLOTS 64
#define UART_FAST_COMMITTED 0x100
#define UART_OFF_DR 0x000
#define UART_OFF_FR 0x018
