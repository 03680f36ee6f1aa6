// rvprobe: a bare riscv64 VS-mode guest for the riscv64 vCPU backend's first system test
// (tests/system/CMakeLists.txt, system.rv-probe). Loaded and entered at 0x8000_0000 with a0 = hart
// id, a1 = DTB. Each step prints through one of the paths it checks, and the run ends with SBI
// SRST shutdown; a failed check prints "FAIL <step>" and shuts down too.
//   1 SBI BASE: spec version 2.0, probe_extension(DBCN) = 1, unknown EID -> NOT_SUPPORTED (-2)
//   2 console: DBCN write_byte, legacy putchar, DBCN write (one byte per call, looped)
//   3 emulated MMIO (virtio-mmio console at 0x0a00_0000): lw/c.lw/lwu/c.sw, and a byte load the
//     device refuses, which the guest sees as a load access fault
//   4 cxvisor's ECHO hypercall under EID 0x0A435856
//   5 a VS-mode CSR access to hstatus: virtual instruction -> illegal instruction in the guest
//   6 WFI with the timer: SBI set_timer, WFI blocks until the timer interrupt is taken
#include "rventry.inc"
    RV_ENTRY stack_top, trap
    mv      s11, a0                     // hart id

    // 1. BASE
    li      s10, 1
    li      a7, 0x10
    li      a6, 0                       // get_spec_version
    ecall
    bnez    a0, fail
    li      t0, 0x2000000
    bne     a1, t0, fail
    li      a7, 0x10
    li      a6, 3                       // probe_extension(DBCN)
    li      a0, 0x4442434E
    ecall
    li      t0, 1
    bne     a1, t0, fail
    li      a7, 0x504D55                // PMU: not offered
    li      a6, 0
    ecall
    li      t0, -2
    bne     a0, t0, fail

    // 2. console paths
    li      s10, 2
    lla     a0, msg_dbcn_byte
    call    puts
    li      a7, 1                       // legacy console_putchar
    li      a0, 'L'
    ecall
    li      a7, 1
    li      a0, '\n'
    ecall
    lla     a0, msg_dbcn_write          // DBCN write(len, addr, 0): returns bytes written
    li      a1, 20                      // strlen(msg_dbcn_write)
    call    dbcn_write_all

    // 3. emulated MMIO: cxvisor's virtio-mmio console at 0x0a00_0000 (virtio 1.2, 4.2.2: 32-bit
    // common registers). Loads and stores in full and compressed form; a byte load of a common
    // register is refused by the device and comes back as a load access fault (s7 counts them).
    li      s10, 3
    li      s1, 0x0a000000
    li      t1, 0x74726976              // MagicValue "virt"
    lw      t0, 0(s1)
    bne     t0, t1, fail
    li      a4, 0
    li      a5, 0
    .option push
    .option rvc
    c.lw    a4, 0(s1)                   // compressed load into x14 through x9
    c.sw    a5, 0x30(s1)                // compressed store: QueueSel (a5 = 0)
    .option pop
    bne     a4, t1, fail
    lwu     t0, 8(s1)                   // DeviceID: 3 = console
    li      t1, 3
    bne     t0, t1, fail
    li      s7, 0
    lb      t0, 0(s1)                   // refused: external abort -> load access fault
    li      t1, 1
    bne     s7, t1, fail
    lla     a0, msg_mmio
    call    puts

    // 4. cxvisor ECHO: a0 = 0, a1 = sum of a0..a5, a2 = a0 ^ a1, a3 = ~a0 (abi/hypercall.hpp)
    li      s10, 4
    li      a7, 0x0A435856
    li      a6, 2
    li      a0, 1
    li      a1, 2
    li      a2, 3
    li      a3, 4
    li      a4, 5
    li      a5, 6
    ecall
    bnez    a0, fail
    li      t0, 21
    bne     a1, t0, fail
    li      t0, 3
    bne     a2, t0, fail
    li      t0, -2
    bne     a3, t0, fail

    // 5. hstatus from VS-mode: the trap handler counts the illegal instruction and skips it
    li      s10, 5
    li      s9, 0
    csrr    t0, 0x600                   // hstatus
    li      t0, 1
    bne     s9, t0, fail
    lla     a0, msg_illegal
    call    puts

    // 6. timer + WFI: the wake-up comes from vstimecmp (Sstc) through cxvisor's blocked-vCPU
    // timer; the interrupt is taken (wait_s8 sets sstatus.SIE after each WFI), as Linux takes it.
    li      s10, 6
    li      s8, 0                       // timer interrupts taken (trap handler)
    li      t0, 0x20                    // sie.STIE
    csrs    sie, t0
    rdtime  s2
    li      t0, 100000                  // 10 ms at 10 MHz
    add     a0, s2, t0
    li      a7, 0x54494D45              // TIME set_timer
    li      a6, 0
    ecall
    bnez    a0, fail
    li      a0, 1
    li      a1, 0
    call    wait_s8                     // the interrupt is taken (sstatus.SIE = 1 after the WFI)
    rdtime  t1
    sub     t1, t1, s2
    li      t0, 100000
    bltu    t1, t0, fail                // woke before the deadline
    lla     a0, msg_timer
    call    puts

    lla     a0, msg_pass
    call    puts
    j       shutdown

// The guest's own trap handler: an illegal instruction (scause 2) is counted in s9, a load access
// fault (5) in s7, and both are skipped;
// the supervisor timer interrupt is counted in s8 and silenced with set_timer(-1); anything else
// fails the test.
    .balign 4
trap:
    csrr    t0, scause
    li      t1, 2
    beq     t0, t1, 1f
    li      t1, 5                       // load access fault: counted in s7, skipped
    beq     t0, t1, 2f
    li      t1, -1
    srli    t1, t1, 1
    addi    t1, t1, 6                   // 1 << 63 | 5: supervisor timer interrupt
    bne     t0, t1, fail
    addi    s8, s8, 1
    li      a7, 0x54494D45
    li      a6, 0
    li      a0, -1
    ecall
    sret
2:  addi    s7, s7, 1
    j       3f
1:  addi    s9, s9, 1
3:  csrr    t0, sepc
    addi    t0, t0, 4
    csrw    sepc, t0
    sret

#include "rvlib.inc"

    .section .rodata
msg_dbcn_byte:  .asciz "rvprobe: sbi ok, dbcn write_byte\n"
msg_dbcn_write: .ascii "rvprobe: dbcn write\n"
msg_mmio:       .asciz "rvprobe: virtio-mmio loads and stores, refused byte load aborted\n"
msg_illegal:    .asciz "rvprobe: hstatus access is illegal in the guest\n"
msg_timer:      .asciz "rvprobe: timer woke wfi\n"
msg_pass:       .asciz "rvprobe: TEST rv-probe PASS\n"
msg_fail:       .asciz "rvprobe: FAIL step "

    .bss
    .balign 16
    .space 4096
stack_top:
