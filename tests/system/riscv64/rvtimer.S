// rvtimer: the guest's own stimecmp (Sstc 1.0), as Linux uses it when its device tree names Sstc
// (system.rv-timer, and system.rv-timer-no-sstc on harts without Sstc, where cxvisor emulates the
// register: its accesses trap as illegal instructions). The same checks pass either way:
//   1 csrw stimecmp = now + 2 ms, csrr reads it back; WFI until the timer interrupt is taken, not
//     before the deadline; the handler silences it with csrw stimecmp = -1
//   2 the read-modify-write forms: csrrs/csrrc/csrrwi on stimecmp return the old value and set it
//   3 a compare in the past is pending at once (taken as soon as sstatus.SIE allows it); a future
//     one is not
// WFI is executed with sstatus.SIE = 0 and the interrupt taken right after it, so that an
// interrupt arriving just before the WFI cannot leave it waiting for ever (3.3.3: WFI resumes
// when an interrupt is pending in sie, whatever sstatus.SIE says).
//   4 an illegal instruction (all zeros) still reaches the guest's handler as scause 2
//   5 WFI in VU-mode is the guest's illegal instruction (U-mode WFI without H: Priv 20211203
//     3.3.3; the hart raises a virtual-instruction exception for it, 8.6.1), not a halt of the vCPU
// A failed check prints "rvtimer: FAIL <step>" and shuts down.
#include "rventry.inc"
    .equ STIMECMP, 0x14D
    RV_ENTRY stack_top, trap
    li      s8, 0                       // timer interrupts taken
    li      s9, 0                       // illegal instructions taken

    // 1. a deadline through stimecmp
    li      s10, 1
    li      t0, 0x20                    // sie.STIE
    csrs    sie, t0
    rdtime  s2
    li      t0, 20000                   // 2 ms at 10 MHz
    add     s3, s2, t0
    csrw    STIMECMP, s3
    csrr    t1, STIMECMP
    bne     t1, s3, fail
1:  wfi
    csrsi   sstatus, 2                  // SIE: take it here
    csrci   sstatus, 2
    beqz    s8, 1b
    rdtime  t1
    bltu    t1, s3, fail                // taken before the deadline
    li      t0, -1
    csrr    t1, STIMECMP
    bne     t1, t0, fail                // the handler's -1
    lla     a0, msg_wfi
    call    puts

    // 2. read-modify-write forms
    li      s10, 2
    li      t0, 0x7000000000000000
    csrw    STIMECMP, t0
    li      t1, 0x0f
    csrrs   t2, STIMECMP, t1            // old -> t2, | 0x0f
    bne     t2, t0, fail
    csrrc   t2, STIMECMP, t1            // old (| 0x0f) -> t2, & ~0x0f
    ori     t3, t0, 0x0f
    bne     t2, t3, fail
    csrrwi  t2, STIMECMP, 7             // old -> t2, = 7
    bne     t2, t0, fail
    csrr    t2, STIMECMP
    li      t3, 7
    bne     t2, t3, fail
    lla     a0, msg_rmw
    call    puts

    // 3. pending at once for a past compare (stimecmp = 7 now): taken as soon as SIE is set (the
    // handler writes -1); a future compare is not
    li      s10, 3
    csrsi   sstatus, 2
    nop
    csrci   sstatus, 2
    li      t0, 2
    bne     s8, t0, fail
    li      t0, 0x7000000000000000
    csrw    STIMECMP, t0
    csrsi   sstatus, 2
    nop
    csrci   sstatus, 2
    li      t0, 2
    bne     s8, t0, fail
    lla     a0, msg_pending
    call    puts

    // 4. an illegal instruction is the guest's
    li      s10, 4
    .word   0
    li      t0, 1
    bne     s9, t0, fail
    lla     a0, msg_illegal
    call    puts

    // 5. WFI from VU-mode: sret to u_code with SPP = 0; its WFI must trap as illegal (counted in
    // s9, skipped), then its ECALL (scause 8) brings it back here to S-mode
    li      s10, 5
    lla     t0, u_code
    csrw    sepc, t0
    li      t0, 0x100                   // sstatus.SPP
    csrc    sstatus, t0
    sret
u_back:
    li      t0, 2
    bne     s9, t0, fail
    lla     a0, msg_vu_wfi
    call    puts

    lla     a0, msg_pass
    call    puts
    j       shutdown

// VU-mode code of step 5.
u_code:
    wfi
    ecall

// The timer interrupt (scause 1 << 63 | 5) is counted in s8 and silenced through stimecmp; an
// illegal instruction (2) is counted in s9 and skipped; an ECALL from VU-mode (8, step 5)
// returns to u_back in S-mode; anything else fails.
    .balign 4
trap:
    csrr    t0, scause
    li      t1, 2
    beq     t0, t1, 1f
    li      t1, 8
    beq     t0, t1, 2f
    li      t1, -1
    srli    t1, t1, 1
    addi    t1, t1, 6
    bne     t0, t1, fail
    addi    s8, s8, 1
    li      t0, -1
    csrw    STIMECMP, t0
    sret
1:  addi    s9, s9, 1
    csrr    t0, sepc
    addi    t0, t0, 4
    csrw    sepc, t0
    sret
2:  li      t0, 0x100                   // back to S-mode at u_back
    csrs    sstatus, t0
    lla     t0, u_back
    csrw    sepc, t0
    sret

#include "rvlib.inc"

    .section .rodata
msg_wfi:      .asciz "rvtimer: stimecmp deadline woke wfi, not before it\n"
msg_rmw:      .asciz "rvtimer: csrrs/csrrc/csrrwi on stimecmp\n"
msg_pending:  .asciz "rvtimer: a past compare is taken at once, a future one is not\n"
msg_illegal:  .asciz "rvtimer: an illegal instruction reaches the guest\n"
msg_vu_wfi:   .asciz "rvtimer: WFI in VU-mode is an illegal instruction\n"
msg_pass:     .asciz "rvtimer: TEST rv-timer PASS\n"
msg_fail:     .asciz "rvtimer: FAIL "

    .section .bss
    .balign 16
    .space  4096
stack_top:
