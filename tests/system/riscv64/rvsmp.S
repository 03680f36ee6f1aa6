// rvsmp: two riscv64 vCPUs under cxvisor (system.rv-smp). Hart 0 checks SBI HSM (get_status,
// hart_start with its opaque argument, ALREADY_AVAILABLE, INVALID_PARAM), waits in WFI for the
// software interrupt hart 1 sends with SBI IPI, lets hart 1 stop itself (hart_stop) and sees it
// STOPPED, then sends an RFENCE to both harts and shuts the VM down. "FAIL <step>" otherwise.
#include "rventry.inc"
    RV_ENTRY stack0_top, trap
    li      s10, 1
    bnez    a0, fail                    // vCPU 0 is hart 0

    // 1. hart 1 is STOPPED; hart 7 does not exist
    li      a7, 0x48534D
    li      a6, 2                       // hart_get_status
    li      a0, 1
    ecall
    bnez    a0, fail
    li      t0, 1                       // STOPPED
    bne     a1, t0, fail
    li      s10, 2
    li      a7, 0x48534D
    li      a6, 2
    li      a0, 7
    ecall
    li      t0, -3                      // INVALID_PARAM
    bne     a0, t0, fail

    // 2. start hart 1 at `secondary` with opaque 0x1234; a second start is ALREADY_AVAILABLE
    li      s10, 3
    li      a7, 0x48534D
    li      a6, 0                       // hart_start
    li      a0, 1
    lla     a1, secondary
    li      a2, 0x1234
    ecall
    bnez    a0, fail
    li      a7, 0x48534D
    li      a6, 0
    li      a0, 1
    lla     a1, secondary
    li      a2, 0x1234
    ecall
    li      t0, -6
    bne     a0, t0, fail

    // 3. the IPI from hart 1, taken as a supervisor software interrupt (s8 counts them)
    li      s10, 4
    li      s8, 0
    csrsi   sie, 2                      // sie.SSIE
    li      a0, 1
    li      a1, 0
    call    wait_s8
    lla     a0, msg_ipi
    call    puts

    // 4. let hart 1 stop itself, wait until HSM says STOPPED
    li      s10, 5
    lla     t0, go
    li      t1, 1
    sw      t1, 0(t0)
2:  li      a7, 0x48534D
    li      a6, 2
    li      a0, 1
    ecall
    bnez    a0, fail
    li      t0, 1
    bne     a1, t0, 2b
    lla     a0, msg_stopped
    call    puts

    // 5. remote sfence.vma and fence.i to every hart (hart_mask_base = -1)
    li      s10, 6
    li      a7, 0x52464E43
    li      a6, 1                       // remote_sfence_vma(mask, base, start, size)
    li      a0, 0
    li      a1, -1
    li      a2, 0
    li      a3, -1
    ecall
    bnez    a0, fail
    li      a7, 0x52464E43
    li      a6, 0                       // remote_fence_i
    li      a0, 3
    li      a1, 0
    ecall
    bnez    a0, fail
    lla     a0, msg_pass
    call    puts
    j       shutdown

// Hart 1: a0 = its hart id, a1 = the opaque value of hart_start (SBI v2.0 9.1).
secondary:
    lla     sp, stack1_top
    lla     t0, trap
    csrw    stvec, t0
    li      s10, 7
    li      t0, 1
    bne     a0, t0, fail
    li      t0, 0x1234
    bne     a1, t0, fail
    lla     a0, msg_hart1
    call    puts
    li      a7, 0x735049                // send_ipi(mask = 1 << 0, base = 0)
    li      a6, 0
    li      a0, 1
    li      a1, 0
    ecall
    bnez    a0, fail
    lla     t0, go
3:  lw      t1, 0(t0)
    beqz    t1, 3b
    li      a7, 0x48534D
    li      a6, 1                       // hart_stop: does not return
    ecall
    li      s10, 8
    j       fail

// A supervisor software interrupt (1 << 63 | 1) is counted in s8 and acknowledged by clearing
// sip.SSIP (the guest's write reaches hvip.VSSIP); anything else fails.
    .balign 4
trap:
    csrr    t0, scause
    li      t1, -1
    srli    t1, t1, 1
    addi    t1, t1, 2
    bne     t0, t1, fail
    csrci   sip, 2
    addi    s8, s8, 1
    sret

#include "rvlib.inc"

    .section .rodata
msg_hart1:   .asciz "rvsmp: hart 1 started with its opaque argument\n"
msg_ipi:     .asciz "rvsmp: hart 0 took the IPI from hart 1\n"
msg_stopped: .asciz "rvsmp: hart 1 stopped\n"
msg_pass:    .asciz "rvsmp: TEST rv-smp PASS\n"
msg_fail:    .asciz "rvsmp: FAIL step "

    .bss
    .balign 16
go:
    .space 16
    .space 4096
stack0_top:
    .space 4096
stack1_top:
