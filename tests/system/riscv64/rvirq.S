// rvirq: external interrupts through the vPLIC, end to end on riscv64 (system.rv-vplic). A bare
// VS-mode guest entered at 0x8000_0000; the VM has interrupt_mode "emulated", so cxvisor gives it
// a vPLIC at 0x0c00_0000 (PLIC spec 1.0.0 "Memory Map"; hart 0's S-mode context is context 1).
// Sources 5 and 6 belong to no device: the guest drives them with cxvisor's HC_IRQ_LINE
// (EID 0x0A435856, FID 5, a0 = source, a1 = 0 low / 1 high / 2 pulse), and takes each interrupt as
// a supervisor external interrupt (scause 1<<63 | 9, from hvip.VSEIP), claiming and completing it.
//   1 an edge (pulse) on source 5: taken exactly once, claim returns 5
//   2 a level on source 6: taken, completed while still high -> taken again (the gateway
//     re-pends, "Interrupt Gateways"); the handler lowers it on the second claim, then none
//   3 the threshold: source 6 (priority 2) pulsed with threshold 2 is pending but not delivered;
//     threshold 1 delivers it
// A failed check prints "rvirq: FAIL <step>" and shuts down.
#include "rventry.inc"
    .equ PLIC, 0x0c000000
    .equ ENABLE_CTX1, 0x2080            // 0x2000 + 0x80 * context 1
    .equ THRESHOLD_CTX1, 0x201000       // 0x200000 + 0x1000 * context 1; claim/complete at +4
    RV_ENTRY stack_top, trap
    li      s0, PLIC
    li      s8, 0                       // interrupts taken
    li      s6, 0                       // the last claimed source
    li      s9, 0                       // claims of source 6
    li      t0, 1
    sw      t0, 20(s0)                  // priority(5) = 1
    li      t0, 2
    sw      t0, 24(s0)                  // priority(6) = 2
    li      t1, ENABLE_CTX1
    add     t1, s0, t1
    li      t0, (1 << 5) | (1 << 6)
    sw      t0, 0(t1)
    li      s1, THRESHOLD_CTX1
    add     s1, s0, s1
    li      s2, 0x1000                  // pending bits 0..31
    add     s2, s0, s2
    sw      zero, 0(s1)
    li      t0, 1 << 9                  // sie.SEIE
    csrs    sie, t0
    csrsi   sstatus, 2                  // sstatus.SIE

    // 1. edge
    li      s10, 1
    li      a0, 5
    li      a1, 2
    call    irq_line
    li      a0, 1
    call    wait_for                    // s8 >= 1
    li      t0, 5
    bne     s6, t0, fail
    call    settle
    li      t0, 1
    bne     s8, t0, fail                // exactly once
    lla     a0, msg_edge
    call    puts

    // 2. level: re-pended at completion while high
    li      s10, 2
    li      a0, 6
    li      a1, 1
    call    irq_line
    li      a0, 3
    call    wait_for                    // s8 >= 3
    call    settle
    li      t0, 2
    bne     s9, t0, fail                // twice, then lowered
    li      t0, 3
    bne     s8, t0, fail
    lw      t0, 0(s2)                   // pending bits 0..31: nothing left
    bnez    t0, fail
    lla     a0, msg_level
    call    puts

    // 3. threshold
    li      s10, 3
    li      t0, 2
    sw      t0, 0(s1)                   // threshold 2: priority 2 is not above it
    li      a0, 6
    li      a1, 2
    call    irq_line
    call    settle
    li      t0, 3
    bne     s8, t0, fail                // not delivered
    lw      t0, 0(s2)
    li      t1, 1 << 6
    bne     t0, t1, fail                // but pending
    li      t0, 1
    sw      t0, 0(s1)                   // threshold 1
    li      a0, 4
    call    wait_for
    li      t0, 6
    bne     s6, t0, fail
    lla     a0, msg_threshold
    call    puts

    lla     a0, msg_pass
    call    puts
    j       shutdown

// irq_line(a0 = source, a1 = mode): HC_IRQ_LINE; a non-zero answer fails the step.
irq_line:
    li      a7, 0x0A435856
    li      a6, 5
    ecall
    bnez    a0, fail
    ret

// wait_for(a0 = n): wait_s8 without a deadline.
wait_for:
    li      a1, 0
    j       wait_s8

// settle: a few thousand instructions with interrupts enabled, for anything still to arrive.
settle:
    li      t0, 20000
1:  addi    t0, t0, -1
    bnez    t0, 1b
    ret

// Supervisor external interrupt: claim, count, (source 6 on its second claim: lower the line),
// complete. Anything else fails. a0/a1/a6/a7/t0/t1 are the interrupted code's: saved.
trap:
    addi    sp, sp, -48
    sd      a0, 0(sp)
    sd      a1, 8(sp)
    sd      a6, 16(sp)
    sd      a7, 24(sp)
    sd      t0, 32(sp)
    sd      t1, 40(sp)
    csrr    t0, scause
    li      t1, -1
    srli    t1, t1, 1
    addi    t1, t1, 10                  // 1 << 63 | 9
    bne     t0, t1, fail
    lw      t0, 4(s1)                   // claim
    beqz    t0, fail                    // notified, so something must be claimable
    mv      s6, t0
    addi    s8, s8, 1
    li      t1, 6
    bne     t0, t1, 1f
    addi    s9, s9, 1
    li      t1, 2
    bne     s9, t1, 1f
    li      a0, 6                       // second claim of the level: lower the line first
    li      a1, 0
    li      a7, 0x0A435856
    li      a6, 5
    ecall
1:  sw      s6, 4(s1)                   // complete
    ld      a0, 0(sp)
    ld      a1, 8(sp)
    ld      a6, 16(sp)
    ld      a7, 24(sp)
    ld      t0, 32(sp)
    ld      t1, 40(sp)
    addi    sp, sp, 48
    sret

#include "rvlib.inc"

    .section .rodata
msg_edge:       .asciz "rvirq: edge source 5 taken once\n"
msg_level:      .asciz "rvirq: level source 6 re-pended at completion, lowered, no more\n"
msg_threshold:  .asciz "rvirq: threshold holds back priority 2, lower threshold delivers\n"
msg_pass:       .asciz "rvirq: TEST rv-vplic PASS\n"
msg_fail:       .asciz "rvirq: FAIL "

    .section .bss
    .balign 16
    .space  4096
stack_top:
