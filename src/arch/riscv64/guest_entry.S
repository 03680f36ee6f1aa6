// riscv64 guest entry and exit (RISC-V Privileged Spec 20211203, 8.5 "... Traps", 8.6.4 and
// 3.3.2 SRET with hstatus.SPV: SRET from HS-mode with SPV = 1 enters V = 1 at sstatus.SPP's
// privilege). While a guest runs, stvec points at cxv_guest_exit (as KVM does) and sscratch at
// the vCPU's GuestContext, so H1's HS vector only ever sees cxvisor's own traps. HS-level
// interrupts are always enabled while V = 1 (3.1.6.1 / 8.2.3), whatever sstatus.SIE says: a host
// interrupt ends the guest run like any exception.
#include "vcpu_offsets.hpp"

    .option arch, +h
    .text

// void cxv_guest_run(GuestContext* ctx): runs the guest until its next trap into HS-mode, then
// returns with ctx holding the guest's GPRs and the trap CSRs. Called with sstatus.SIE = 0.
    .balign 4
    .globl  cxv_guest_run
cxv_guest_run:
    // Host callee-saved state (the psABI's: ra, sp, gp, tp, s0-s11).
    sd      ra, GCTX_HOST_RA(a0)
    sd      sp, GCTX_HOST_SP(a0)
    sd      gp, GCTX_HOST_GP(a0)
    sd      tp, GCTX_HOST_TP(a0)
    .irp n, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11
    sd      s\n, GCTX_HOST_S(\n)(a0)
    .endr
    // sscratch = ctx for the exit vector; the host's value (its PerCpu) comes back at exit.
    csrrw   t0, sscratch, a0
    sd      t0, GCTX_HOST_SSCRATCH(a0)
    lla     t1, cxv_guest_exit
    csrrw   t1, stvec, t1
    sd      t1, GCTX_HOST_STVEC(a0)
    // hstatus (SPV = 1, SPVP, VTW, VSXL), sstatus (SPP, FS; SIE stays 0 until SRET) and sepc.
    ld      t0, GCTX_HSTATUS(a0)
    csrrw   t0, hstatus, t0
    sd      t0, GCTX_HOST_HSTATUS(a0)
    ld      t0, GCTX_SSTATUS(a0)
    csrrw   t0, sstatus, t0
    sd      t0, GCTX_HOST_SSTATUS(a0)
    ld      t0, GCTX_SEPC(a0)
    csrw    sepc, t0
    // Guest GPRs, a0 last.
    .irp n, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31
    ld      x\n, GCTX_X(\n)(a0)
    .endr
    ld      x10, GCTX_X(10)(a0)
    sret

// Every trap while the guest runs. The trap CSRs are read before anything here can trap again.
    .balign 4
cxv_guest_exit:
    csrrw   a0, sscratch, a0              // a0 = ctx, sscratch = the guest's a0
    .irp n, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31
    sd      x\n, GCTX_X(\n)(a0)
    .endr
    csrr    t0, sscratch
    sd      t0, GCTX_X(10)(a0)
    csrr    t0, scause
    sd      t0, GCTX_SCAUSE(a0)
    csrr    t0, stval
    sd      t0, GCTX_STVAL(a0)
    csrr    t0, htval
    sd      t0, GCTX_HTVAL(a0)
    csrr    t0, htinst
    sd      t0, GCTX_HTINST(a0)
    csrr    t0, sepc
    sd      t0, GCTX_SEPC(a0)
    // The guest's hstatus (SPV, SPVP, GVA of this trap) and sstatus (SPP) for the next entry;
    // the host's come back.
    ld      t1, GCTX_HOST_HSTATUS(a0)
    csrrw   t0, hstatus, t1
    sd      t0, GCTX_HSTATUS(a0)
    ld      t1, GCTX_HOST_SSTATUS(a0)
    csrrw   t0, sstatus, t1
    sd      t0, GCTX_SSTATUS(a0)
    ld      t0, GCTX_HOST_STVEC(a0)
    csrw    stvec, t0
    ld      t0, GCTX_HOST_SSCRATCH(a0)
    csrw    sscratch, t0
    ld      ra, GCTX_HOST_RA(a0)
    ld      sp, GCTX_HOST_SP(a0)
    ld      gp, GCTX_HOST_GP(a0)
    ld      tp, GCTX_HOST_TP(a0)
    .irp n, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11
    ld      s\n, GCTX_HOST_S(\n)(a0)
    .endr
    ret

// u64 cxv_guest_fetch16(u64 gva, u64* cause): the 16-bit parcel at guest-virtual gva, read with
// HLVX.HU (8.3.1 "Hypervisor Virtual-Machine Load and Store Instructions": both translation stages
// with the privilege in hstatus.SPVP, execute permission instead of read). A fault does not reach
// H1's vector (it would panic): stvec points at the local handler meanwhile, which records scause
// in *cause (0: no fault) and resumes after the load. The caller has the guest's hstatus in place
// (SPVP) and its trap CSRs saved already: this trap overwrites them.
    .balign 4
    .globl  cxv_guest_fetch16
cxv_guest_fetch16:
    mv      t1, a0
    sd      zero, 0(a1)
    li      a0, 0
    lla     t0, 1f
    csrrw   t0, stvec, t0
    hlvx.hu a0, (t1)
    j       2f
    .balign 4
1:  csrr    t2, scause                    // trapped: a0 stays 0
    sd      t2, 0(a1)
2:  csrw    stvec, t0
    ret

// FP state of a vCPU (f0-f31 and fcsr, 33 doublewords), saved and restored around a context
// switch: cxvisor itself is built without FP, so the registers are the guest's alone between
// load() and put(). HS-mode needs sstatus.FS != Off for the instructions (3.1.6.6).
    .option arch, +d
    .globl  cxv_fp_save
cxv_fp_save:
    li      t0, 0x6000
    csrs    sstatus, t0
    .irp n, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31
    fsd     f\n, (\n * 8)(a0)
    .endr
    frcsr   t1
    sd      t1, 256(a0)
    csrc    sstatus, t0
    ret

    .globl  cxv_fp_restore
cxv_fp_restore:
    li      t0, 0x6000
    csrs    sstatus, t0
    .irp n, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31
    fld     f\n, (\n * 8)(a0)
    .endr
    ld      t1, 256(a0)
    fscsr   t1
    csrc    sstatus, t0
    ret
