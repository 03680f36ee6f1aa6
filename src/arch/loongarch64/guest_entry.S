// loongarch64 guest entry and exit under LVZ (LoongArch virtualization extension; register and bit
// names as Linux's arch/loongarch/include/asm/loongarch.h numbers them, the host-mode CSRs in
// lvz_csr.hpp). ERTN with GSTAT.PVM = 1 enters the guest at ERA with GSTAT.GID naming it (LA Vol. 1
// v1.10, 6.2.2 "ERTN" for the host part; the LVZ volume for PVM/GID); every exception the guest
// does not take itself (HVCL, GSPR, second-stage faults, host interrupts) arrives at the host's
// EENTRY, which points at cxv_la_guest_exit while the guest runs, and a guest-physical TLB miss at
// the host's TLB refill entry (boot.S), which walks the VM's table while CSR SAVE1 holds it.
//
// Nothing between the write of SAVE1 and ERTN, or in the exit vector before SAVE1 is cleared, may
// take a TLB refill (it would walk the guest's table for cxvisor's own address): that code runs at
// its alias in direct mapped window 0 (asm_offsets.hpp LA_GUEST_DMW0), which is open only while a
// guest runs, and reaches the GuestContext through the same window. GTLBC (the TGID that tags the
// refill's TLB entries) and GSTAT.GID are the guest's only there too, so every TLB entry made for
// cxvisor's own addresses carries GID 0.
#include "asm_offsets.hpp"

#define CSR_PRMD 0x1
#define CSR_ERA 0x6
#define CSR_ESTAT 0x5
#define CSR_BADV 0x7
#define CSR_BADI 0x8
#define CSR_EENTRY 0xC
#define CSR_SAVE1 0x31
#define CSR_SAVE2 0x32
#define CSR_SAVE3 0x33
#define CSR_GSTAT 0x50
#define CSR_GTLBC 0x15       // the manual's number
#define CSR_GTLBC_FORK 0x54  // the LVZ QEMU fork's (lvz_csr.hpp CsrNumbering::QemuLvzFork)
#define CSR_DMW0 0x180
#define PRMD_PIE 4           // host interrupts end the guest's run (Ecode 0 at EENTRY)

// The host's callee-saved registers (LoongArch ELF psABI v2.20: ra, sp, tp, fp, s0-s8) to or from
// the GuestContext at a0.
.macro host_callee_saved op
    \op    $ra, $a0, GCTX_HOST_RA
    \op    $sp, $a0, GCTX_HOST_SP
    \op    $tp, $a0, GCTX_HOST_TP
    \op    $fp, $a0, GCTX_HOST_FP
    .irp n, 0, 1, 2, 3, 4, 5, 6, 7, 8
    \op    $s\n, $a0, GCTX_HOST_S(\n)
    .endr
.endm

    .text

// void cxv_la_guest_run(GuestContext* ctx): runs the guest until its next exit to the host, then
// returns with ctx holding its GPRs, PC and the exit's ESTAT/BADV/BADI. Called with CRMD.IE = 0.
    .balign 16
    .globl  cxv_la_guest_run
cxv_la_guest_run:
    host_callee_saved st.d
    csrrd   $t0, CSR_EENTRY
    st.d    $t0, $a0, GCTX_HOST_EENTRY
    li.d    $t1, LA_GUEST_DMW0
    csrwr   $t1, CSR_DMW0
    li.d    $t1, LA_GUEST_DMW_BASE
    or      $a0, $a0, $t1                         // ctx through the window from here on
    move    $t0, $a0
    csrwr   $t0, CSR_SAVE2                        // where the exit vector finds ctx
    la.abs  $t0, cxv_la_guest_exit
    or      $t0, $t0, $t1
    csrwr   $t0, CSR_EENTRY
    la.abs  $t0, 1f
    or      $t0, $t0, $t1
    jirl    $zero, $t0, 0                         // continue at the window's alias
1:  ld.d    $t0, $a0, GCTX_ERA
    csrwr   $t0, CSR_ERA
    li.d    $t0, PRMD_PIE                         // PPLV 0, PIE: ERTN leaves host interrupts enabled
    csrwr   $t0, CSR_PRMD
    ld.d    $t0, $a0, GCTX_GTLBC
    ld.d    $t1, $a0, GCTX_FORK_CSRS
    bnez    $t1, 2f
    csrwr   $t0, CSR_GTLBC
    b       3f
2:  csrwr   $t0, CSR_GTLBC_FORK
3:  ld.d    $t0, $a0, GCTX_GSTAT
    csrwr   $t0, CSR_GSTAT                        // PVM = 1, GID = the VM's
    ld.d    $t0, $a0, GCTX_GPA_ROOT
    csrwr   $t0, CSR_SAVE1                        // TLB refills are the guest's now
    .irp n, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31
    ld.d    $r\n, $a0, 8 * \n
    .endr
    ld.d    $r4, $a0, 32                          // a0 last
    ertn

// Every exception the guest's run ends with (EENTRY's low 12 bits are zero: page aligned). Runs at
// its window alias with CRMD.IE = 0, PLV0, the guest's registers live.
    .balign 4096
    .globl  cxv_la_guest_exit
cxv_la_guest_exit:
    csrwr   $t0, CSR_SAVE3                        // the guest's t0 (r12) aside
    csrrd   $t0, CSR_SAVE2                        // ctx (window alias)
    .irp n, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31
    st.d    $r\n, $t0, 8 * \n
    .endr
    csrrd   $t1, CSR_SAVE3
    st.d    $t1, $t0, 8 * 12
    csrwr   $zero, CSR_SAVE1                      // TLB refills are cxvisor's again
    csrwr   $zero, CSR_GSTAT                      // GID 0, PVM 0: ERTN no longer enters the guest
    ld.d    $t1, $t0, GCTX_FORK_CSRS
    bnez    $t1, 1f
    csrwr   $zero, CSR_GTLBC                      // TGID 0, UseTGID 0: cxvisor's entries are GID 0
    b       2f
1:  csrwr   $zero, CSR_GTLBC_FORK
2:  csrrd   $t1, CSR_ERA
    st.d    $t1, $t0, GCTX_ERA
    csrrd   $t1, CSR_ESTAT
    st.d    $t1, $t0, GCTX_ESTAT
    csrrd   $t1, CSR_BADV
    st.d    $t1, $t0, GCTX_BADV
    csrrd   $t1, CSR_BADI
    st.d    $t1, $t0, GCTX_BADI
    ld.d    $t1, $t0, GCTX_HOST_EENTRY
    csrwr   $t1, CSR_EENTRY
    li.d    $t1, LA_GUEST_DMW_BASE
    andn    $a0, $t0, $t1                         // ctx at its own address
    la.abs  $t0, 3f
    jirl    $zero, $t0, 0                         // leave the window
3:  csrwr   $zero, CSR_DMW0                       // close it
    host_callee_saved ld.d
    jirl    $zero, $ra, 0
