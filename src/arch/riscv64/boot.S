// cxvisor riscv64 entry (primary and secondary harts) and the HS-mode trap vector.
// RISC-V Privileged Spec 20211203: 4.1.2 stvec, 4.1.7 sepc, 4.1.9 scause, 4.1.10 stval,
// 3.3.2 SRET; SBI spec v2.0 chapter 9 (HSM hart_start: a0 = hart id, a1 = opaque, satp = 0,
// sstatus.SIE = 0).
#include "asm_offsets.hpp"

// ---------------------------------------------------------------------------------------------
// RISC-V Linux Image header (Linux Documentation/arch/riscv/boot-image-header.rst layout), so
// OpenSBI/QEMU -kernel, U-Boot booti and friends load cxvisor like a kernel, 2 MiB into RAM.
// 0x28 (res2 in Linux) is cxvisor's: the VM package offset that cxv-vmconfig --image patches;
// 0x3C (res4) carries the "CXV\0" marker. The layout is fixed by the lead (issue 9).
    .section .text.head, "ax"
    .option push
    .option norvc                         // code0 must be one 4-byte jump
    .globl  _start
_start:
    j       primary_entry                 // 0x00 code0
    .word   0                             // 0x04 code1
    .quad   0x200000                      // 0x08 text_offset: 2 MiB above RAM base
    .quad   __image_end - _start          // 0x10 image_size (memory footprint incl. BSS)
    .quad   0                             // 0x18 flags: little endian
    .word   2                             // 0x20 version 0.2
    .word   0                             // 0x24 res1
    .globl  cxv_package_offset
cxv_package_offset:
    .quad   0                             // 0x28 package offset from _start (0 = none)
    .ascii  "RISCV\0\0\0"                 // 0x30 magic (deprecated, still checked by loaders)
    .ascii  "RSC\x05"                     // 0x38 magic2
    .ascii  "CXV\0"                       // 0x3C cxvisor marker
    .option pop

// OpenSBI enters here in HS-mode on whichever hart won its boot lottery: a0 = hart id, a1 = DTB.
//
// Only the first hart to arrive is the boot hart. OpenSBI 1.1 (QEMU 7.2's -bios default) has a
// race in SBI HSM hart_start: sbi_hsm_hart_start sets the target's state to START_PENDING before it
// writes the target's next_addr and next_arg1 (later OpenSBI writes them first, "atomic_cmpxchg()
// is an implicit barrier"). A stopped hart spinning in sbi_hsm_hart_wait that sees the state
// change in between jumps to the entry and argument of the cold boot: here, with a1 = the DTB, or
// to secondary_entry with a stale a1. Seen about once in 40 riscv64 boots on a loaded machine: a
// second banner, BSS cleared under the boot hart, then a panic on that hart. So a late hart here
// goes to secondary_entry, which finds its PerCpu by hart id (a0 is always right) and ignores a1.
primary_entry:
    csrw    sie, zero                     // no interrupt until cxvisor enables its own
    csrci   sstatus, 2                    // sstatus.SIE = 0 (4.1.1)
    lla     t0, boot_claimed
    li      t1, 1
    amoswap.w.aqrl t1, t1, (t0)
    bnez    t1, secondary_entry           // not the first: a hart cxvisor started (the race above)
    // Refuse to run at the wrong address: the image is not position independent.
    lla     t0, _start
    ld      t1, link_address
    bne     t0, t1, hang
    mv      s0, a0                        // hart id
    mv      s1, a1                        // DTB physical address
    lla     sp, cpu_stacks
    li      t0, CPU_STACK_SIZE
    add     sp, sp, t0                    // stack slot 0: the boot hart's (vmm/main.cpp)
    lla     t0, __bss_start
    lla     t1, __bss_end
1:  bgeu    t0, t1, 2f
    sd      zero, 0(t0)
    addi    t0, t0, 8
    j       1b
2:  // The boot hart runs on g_percpu[0] until kernel_main knows its logical id: its hart id is
    // there for arch::this_cpu_hw_id().
    lla     t0, g_percpu
    sd      s0, PERCPU_HW_ID(t0)
    mv      tp, t0
    csrw    sscratch, t0
    lla     t0, cxv_hs_trap_vector
    csrw    stvec, t0                     // direct mode: 4-byte aligned, MODE = 0
    mv      a0, s1
    call    kernel_main                   // never returns
hang:
    wfi
    j       hang

    .balign 8
link_address:
    .quad   _start

    .section .data
    .balign 4
boot_claimed:                             // in .data, not BSS: the boot hart clears BSS
    .word   0
    .text

