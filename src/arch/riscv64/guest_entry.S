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
    sd      s0, GCTX_HOST_S(0)(a0)
    sd      s1, GCTX_HOST_S(1)(a0)
    sd      s2, GCTX_HOST_S(2)(a0)
    sd      s3, GCTX_HOST_S(3)(a0)
    sd      s4, GCTX_HOST_S(4)(a0)
    sd      s5, GCTX_HOST_S(5)(a0)
    sd      s6, GCTX_HOST_S(6)(a0)
    sd      s7, GCTX_HOST_S(7)(a0)
    sd      s8, GCTX_HOST_S(8)(a0)
    sd      s9, GCTX_HOST_S(9)(a0)
    sd      s10, GCTX_HOST_S(10)(a0)
    sd      s11, GCTX_HOST_S(11)(a0)
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
    ld      x1, GCTX_X(1)(a0)
    ld      x2, GCTX_X(2)(a0)
    ld      x3, GCTX_X(3)(a0)
    ld      x4, GCTX_X(4)(a0)
    ld      x5, GCTX_X(5)(a0)
    ld      x6, GCTX_X(6)(a0)
    ld      x7, GCTX_X(7)(a0)
    ld      x8, GCTX_X(8)(a0)
    ld      x9, GCTX_X(9)(a0)
    ld      x11, GCTX_X(11)(a0)
    ld      x12, GCTX_X(12)(a0)
    ld      x13, GCTX_X(13)(a0)
    ld      x14, GCTX_X(14)(a0)
    ld      x15, GCTX_X(15)(a0)
    ld      x16, GCTX_X(16)(a0)
    ld      x17, GCTX_X(17)(a0)
    ld      x18, GCTX_X(18)(a0)
    ld      x19, GCTX_X(19)(a0)
    ld      x20, GCTX_X(20)(a0)
    ld      x21, GCTX_X(21)(a0)
    ld      x22, GCTX_X(22)(a0)
    ld      x23, GCTX_X(23)(a0)
    ld      x24, GCTX_X(24)(a0)
    ld      x25, GCTX_X(25)(a0)
    ld      x26, GCTX_X(26)(a0)
    ld      x27, GCTX_X(27)(a0)
    ld      x28, GCTX_X(28)(a0)
    ld      x29, GCTX_X(29)(a0)
    ld      x30, GCTX_X(30)(a0)
    ld      x31, GCTX_X(31)(a0)
    ld      x10, GCTX_X(10)(a0)
    sret

// Every trap while the guest runs. The trap CSRs are read before anything here can trap again.
    .balign 4
cxv_guest_exit:
    csrrw   a0, sscratch, a0              // a0 = ctx, sscratch = the guest's a0
    sd      x1, GCTX_X(1)(a0)
    sd      x2, GCTX_X(2)(a0)
    sd      x3, GCTX_X(3)(a0)
    sd      x4, GCTX_X(4)(a0)
    sd      x5, GCTX_X(5)(a0)
    sd      x6, GCTX_X(6)(a0)
    sd      x7, GCTX_X(7)(a0)
    sd      x8, GCTX_X(8)(a0)
    sd      x9, GCTX_X(9)(a0)
    sd      x11, GCTX_X(11)(a0)
    sd      x12, GCTX_X(12)(a0)
    sd      x13, GCTX_X(13)(a0)
    sd      x14, GCTX_X(14)(a0)
    sd      x15, GCTX_X(15)(a0)
    sd      x16, GCTX_X(16)(a0)
    sd      x17, GCTX_X(17)(a0)
    sd      x18, GCTX_X(18)(a0)
    sd      x19, GCTX_X(19)(a0)
    sd      x20, GCTX_X(20)(a0)
    sd      x21, GCTX_X(21)(a0)
    sd      x22, GCTX_X(22)(a0)
    sd      x23, GCTX_X(23)(a0)
    sd      x24, GCTX_X(24)(a0)
    sd      x25, GCTX_X(25)(a0)
    sd      x26, GCTX_X(26)(a0)
    sd      x27, GCTX_X(27)(a0)
    sd      x28, GCTX_X(28)(a0)
    sd      x29, GCTX_X(29)(a0)
    sd      x30, GCTX_X(30)(a0)
    sd      x31, GCTX_X(31)(a0)
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
    ld      s0, GCTX_HOST_S(0)(a0)
    ld      s1, GCTX_HOST_S(1)(a0)
    ld      s2, GCTX_HOST_S(2)(a0)
    ld      s3, GCTX_HOST_S(3)(a0)
    ld      s4, GCTX_HOST_S(4)(a0)
    ld      s5, GCTX_HOST_S(5)(a0)
    ld      s6, GCTX_HOST_S(6)(a0)
    ld      s7, GCTX_HOST_S(7)(a0)
    ld      s8, GCTX_HOST_S(8)(a0)
    ld      s9, GCTX_HOST_S(9)(a0)
    ld      s10, GCTX_HOST_S(10)(a0)
    ld      s11, GCTX_HOST_S(11)(a0)
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
    fsd     f0, 0(a0)
    fsd     f1, 8(a0)
    fsd     f2, 16(a0)
    fsd     f3, 24(a0)
    fsd     f4, 32(a0)
    fsd     f5, 40(a0)
    fsd     f6, 48(a0)
    fsd     f7, 56(a0)
    fsd     f8, 64(a0)
    fsd     f9, 72(a0)
    fsd     f10, 80(a0)
    fsd     f11, 88(a0)
    fsd     f12, 96(a0)
    fsd     f13, 104(a0)
    fsd     f14, 112(a0)
    fsd     f15, 120(a0)
    fsd     f16, 128(a0)
    fsd     f17, 136(a0)
    fsd     f18, 144(a0)
    fsd     f19, 152(a0)
    fsd     f20, 160(a0)
    fsd     f21, 168(a0)
    fsd     f22, 176(a0)
    fsd     f23, 184(a0)
    fsd     f24, 192(a0)
    fsd     f25, 200(a0)
    fsd     f26, 208(a0)
    fsd     f27, 216(a0)
    fsd     f28, 224(a0)
    fsd     f29, 232(a0)
    fsd     f30, 240(a0)
    fsd     f31, 248(a0)
    frcsr   t1
    sd      t1, 256(a0)
    csrc    sstatus, t0
    ret

    .globl  cxv_fp_restore
cxv_fp_restore:
    li      t0, 0x6000
    csrs    sstatus, t0
    fld     f0, 0(a0)
    fld     f1, 8(a0)
    fld     f2, 16(a0)
    fld     f3, 24(a0)
    fld     f4, 32(a0)
    fld     f5, 40(a0)
    fld     f6, 48(a0)
    fld     f7, 56(a0)
    fld     f8, 64(a0)
    fld     f9, 72(a0)
    fld     f10, 80(a0)
    fld     f11, 88(a0)
    fld     f12, 96(a0)
    fld     f13, 104(a0)
    fld     f14, 112(a0)
    fld     f15, 120(a0)
    fld     f16, 128(a0)
    fld     f17, 136(a0)
    fld     f18, 144(a0)
    fld     f19, 152(a0)
    fld     f20, 160(a0)
    fld     f21, 168(a0)
    fld     f22, 176(a0)
    fld     f23, 184(a0)
    fld     f24, 192(a0)
    fld     f25, 200(a0)
    fld     f26, 208(a0)
    fld     f27, 216(a0)
    fld     f28, 224(a0)
    fld     f29, 232(a0)
    fld     f30, 240(a0)
    fld     f31, 248(a0)
    ld      t1, 256(a0)
    fscsr   t1
    csrc    sstatus, t0
    ret
