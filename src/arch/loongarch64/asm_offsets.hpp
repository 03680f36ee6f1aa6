// Offsets shared between assembly (boot.S) and C++ (checked by static_assert in host.cpp/trap.cpp).
#pragma once
// PerCpu layout head (kernel/percpu.hpp).
#define PERCPU_GUEST_REGS 0
#define PERCPU_HOST_SP 8
#define PERCPU_ID 16
#define PERCPU_STACK_TOP 24
#define PERCPU_HW_ID 48 // CSR.CPUID: a parked core finds the PerCpu the boot CPU gave it
#define PERCPU_SIZE 104 // sizeof(PerCpu)
#define PERCPU_COUNT 16 // the g_percpu slots (MAX_CPUS)
#define CPU_STACK_SIZE (32 * 1024)
// The exception frame (boot.S cxv_la_exception, trap.cpp TrapFrame): r0..r31 at 8 * n (r3 = sp
// before the exception), then ERA, PRMD.
#define TRAP_FRAME_SIZE (34 * 8)
// The IPI mailboxes (IOCSR, QEMU virt / Loongson 3A5000 "IPI" block, LoongArch Reference Manual
// Vol. 1 v1.10 does not define them: Loongson 3A5000 user manual v1.03, 10.4 "Inter-processor
// interrupts and communication"): per-core status/enable/set/clear and four 64-bit mail buffers.
#define IOCSR_IPI_STATUS 0x1000
#define IOCSR_IPI_EN 0x1004
#define IOCSR_IPI_SET 0x1008
#define IOCSR_IPI_CLEAR 0x100C
#define IOCSR_MBUF0 0x1020 // where a parked core jumps (0: keep waiting): boot.S cxv_la_core_start
#define IOCSR_MBUF1 0x1028 // the argument of the started core's entry (the PerCpu*)
#define IOCSR_MBUF2 0x1030 // that entry
#define IOCSR_IPI_SEND 0x1040
#define IOCSR_MBUF_SEND 0x1048
