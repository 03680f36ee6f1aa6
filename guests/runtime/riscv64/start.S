// Entry, stacks and the trap vector of the riscv64 test guests.
//
// Boot vCPU: cxvisor enters _start (0x8020_0000) in VS-mode with a0 = hart id (= vCPU index, 0)
// and a1 = the DTB's address, satp = 0 and interrupts disabled, as SBI firmware enters an
// S-mode kernel (RISC-V SBI v2.0, 9.1 "HART start": a0 = hartid, a1 = opaque; Linux's riscv boot
// protocol: a1 = DTB).
// Secondary vCPUs: SBI HSM hart_start enters rt_secondary_entry with a0 = the hart id and a1 = the
// opaque value rt::start_cpu passes (its index again).
//
// tp = the vCPU index (rt::cpu_index()); sp = its stack. Traps go to rt_trap_vector, which saves
// the registers and lets rt_trap (arch.cpp) report the trap.

#define MAX_CPUS   8
#define STACK_SIZE 0x4000
#define FRAME_SIZE 264              // x0..x31 (x0 unused) and sepc: 33 x 8

    .section .text.boot, "ax"
    .global _start
_start:
    mv      s1, a1                  // the DTB, handed to rt_boot_main
    mv      s0, a0                  // the hart id: 0 for the boot vCPU
    j       common_entry

    .balign 4                       // a start address for SBI HSM hart_start: keep it 4-aligned
    .global rt_secondary_entry
rt_secondary_entry:
    mv      s0, a0                  // the hart id = vCPU index
    li      s1, 0

common_entry:
    csrw    sie, zero               // no interrupt sources (Priv 20211203, 4.1.3 sip/sie)
    csrci   sstatus, 2              // SIE = 0
    li      t0, MAX_CPUS
    bgeu    s0, t0, park            // no stack for this index: stay parked
    mv      tp, s0                  // rt::cpu_index()

    // sp = __stacks_end - index * STACK_SIZE (stacks grow down, 16-byte aligned)
    la      sp, __stacks_end
    li      t0, STACK_SIZE
    mul     t0, t0, s0
    sub     sp, sp, t0

    la      t0, rt_trap_vector      // stvec MODE 0 (direct): the address is 4-byte aligned (4.1.2)
    csrw    stvec, t0

    bnez    s0, 2f
    // Boot vCPU only: zero BSS (16-byte aligned start and size, see guest.ld)
    la      t0, __bss_start
    la      t1, __bss_end
1:  bgeu    t0, t1, 3f
    sd      zero, 0(t0)
    sd      zero, 8(t0)
    addi    t0, t0, 16
    j       1b
3:  mv      a0, s1
    call    rt_boot_main            // does not return
    j       park
2:  mv      a0, s0
    call    rt_secondary_main       // does not return
park:
    wfi
    j       park

// ---- the trap vector: every register saved, rt_trap(TrapFrame*) reports, then SRET ----
    .balign 4
    .global rt_trap_vector
rt_trap_vector:
    addi    sp, sp, -FRAME_SIZE
    .irp n, 1,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    sd      x\n, (\n * 8)(sp)
    .endr
    addi    t0, sp, FRAME_SIZE      // the interrupted sp
    sd      t0, 16(sp)
    csrr    t0, sepc
    sd      t0, 256(sp)
    mv      a0, sp
    call    rt_trap
    ld      t0, 256(sp)
    csrw    sepc, t0                // the handler may have moved it
    .irp n, 1,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    ld      x\n, (\n * 8)(sp)
    .endr
    addi    sp, sp, FRAME_SIZE
    sret
