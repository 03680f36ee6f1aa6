// rvpass: a host device handed to a riscv64 VM (system.rv-passthrough). QEMU virt's goldfish RTC
// (host-physical 0x0010_1000, PLIC source 11; rvpass.toml passes it through at the same guest
// address with irq 11) is not emulated by cxvisor: every value read here comes from the device
// through the G-stage, and its interrupt reaches the guest through the vPLIC linked to the host
// PLIC source (the host claims it and completes it only when the guest completes the virtual one).
// Goldfish RTC registers (Android goldfish virtual hardware, "goldfish-rtc"): TIME_LOW 0x00 (reads
// the time in ns, latches TIME_HIGH), TIME_HIGH 0x04, ALARM_LOW 0x08 (arms the alarm), ALARM_HIGH
// 0x0c, IRQ_ENABLED 0x10, CLEAR_INTERRUPT 0x1c.
//   1 the RTC's time advances across a 100 ms wait of the guest's time CSR by 50 ms..10 s
//   2 an alarm 1 ms ahead raises PLIC source 11: taken as a supervisor external interrupt,
//     claimed as 11, cleared at the device, completed
//   3 a second alarm is taken too: the host completed the physical source when the guest
//     completed the virtual one (otherwise the PLIC gateway would hold it for good)
//   4 the page after the RTC is not the guest's: a load there takes a load access fault
//     (scause 5), which the guest skips
//   5 the identical region (host RAM at 0x9000_0000, mapped 1:1) reads back what was written
// A failed check prints "rvpass: FAIL <step>" and shuts down.
#include "rventry.inc"
    .equ PLIC, 0x0c000000
    .equ ENABLE_CTX1, 0x2080            // 0x2000 + 0x80 * context 1
    .equ THRESHOLD_CTX1, 0x201000       // 0x200000 + 0x1000 * context 1; claim/complete at +4
    .equ RTC, 0x00101000
    .equ SRC, 11
    RV_ENTRY stack_top, trap
    li      s0, PLIC
    li      s3, RTC
    li      s8, 0                       // alarms taken
    li      s6, 0                       // the last claimed source

    // 1. the time advances
    li      s10, 1
    call    rtc_now
    mv      s4, a0
    beqz    s4, fail                    // a real RTC counts from the epoch
    rdtime  t0
    li      t1, 1000000                 // 100 ms of the 10 MHz time CSR
    add     t1, t0, t1
1:  rdtime  t0
    bltu    t0, t1, 1b
    call    rtc_now
    sub     t0, a0, s4
    li      t1, 50000000                // 50 ms
    bltu    t0, t1, fail
    li      t1, 10000000000             // 10 s
    bgeu    t0, t1, fail
    lla     a0, msg_time
    call    puts

    // 2. one alarm through the vPLIC
    li      s10, 2
    li      t0, 1
    sw      t0, (4 * SRC)(s0)           // priority(11) = 1
    li      t1, ENABLE_CTX1
    add     t1, s0, t1
    li      t0, 1 << SRC
    sw      t0, 0(t1)
    li      s1, THRESHOLD_CTX1
    add     s1, s0, s1
    sw      zero, 0(s1)
    li      t0, 1 << 9                  // sie.SEIE
    csrs    sie, t0
    csrsi   sstatus, 2                  // sstatus.SIE
    li      t0, 1
    sw      t0, 0x10(s3)                // IRQ_ENABLED
    call    arm_alarm
    li      a0, 1
    call    wait_for
    li      t0, SRC
    bne     s6, t0, fail
    lla     a0, msg_alarm
    call    puts

    // 3. a second one
    li      s10, 3
    call    arm_alarm
    li      a0, 2
    call    wait_for
    lla     a0, msg_again
    call    puts

    // 4. the page after it
    li      s10, 4
    csrci   sstatus, 2
    li      s7, 0                       // access faults taken
    li      t0, RTC + 0x1000
    lw      t1, 0(t0)
    li      t0, 1
    bne     s7, t0, fail
    lla     a0, msg_next
    call    puts

    // 5. the identical region
    li      s10, 5
    li      t0, 0x90000000
    li      t1, 0x0123456789abcdef
    sd      t1, 0(t0)
    sd      t0, 0x7f8(t0)
    ld      t2, 0(t0)
    bne     t1, t2, fail
    ld      t2, 0x7f8(t0)
    bne     t0, t2, fail
    lla     a0, msg_ident
    call    puts

    lla     a0, msg_pass
    call    puts
    j       shutdown

// rtc_now: a0 = the RTC's time in ns (TIME_LOW first: it latches TIME_HIGH).
rtc_now:
    lwu     t0, 0(s3)
    lwu     t1, 4(s3)
    slli    t1, t1, 32
    or      a0, t0, t1
    ret

// arm_alarm: the alarm 1 ms from the RTC's now (ALARM_HIGH first: ALARM_LOW arms it).
arm_alarm:
    mv      t3, ra
    call    rtc_now
    li      t0, 1000000
    add     a0, a0, t0
    srli    t0, a0, 32
    sw      t0, 0x0c(s3)
    sw      a0, 0x08(s3)
    mv      ra, t3
    ret

// wait_for(a0 = n): wait_s8 with a deadline ~5 s of the time CSR away.
wait_for:
    rdtime  a1
    li      t0, 50000000
    add     a1, a1, t0
    j       wait_s8

// Traps: a supervisor external interrupt (claim; source 11: clear the device, count; complete)
// or, in step 4, a load access fault (count, skip the 4-byte load). Anything else fails.
    .balign 4
trap:
    addi    sp, sp, -32
    sd      t0, 0(sp)
    sd      t1, 8(sp)
    sd      a0, 16(sp)
    csrr    t0, scause
    li      t1, 5                       // load access fault
    beq     t0, t1, 3f
    li      t1, -1
    srli    t1, t1, 1
    addi    t1, t1, 10                  // 1 << 63 | 9
    bne     t0, t1, fail
    lw      t0, 4(s1)                   // claim
    beqz    t0, fail                    // notified, so something must be claimable
    mv      s6, t0
    li      t1, SRC
    bne     t0, t1, fail
    li      t1, 1
    sw      t1, 0x1c(s3)                // CLEAR_INTERRUPT: the device lowers its line
    addi    s8, s8, 1
    sw      t0, 4(s1)                   // complete
    j       4f
3:  li      t1, 4
    bne     s10, t1, fail
    addi    s7, s7, 1
    csrr    t0, sepc
    addi    t0, t0, 4
    csrw    sepc, t0
4:  ld      t0, 0(sp)
    ld      t1, 8(sp)
    ld      a0, 16(sp)
    addi    sp, sp, 32
    sret

#include "rvlib.inc"

    .section .rodata
msg_time:   .asciz "rvpass: goldfish RTC time advances with the guest's clock\n"
msg_alarm:  .asciz "rvpass: RTC alarm taken through the vPLIC as source 11\n"
msg_again:  .asciz "rvpass: second alarm taken: the host source was completed\n"
msg_next:   .asciz "rvpass: the page after the RTC faults\n"
msg_ident:  .asciz "rvpass: the identical region at 0x90000000 holds what was written\n"
msg_pass:   .asciz "rvpass: TEST rv-passthrough PASS\n"
msg_fail:   .asciz "rvpass: FAIL "

    .section .bss
    .balign 16
    .space  4096
stack_top:
