// rvsbi: the SBI calls whose arguments name guest memory or harts, checked against what the VM
// really has (system.rv-sbi). Loaded and entered at 0x8000_0000 with a0 = hart id; the VM has two
// vCPUs (only hart 0 runs) and a second RAM region at 0x8100_0000 without execute permission.
//   1 DBCN write (SBI v2.0 12.1) from the no-exec region: every byte printed (it used to be read
//     with HLVX, which needs execute permission: INVALID_PARAM for valid memory)
//   2 DBCN write across a page end: a partial write that ends at the page end (4 of 8 bytes)
//   3 DBCN write from a device window and from nothing: INVALID_PARAM (-3), and the guest runs on
//   4 IPI hart masks (SBI v2.0 3.2): a hart the VM does not have is INVALID_PARAM, by mask bit and by
//     hart_mask_base (it used to be checked against 16, not the VM's 2 vCPUs); base -1 is everyone
//   5 RFENCE remote_fence_i with the same masks
#include "rventry.inc"
    RV_ENTRY stack_top, trap

    // 1. copy msg_noexec into the no-exec region, print it from there with DBCN write
    li      s10, 1
    lla     t0, msg_noexec
    li      t1, 0x81000000
    li      s1, 0                       // length
1:  lbu     t2, 0(t0)
    beqz    t2, 2f
    sb      t2, 0(t1)
    addi    t0, t0, 1
    addi    t1, t1, 1
    addi    s1, s1, 1
    j       1b
2:  li      a0, 0x81000000
    mv      a1, s1
    call    dbcn_write_all

    // 2. "wxy\nZZZZ" placed 4 bytes before a page end: the call prints "wxy\n", up to the page end
    li      s10, 2
    li      t1, 0x81000ffc
    li      t2, 'w'
    sb      t2, 0(t1)
    li      t2, 'x'
    sb      t2, 1(t1)
    li      t2, 'y'
    sb      t2, 2(t1)
    li      t2, '\n'
    sb      t2, 3(t1)
    li      t2, 'Z'                     // next page: must not be printed by this call
    sb      t2, 4(t1)
    sb      t2, 5(t1)
    sb      t2, 6(t1)
    sb      t2, 7(t1)
    li      a7, 0x4442434E
    li      a6, 0
    li      a0, 8
    mv      a1, t1
    li      a2, 0
    ecall
    bnez    a0, fail
    li      t0, 4
    bne     a1, t0, fail

    // 3. not guest memory cxvisor may read: the virtio-mmio window, and an address with nothing
    li      s10, 3
    li      a7, 0x4442434E
    li      a6, 0
    li      a0, 4
    li      a1, 0x0a000000
    li      a2, 0
    ecall
    li      t0, -3
    bne     a0, t0, fail
    li      a7, 0x4442434E
    li      a6, 0
    li      a0, 4
    li      a1, 0x1000
    li      a2, 0
    ecall
    li      t0, -3
    bne     a0, t0, fail
    lla     a0, msg_dbcn
    call    puts

    // 4. IPI: harts 0 and 1 exist, 2 does not
    li      s10, 4
    li      a7, 0x735049
    li      a6, 0
    li      a0, 0b100                   // hart 2
    li      a1, 0
    ecall
    li      t0, -3
    bne     a0, t0, fail
    li      a7, 0x735049
    li      a6, 0
    li      a0, 1                       // base 2: hart 2
    li      a1, 2
    ecall
    li      t0, -3
    bne     a0, t0, fail
    li      a7, 0x735049
    li      a6, 0
    li      a0, 1                       // hart 1 (stopped: the IPI stays pending for it)
    li      a1, 1
    ecall
    bnez    a0, fail
    li      a7, 0x735049
    li      a6, 0
    li      a0, 0
    li      a1, -1                      // every hart of the VM, this one too
    ecall
    bnez    a0, fail
    csrci   sip, 2                      // the software interrupt to self: not taken (sie.SSIE = 0)

    // 5. RFENCE remote_fence_i: the same rule
    li      s10, 5
    li      a7, 0x52464E43
    li      a6, 0
    li      a0, 0b100
    li      a1, 0
    ecall
    li      t0, -3
    bne     a0, t0, fail
    li      a7, 0x52464E43
    li      a6, 0
    li      a0, 0b11
    li      a1, 0
    ecall
    bnez    a0, fail
    lla     a0, msg_masks
    call    puts

    lla     a0, msg_pass
    call    puts
    j       shutdown

// Any trap fails the test: nothing here may fault.
    .balign 4
trap:
    j       fail

#include "rvlib.inc"

    .section .rodata
msg_noexec:     .asciz "rvsbi: dbcn write from a no-exec region\n"
msg_dbcn:       .asciz "rvsbi: dbcn write of a device window or nothing is INVALID_PARAM\n"
msg_masks:      .asciz "rvsbi: ipi and rfence masks naming a hart the vm lacks are INVALID_PARAM\n"
msg_pass:       .asciz "rvsbi: TEST rv-sbi PASS\n"
msg_fail:       .asciz "rvsbi: FAIL step "

    .bss
    .balign 16
    .space 4096
stack_top:
