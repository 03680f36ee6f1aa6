// Register probes for the exit vector's fast paths (boot.S low64_sync), linked into the gicd-fast
// and uart-fast guests; declared in reg-probe.hpp. Each sets every general register x0..x30 to a
// pattern (0x5000 + i), makes one access with register n as the transfer register and x<b> as the
// base (b: 1, or 2 when n is 1), then stores all 31 registers to out[0..30]. Each n is its own
// instruction (SRT is in the encoding), so the vector's use of the SRT register is checked for
// every register, and that it leaves every other one alone.
//   ldr_probe_<n>(u64 addr, u64 out[31])              `ldr w<n>, [x<b>]` (ldr_probe_zr: wzr)
//   str_probe_<n>(u64 addr, u64 value, u64 out[31])   x<n> = value, `strb w<n>, [x<b>]`
//                                                     (str_probe_h5 / _w5: strh / str w5)
// And the same accesses as post-indexed forms (writeback by 0), which report ISV = 0: cxvisor
// decodes them from the instruction on its full path, never in the vector:
//   u32 read32_isv0(u64 addr), void write8_isv0(u64 addr, u8 value).
    .text
.macro set_all except, except2
    .irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30
    .if (\i != \except) && (\i != \except2)
    mov     x\i, #(0x5000 + \i)
    .endif
    .endr
.endm

// kind 0: a load (out in x1); kind 1: a store of `value` (x1, out in x2).
.macro probe prefix, name, n, b, kind, access
    .balign 4
    .global \prefix\name
    .type   \prefix\name, %function
\prefix\name:
    stp     x29, x30, [sp, #-128]!
    stp     x19, x20, [sp, #16]
    stp     x21, x22, [sp, #32]
    stp     x23, x24, [sp, #48]
    stp     x25, x26, [sp, #64]
    stp     x27, x28, [sp, #80]
    .if \kind == 0
    str     x1, [sp, #96]                 // out
    mov     x\b, x0                       // addr
    set_all \b, \b
    .else
    str     x2, [sp, #96]                 // out
    mov     x17, x0                       // addr
    mov     x16, x1                       // value
    mov     x\b, x17
    mov     x\n, x16
    set_all \b, \n
    .endif
    \access
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
    .size   \prefix\name, . - \prefix\name
.endm

    probe ldr_probe_, 0, 0, 1, 0, "ldr w0, [x1]"
    probe ldr_probe_, 1, 1, 2, 0, "ldr w1, [x2]"
    .irp n, 2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30
    probe ldr_probe_, \n, \n, 1, 0, "ldr w\n, [x1]"
    .endr
    probe ldr_probe_, zr, 31, 1, 0, "ldr wzr, [x1]"
    probe str_probe_, 0, 0, 1, 1, "strb w0, [x1]"
    probe str_probe_, 1, 1, 2, 1, "strb w1, [x2]"
    .irp n, 2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30
    probe str_probe_, \n, \n, 1, 1, "strb w\n, [x1]"
    .endr
    probe str_probe_, h5, 5, 1, 1, "strh w5, [x1]"
    probe str_probe_, w5, 5, 1, 1, "str w5, [x1]"

    .balign 4
    .global read32_isv0
    .type   read32_isv0, %function
read32_isv0:
    ldr     w1, [x0], #0
    mov     w0, w1
    ret
    .size   read32_isv0, . - read32_isv0

    .balign 4
    .global write8_isv0
    .type   write8_isv0, %function
write8_isv0:
    strb    w1, [x0], #0
    ret
    .size   write8_isv0, . - write8_isv0
