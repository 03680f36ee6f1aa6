// Entry, stacks, stage-1 MMU and exception vectors of the cxvisor test guests.
//
// Boot vCPU: entered at _start (0x4008_0000) at EL1h, MMU off, DAIF masked, x0 = DTB or 0.
// Secondary vCPUs: PSCI CPU_ON enters rt_secondary_entry with x0 = context_id = the vCPU index
// (rt::start_cpu passes it), MMU off.
//
// Exceptions: IRQs go to the GIC dispatcher (gic.cpp rt_irq, registered handlers; see gic.hpp),
// everything else to rt_exception (aarch64/arch.cpp).
//
// Both paths turn on the same identity-mapped stage-1 MMU before touching any data: with the MMU
// off every data access is Device-nGnRnE (Arm ARM D8.2.x "The effects of disabling a stage of
// address translation"), where exclusives (LDXR/STXR, so our spinlocks) are not guaranteed to work
// and unaligned accesses fault.

#define MAX_CPUS   8
#define STACK_SIZE 0x4000
#define FRAME_SIZE 272              // x0..x30, ELR_EL1, SPSR_EL1: 33 x 8, rounded up to 16
#define IRQ_FRAME_SIZE 176          // x0..x18, x30, ELR_EL1, SPSR_EL1: 22 x 8

// ---- stage-1 translation (Arm ARM D8: VMSAv8-64, 4 KiB granule) ----
// MAIR_EL1: Attr0 = 0x00 Device-nGnRnE, Attr1 = 0x04 Device-nGnRE, Attr2 = 0xFF Normal
// Inner/Outer Write-Back non-transient, read/write-allocate.
#define MAIR_VALUE 0xFF0400
// TCR_EL1: T0SZ = 25 (39-bit VA, the walk starts at level 1), IRGN0 = ORGN0 = 0b01 (WB WA),
// SH0 = 0b11 (Inner Shareable), TG0 = 0b00 (4 KiB), EPD1 = 1 (no TTBR1 walks), IPS = 0b010 (40 bit).
#define TCR_VALUE  ((25) | (1 << 8) | (1 << 10) | (3 << 12) | (1 << 23) | (2 << 32))
// SCTLR_EL1: the Armv8.0 RES1 bits (29, 28, 23, 22, 20, 11) + M, C, SA, SA0, I.
// A = 0 (unaligned Normal accesses allowed), WXN = 0, EE = 0 (little-endian).
#define SCTLR_VALUE ((1 << 29) | (1 << 28) | (1 << 23) | (1 << 22) | (1 << 20) | (1 << 11) | \
                     (1 << 12) | (1 << 4) | (1 << 3) | (1 << 2) | (1 << 0))
// Level-1 block descriptors (D8.3: bits[1:0] = 0b01, AttrIndx[4:2], AP[7:6] = 0 (EL1 RW),
// SH[9:8], AF[10], PXN[53], UXN[54]), 1 GiB each.
#define BLOCK_DEVICE ((1 << 0) | (1 << 2) | (1 << 10) | (3 << 53))   // Attr1, XN
#define BLOCK_NORMAL ((1 << 0) | (2 << 2) | (3 << 8) | (1 << 10))    // Attr2, Inner Shareable

    .section .text.boot, "ax"
    .global _start
_start:
    mov     x20, x0                 // DTB address, handed to rt_boot_main
    mov     x19, #0                 // the boot vCPU is index 0
    b       common_entry

    .global rt_secondary_entry
rt_secondary_entry:
    mov     x19, x0                 // context_id = vCPU index
    mov     x20, #0

common_entry:
    msr     daifset, #0xf
    cmp     x19, #MAX_CPUS
    b.hs    park                    // no stack for this index: stay parked
    msr     tpidr_el1, x19          // rt::cpu_index()

    // SP = __stacks_end - index * STACK_SIZE (stacks grow down, 16-byte aligned)
    adrp    x1, __stacks_end
    add     x1, x1, :lo12:__stacks_end
    mov     x2, #STACK_SIZE
    msub    x1, x19, x2, x1
    mov     sp, x1

    adrp    x1, rt_vectors
    add     x1, x1, :lo12:rt_vectors
    msr     vbar_el1, x1

    bl      mmu_enable

    cbnz    x19, 2f
    // Boot vCPU only: zero BSS (16-byte aligned start and size, see guest.ld)
    adrp    x1, __bss_start
    add     x1, x1, :lo12:__bss_start
    adrp    x2, __bss_end
    add     x2, x2, :lo12:__bss_end
1:  cmp     x1, x2
    b.hs    3f
    stp     xzr, xzr, [x1], #16
    b       1b
3:  mov     x0, x20
    bl      rt_boot_main            // does not return
    b       park
2:  mov     x0, x19
    bl      rt_secondary_main       // does not return
park:
    wfe
    b       park

// Leaf: programs MAIR/TCR/TTBR0, invalidates this VM's EL1 TLB entries, turns on MMU and caches.
// Uses only x1; reads no memory (the table is reached by the walker, not by this code).
mmu_enable:
    ldr     x1, =MAIR_VALUE
    msr     mair_el1, x1
    ldr     x1, =TCR_VALUE
    msr     tcr_el1, x1
    adrp    x1, rt_l1_table
    msr     ttbr0_el1, x1
    isb
    tlbi    vmalle1
    dsb     nsh
    isb
    ldr     x1, =SCTLR_VALUE
    msr     sctlr_el1, x1
    isb
    ret
    .ltorg