// Secondary harts arrive from SBI HSM hart_start with a0 = hart id, a1 = opaque = PerCpu*,
// translation off (satp = 0) and interrupts disabled. a1 is not trusted (the OpenSBI 1.1 race at
// primary_entry): the PerCpu is the g_percpu slot whose hw_id is this hart's, which
// start_secondaries (vmm/main.cpp) wrote before it asked SBI to start the hart.
    .text
    .globl  secondary_entry
secondary_entry:
    csrw    sie, zero
    csrci   sstatus, 2
    fence   r, rw                         // the slot's fields after the start request that brought us
    lla     a1, g_percpu
    li      t1, PERCPU_COUNT
1:  ld      t2, PERCPU_HW_ID(a1)
    ld      t3, PERCPU_STACK_TOP(a1)
    bne     t2, a0, 2f
    bnez    t3, 3f                        // this hart's slot (the boot hart's stale slot 0 has no stack_top)
2:  addi    a1, a1, PERCPU_SIZE
    addi    t1, t1, -1
    bnez    t1, 1b
    j       hang                          // a hart cxvisor never asked for: stays parked
3:  mv      tp, a1
    csrw    sscratch, a1
    ld      sp, PERCPU_STACK_TOP(a1)
    lla     t0, cxv_hs_trap_vector
    csrw    stvec, t0
    mv      a0, a1
    call    secondary_main                // never returns
    j       hang

// ---------------------------------------------------------------------------------------------
// Traps taken in HS-mode itself. Guests never reach this vector: the vCPU backend points stvec at
// its own exit vector around guest entry. Interrupts are masked in HS-mode (sstatus.SIE = 0), so
// this sees an interrupt only if something enabled them; exceptions here are cxvisor bugs, which
// trap.cpp reports with scause/sepc/stval. All of x1..x31 are saved (x2 as the value before the
// trap) so the report can show them and an interrupt can return to the interrupted code.
    .balign 4
    .globl  cxv_hs_trap_vector
cxv_hs_trap_vector:
    addi    sp, sp, -HS_TRAP_FRAME_SIZE
    sd      x1, 8(sp)
    sd      x3, 24(sp)
    sd      x4, 32(sp)
    sd      x5, 40(sp)
    sd      x6, 48(sp)
    sd      x7, 56(sp)
    sd      x8, 64(sp)
    sd      x9, 72(sp)
    sd      x10, 80(sp)
    sd      x11, 88(sp)
    sd      x12, 96(sp)
    sd      x13, 104(sp)
    sd      x14, 112(sp)
    sd      x15, 120(sp)
    sd      x16, 128(sp)
    sd      x17, 136(sp)
    sd      x18, 144(sp)
    sd      x19, 152(sp)
    sd      x20, 160(sp)
    sd      x21, 168(sp)
    sd      x22, 176(sp)
    sd      x23, 184(sp)
    sd      x24, 192(sp)
    sd      x25, 200(sp)
    sd      x26, 208(sp)
    sd      x27, 216(sp)
    sd      x28, 224(sp)
    sd      x29, 232(sp)
    sd      x30, 240(sp)
    sd      x31, 248(sp)
    addi    t0, sp, HS_TRAP_FRAME_SIZE
    sd      t0, 16(sp)                    // x2 (sp) before the trap
    mv      a0, sp
    call    cxv_hs_trap                   // returns only for an interrupt
    ld      x1, 8(sp)
    ld      x3, 24(sp)
    ld      x4, 32(sp)
    ld      x5, 40(sp)
    ld      x6, 48(sp)
    ld      x7, 56(sp)
    ld      x8, 64(sp)
    ld      x9, 72(sp)
    ld      x10, 80(sp)
    ld      x11, 88(sp)
    ld      x12, 96(sp)
    ld      x13, 104(sp)
    ld      x14, 112(sp)
    ld      x15, 120(sp)
    ld      x16, 128(sp)
    ld      x17, 136(sp)
    ld      x18, 144(sp)
    ld      x19, 152(sp)
    ld      x20, 160(sp)
    ld      x21, 168(sp)
    ld      x22, 176(sp)
    ld      x23, 184(sp)
    ld      x24, 192(sp)
    ld      x25, 200(sp)
    ld      x26, 208(sp)
    ld      x27, 216(sp)
    ld      x28, 224(sp)
    ld      x29, 232(sp)
    ld      x30, 240(sp)
    ld      x31, 248(sp)
    addi    sp, sp, HS_TRAP_FRAME_SIZE
    sret

    .bss
    .balign 16
    .globl  cpu_stacks
cpu_stacks:
    .space  CPU_STACK_SIZE * 17     // slot 0: the boot hart; slot i + 1: logical CPU i
