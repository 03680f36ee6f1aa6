// Entry, stacks and the exception entry of the loongarch64 test guests.
//
// Boot vCPU: cxvisor enters _start (0x20_0000, the image base) at PLV0 in direct address mode
// (CRMD.DA = 1, PG = 0: LoongArch Reference Manual Vol. 1 v1.10, 5.2 "Direct address translation
// mode"), CRMD.IE = 0, with a0 = the vCPU index and a1 = the DTB's address (cxvisor's generated
// tree), the way QEMU virt's loader enters a kernel ELF (every core at the entry, direct mode,
// interrupts off). The vCPU index is read from CSR.CPUID (Vol. 1 7.4.12), which QEMU sets to the
// core number and cxvisor to the vCPU index, so the same code boots on bare QEMU, where a0-a2 are 0.
// Secondary vCPUs: rt::start_cpu leaves rt_secondary_entry in the target's IPI mail buffer 0 and
// sends it an IPI (arch.cpp): QEMU 8 and later (and the LVZ fork) park secondary cores in a boot
// ROM that jumps to mail buffer 0 when woken; QEMU 7.2 starts every core at _start, where the
// cores other than 0 park below and do the same.
//
// tp = the vCPU index (rt::cpu_index(): the code has no thread-local storage, so the compiler never
// uses tp itself); sp = its stack. Every exception and interrupt enters rt_trap_vector (EENTRY,
// ECFG.VS = 0: one entry, Vol. 1 7.4.4 and 6.2.1), which saves the registers and lets rt_trap
// (arch.cpp) handle or report it.

#define MAX_CPUS   8
#define STACK_SIZE 0x4000
#define FRAME_SIZE 272              // r0..r31 (r0 unused), ERA, PRMD: 34 x 8

// CSR numbers (Vol. 1 7.1 table 7-1) and IOCSR addresses (Loongson 3A5000 manual 10.2, as QEMU
// virt implements them).
#define CSR_ECFG   0x4
#define CSR_ERA    0x6
#define CSR_EENTRY 0xc
#define CSR_CPUID  0x20
#define IOCSR_IPI_STATUS 0x1000
#define IOCSR_IPI_EN     0x1004
#define IOCSR_IPI_CLEAR  0x100c
#define IOCSR_MBUF0      0x1020
#define ECFG_LIE_IPI     (1 << 12)

    .section .text.boot, "ax"
    .globl  _start
_start:
    csrwr   $zero, CSR_ECFG         // no interrupt line enabled (ECFG.LIE = 0)
    csrrd   $s0, CSR_CPUID
    andi    $s0, $s0, 0x1ff         // CPUID.CoreID [8:0]
    move    $s1, $a1                // the DTB, handed to rt_boot_main
    bnez    $s0, park               // bare QEMU 7.2: every core starts here
    b       common_entry

// A core that is not the boot core waits for mail buffer 0 to name where to go, woken by the IPI
// rt::start_cpu sends (IDLE ends once an interrupt ECFG.LIE enables is pending, CRMD.IE = 0).
park:
    li.w    $t0, -1
    li.d    $t1, IOCSR_IPI_EN
    iocsrwr.w $t0, $t1              // every IPI vector may set the status
    li.w    $t0, ECFG_LIE_IPI
    csrwr   $t0, CSR_ECFG
    li.d    $t1, IOCSR_MBUF0
1:  iocsrrd.d $t0, $t1
    bnez    $t0, 2f
    idle    0
    b       1b
2:  jirl    $zero, $t0, 0

// Where rt::start_cpu sends a secondary vCPU: its wake-up IPI consumed, no interrupt line enabled.
    .balign 4
    .globl  rt_secondary_entry
rt_secondary_entry:
    li.d    $t2, IOCSR_IPI_STATUS
    iocsrrd.w $t3, $t2
    li.d    $t2, IOCSR_IPI_CLEAR
    iocsrwr.w $t3, $t2
    csrwr   $zero, CSR_ECFG
    csrrd   $s0, CSR_CPUID
    andi    $s0, $s0, 0x1ff
    move    $s1, $zero

common_entry:
    li.d    $t0, MAX_CPUS
    bgeu    $s0, $t0, hang          // no stack for this index: stay parked
    move    $tp, $s0                // rt::cpu_index()
    // sp = __stacks_end - index * STACK_SIZE (stacks grow down, 16-byte aligned)
    la.pcrel $sp, __stacks_end
    li.d    $t0, STACK_SIZE
    mul.d   $t0, $t0, $s0
    sub.d   $sp, $sp, $t0
    la.pcrel $t0, rt_trap_vector    // EENTRY (7.4.9): its low 12 bits are zero
    csrwr   $t0, CSR_EENTRY
    bnez    $s0, 2f
    // Boot vCPU only: zero BSS (16-byte aligned start and size, see guest.ld)
    la.pcrel $t0, __bss_start
    la.pcrel $t1, __bss_end
1:  bgeu    $t0, $t1, 3f
    st.d    $zero, $t0, 0
    st.d    $zero, $t0, 8
    addi.d  $t0, $t0, 16
    b       1b
3:  move    $a0, $s1
    bl      rt_boot_main            // does not return
    b       hang
2:  la.pcrel $t0, rt_cpus_up         // checked in: rt::start_cpu stops sending (arch.cpp)
    li.w    $t1, 1
    sll.w   $t1, $t1, $s0
    amor_db.w $zero, $t1, $t0
    move    $a0, $s0
    bl      rt_secondary_main       // does not return
hang:
    idle    0
    b       hang

// ---- the exception entry: every register saved, rt_trap(TrapFrame*) handles or reports, ERTN ----
// The guest runs at PLV0 only, so an exception arrives on the interrupted code's own stack.
    .balign 4096
    .globl  rt_trap_vector
rt_trap_vector:
    addi.d  $sp, $sp, -FRAME_SIZE
    .irp n, 1,2,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    st.d    $r\n, $sp, (\n * 8)
    .endr
    addi.d  $t0, $sp, FRAME_SIZE    // the interrupted sp
    st.d    $t0, $sp, 24
    csrrd   $t0, CSR_ERA
    st.d    $t0, $sp, 256
    csrrd   $t0, 0x1                // PRMD
    st.d    $t0, $sp, 264
    move    $a0, $sp
    bl      rt_trap
    ld.d    $t0, $sp, 256
    csrwr   $t0, CSR_ERA            // the handler may have moved it
    .irp n, 1,2,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    ld.d    $r\n, $sp, (\n * 8)
    .endr
    addi.d  $sp, $sp, FRAME_SIZE
    ertn