// x2..x17 at [sp, #16..#143], the part both frames share (x0/x1 are saved by the vector slot).
.macro save_x2_x17
    stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    stp     x6, x7, [sp, #48]
    stp     x8, x9, [sp, #64]
    stp     x10, x11, [sp, #80]
    stp     x12, x13, [sp, #96]
    stp     x14, x15, [sp, #112]
    stp     x16, x17, [sp, #128]
.endm
.macro restore_x2_x17
    ldp     x2, x3, [sp, #16]
    ldp     x4, x5, [sp, #32]
    ldp     x6, x7, [sp, #48]
    ldp     x8, x9, [sp, #64]
    ldp     x10, x11, [sp, #80]
    ldp     x12, x13, [sp, #96]
    ldp     x14, x15, [sp, #112]
    ldp     x16, x17, [sp, #128]
.endm

// ---- exception vectors: 16 slots of 128 bytes (32 instructions), table 2 KiB aligned ----
// .org makes the assembler fail if a slot ever grows past its 128 bytes instead of silently
// shifting the slots behind it.
    .section .text.vectors, "ax"
    .balign 2048
    .global rt_vectors
rt_vectors:
    .irp kind, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
    .org    rt_vectors + \kind * 0x80
    .if (\kind % 4) == 1              // IRQ: the GIC dispatcher (gic.cpp rt_irq)
    sub     sp, sp, #IRQ_FRAME_SIZE
    stp     x0, x1, [sp, #0]
    b       irq_common
    .else
    sub     sp, sp, #FRAME_SIZE
    stp     x0, x1, [sp, #0]
    mov     x1, #\kind              // 0-3 current EL SP0, 4-7 current EL SPx, 8-15 lower EL
    b       exc_common              //   (each: sync, IRQ, FIQ, SError)
    .endif
    .endr
    .org    rt_vectors + 0x800

// IRQ: rt_irq() is an AAPCS64 function, so it keeps x19-x29 itself; only the caller-saved
// registers, x30, ELR_EL1 and SPSR_EL1 are saved here. A handler may unmask PSTATE.I (preemption
// by a higher priority); rt_irq masks it again before returning, so ELR/SPSR cannot be
// overwritten between their restore and the ERET.
irq_common:
    save_x2_x17
    stp     x18, x30, [sp, #144]
    mrs     x2, elr_el1
    mrs     x3, spsr_el1
    stp     x2, x3, [sp, #160]
    bl      rt_irq
    ldp     x2, x3, [sp, #160]
    msr     elr_el1, x2
    msr     spsr_el1, x3
    restore_x2_x17
    ldp     x18, x30, [sp, #144]
    ldp     x0, x1, [sp, #0]
    add     sp, sp, #IRQ_FRAME_SIZE
    eret

exc_common:
    save_x2_x17
    stp     x18, x19, [sp, #144]
    stp     x20, x21, [sp, #160]
    stp     x22, x23, [sp, #176]
    stp     x24, x25, [sp, #192]
    stp     x26, x27, [sp, #208]
    stp     x28, x29, [sp, #224]
    mrs     x2, elr_el1
    mrs     x3, spsr_el1
    stp     x30, x2, [sp, #240]
    str     x3, [sp, #256]
    mov     x0, sp                  // rt_exception(ExcFrame*, kind)
    bl      rt_exception
    ldp     x30, x2, [sp, #240]
    ldr     x3, [sp, #256]
    msr     elr_el1, x2             // the handler may have advanced it
    msr     spsr_el1, x3
    restore_x2_x17
    ldp     x18, x19, [sp, #144]
    ldp     x20, x21, [sp, #160]
    ldp     x22, x23, [sp, #176]
    ldp     x24, x25, [sp, #192]
    ldp     x26, x27, [sp, #208]
    ldp     x28, x29, [sp, #224]
    ldp     x0, x1, [sp, #0]
    add     sp, sp, #FRAME_SIZE
    eret

// ---- the level-1 table: identity map of the low 4 GiB in 1 GiB blocks, part of the image ----
//   0x0000_0000-0x3FFF_FFFF  Device-nGnRE  (UART, and nothing else the VM owns)
//   0x4000_0000-0x7FFF_FFFF  Normal WB     (RAM)
//   0x8000_0000-0xFFFF_FFFF  Device-nGnRE  (nothing: probed by the fault/isolation tests; Device so
//                                           the CPU never touches it speculatively)
// Every probed address is mapped here, so a probe reaches stage 2 and the abort the guest sees is
// cxvisor's, never a stage-1 translation fault of our own.
    .section .rodata.pgtable, "a"
    .balign 4096
rt_l1_table:
    .quad   0x00000000 | BLOCK_DEVICE
    .quad   0x40000000 | BLOCK_NORMAL
    .quad   0x80000000 | BLOCK_DEVICE
    .quad   0xC0000000 | BLOCK_DEVICE
    .fill   508, 8, 0
