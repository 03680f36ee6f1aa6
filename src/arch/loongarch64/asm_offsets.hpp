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
// The vCPU's GuestContext (vcpu.hpp; guest_entry.S): r0..r31 at 8 * n (r0 unused), then the guest's
// PC, the exit's ESTAT/BADV/BADI, the host's callee-saved registers (ra, sp, tp, fp = r22,
// s0..s8 = r23..r31), and what the entry writes to the host-mode CSRs.
#define GCTX_ERA 256
#define GCTX_ESTAT 264
#define GCTX_BADV 272
#define GCTX_BADI 280
#define GCTX_HOST_RA 288
#define GCTX_HOST_SP 296
#define GCTX_HOST_TP 304
#define GCTX_HOST_FP 312
#define GCTX_HOST_S(n) (320 + 8 * (n)) // s0..s8
#define GCTX_GSTAT 392
#define GCTX_GTLBC 400
#define GCTX_GPA_ROOT 408
#define GCTX_HOST_EENTRY 416
#define GCTX_FORK_CSRS 424 // nonzero: GTLBC at the LVZ QEMU fork's number (lvz_csr.hpp CsrNumbering)
#define GCTX_SIZE 432
// While a guest runs (guest_entry.S): direct mapped window 0 maps VA 0x8000_xxxx_xxxx_xxxx to the
// same physical address at PLV0, cached (DMW: VSEG [63:60] = 8, MAT [5:4] = 1, PLV0 [0]; LA Vol. 1
// v1.10, 7.5.10). The entry tail and the exit vector run and reach the GuestContext through it, so
// they never take a TLB refill, whose handler walks the guest's table then (SAVE1 != 0).
#define LA_GUEST_DMW_BASE 0x8000000000000000
#define LA_GUEST_DMW0 0x8000000000000011
// A vCPU's saved FP/vector registers (fp_context.hpp FpContext; fp_context.S): register n at 32 * n,
// then FCC0-7 and FCSR0; and how wide the registers it saves and restores are (FpWidth).
#define FPCTX_FCC 1024
#define FPCTX_FCSR 1032
#define FPCTX_SIZE 1040
#define FP_WIDTH_NONE 0
#define FP_WIDTH_FP64 1
#define FP_WIDTH_LSX 2
#define FP_WIDTH_LASX 3
