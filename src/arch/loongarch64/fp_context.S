// A vCPU's FP/vector registers to and from its FpContext (fp_context.hpp), the only code in
// cxvisor that touches them. LoongArch Reference Manual Vol. 1 v1.10, chapter 3: f0-f31, FCC0-FCC7
// (MOVCF2GR/MOVGR2CF move one flag to or from a GPR's bit 0), FCSR0 (MOVFCSR2GR/MOVGR2FCSR); the
// LSX/LASX volumes for VLD/VST (vr0-vr31, 128 bits) and XVLD/XVST (xr0-xr31, 256 bits), whose low
// 64 bits are f0-f31. The clang assembler takes these instructions although the C++ is soft-float.
#include "asm_offsets.hpp" // FPCTX_*, FP_WIDTH_*

// The 32 registers at a0 + 32 * n with op64 (f<n>), op128 (vr<n>) or op256 (xr<n>) as a1 (an
// FpWidth) says; falls through to 4: once done. Clobbers t0.
.macro fp_regs op64, op128, op256
    li.w    $t0, FP_WIDTH_LASX
    beq     $a1, $t0, 3f
    li.w    $t0, FP_WIDTH_LSX
    beq     $a1, $t0, 2f
    .irp n, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31
    \op64   $f\n, $a0, 32 * \n
    .endr
    b       4f
2:  .irp n, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31
    \op128  $vr\n, $a0, 32 * \n
    .endr
    b       4f
3:  .irp n, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31
    \op256  $xr\n, $a0, 32 * \n
    .endr
.endm

    .text

// void cxv_la_fp_save(FpContext* a0, unsigned width a1)
    .balign 16
    .globl  cxv_la_fp_save
cxv_la_fp_save:
    beqz    $a1, 9f
    fp_regs fst.d, vst, xvst
4:  move    $t1, $zero                  // FCC<n> into byte n
    .irp n, 7, 6, 5, 4, 3, 2, 1, 0
    slli.d  $t1, $t1, 8
    movcf2gr $t0, $fcc\n
    or      $t1, $t1, $t0
    .endr
    st.d    $t1, $a0, FPCTX_FCC
    movfcsr2gr $t0, $fcsr0
    st.d    $t0, $a0, FPCTX_FCSR
9:  jirl    $zero, $ra, 0

// void cxv_la_fp_restore(const FpContext* a0, unsigned width a1)
    .balign 16
    .globl  cxv_la_fp_restore
cxv_la_fp_restore:
    beqz    $a1, 9f
    fp_regs fld.d, vld, xvld
4:  ld.d    $t1, $a0, FPCTX_FCC         // byte n into FCC<n>
    .irp n, 0, 1, 2, 3, 4, 5, 6, 7
    movgr2cf $fcc\n, $t1
    srli.d  $t1, $t1, 8
    .endr
    ld.d    $t0, $a0, FPCTX_FCSR
    movgr2fcsr $fcsr0, $t0
9:  jirl    $zero, $ra, 0
