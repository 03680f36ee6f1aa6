// gicd_probe_<n>(u64 addr, u64 out[32]), linked into the gicd-fast guest: every general register
// x0..x30 set to a pattern (0x5000 + i), one 32-bit `ldr w<n>, [x<b>]` of `addr` (b: the base
// register, 1, or 2 when n is 1), then all 31 registers stored to out[0..30]. gicd_probe_zr does
// the same with `ldr wzr`. Each n is its own instruction (SRT is in the encoding), so the exit
// vector's write of the answer into the SRT register (boot.S, low64_sync) is checked for every
// register, and that it leaves every other one alone.
    .text
.macro set_all except
    .irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30
    .if \i != \except
    mov     x\i, #(0x5000 + \i)
    .endif
    .endr
.endm

.macro probe name, n, b
    .balign 4
    .global gicd_probe_\name
    .type   gicd_probe_\name, %function
gicd_probe_\name:
    stp     x29, x30, [sp, #-128]!
    stp     x19, x20, [sp, #16]
    stp     x21, x22, [sp, #32]
    stp     x23, x24, [sp, #48]
    stp     x25, x26, [sp, #64]
    stp     x27, x28, [sp, #80]
    str     x1, [sp, #96]                 // out
    mov     x\b, x0                       // addr
    set_all \b
    .if \n == 31
    ldr     wzr, [x\b]
    .else
    ldr     w\n, [x\b]
    .endif
    str     x0, [sp, #104]
    ldr     x0, [sp, #96]
    .irp i, 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30
    str     x\i, [x0, #(8 * \i)]
    .endr
    ldr     x1, [sp, #104]
    str     x1, [x0]
    ldp     x19, x20, [sp, #16]
    ldp     x21, x22, [sp, #32]
    ldp     x23, x24, [sp, #48]
    ldp     x25, x26, [sp, #64]
    ldp     x27, x28, [sp, #80]
    ldp     x29, x30, [sp], #128
    ret
    .size   gicd_probe_\name, . - gicd_probe_\name
.endm

    probe 0, 0, 1
    probe 1, 1, 2
    .irp n, 2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30
    probe \n, \n, 1
    .endr
    probe zr, 31, 1

// u32 gicd_read_isv0(u64 addr): the same 32-bit read as a post-indexed load (writeback by 0), which
// reports ISV = 0: cxvisor decodes it from the instruction on its full path, never in the vector.
    .balign 4
    .global gicd_read_isv0
    .type   gicd_read_isv0, %function
gicd_read_isv0:
    ldr     w1, [x0], #0
    mov     w0, w1
    ret
    .size   gicd_read_isv0, . - gicd_read_isv0
