// cxvisor loongarch64 entry (boot core and parked cores) and the exception entry.
// LoongArch Reference Manual Vol. 1 v1.10 ("LA Vol. 1"): 5.2 direct address translation
// (CRMD.DA = 1 at reset), 6.2 exception entry (EENTRY, ERA, PRMD; ERTN), 7.4 the basic CSRs.
#include "asm_offsets.hpp"

#define CSR_PRMD 0x1
#define CSR_ECFG 0x4
#define CSR_ERA 0x6
#define CSR_EENTRY 0xC
#define CSR_CPUID 0x20
#define CSR_SAVE0 0x30
#define CSR_SAVE1 0x31
#define CSR_TLBRENTRY 0x88
#define CSR_TLBRSAVE 0x8B
#define CSR_PGD 0x1B

// ---------------------------------------------------------------------------------------------
// The image header: the flat boot image (cxvisor.bin) starts with an ELF64 file header and one
// PT_LOAD program header covering the whole file, so QEMU's LoongArch -kernel, which loads only
// ELF files (QEMU 7.2 hw/loongarch/virt.c), loads it as is, and the image stays one flat file as
// on the other ISAs (the VM package follows it; a tool appending one rewrites p_filesz/p_memsz).
// ELF-64 Object File Format v1.5 (file header, program header); LoongArch ELF psABI v2.20
// (EM_LOONGARCH = 258, e_flags 0x41 = lp64s, object ABI v1).
    .section .text.head, "ax"
    .globl  _start
_start:
    .byte   0x7f, 'E', 'L', 'F', 2, 1, 1, 0       // ELFCLASS64, little endian, EV_CURRENT, SysV
    .quad   0                                     // e_ident padding
    .short  2                                     // 0x10 e_type: ET_EXEC
    .short  258                                   // 0x12 e_machine: EM_LOONGARCH
    .word   1                                     // 0x14 e_version
    .quad   primary_entry                         // 0x18 e_entry
    .quad   0x40                                  // 0x20 e_phoff: right after this header
    .quad   0                                     // 0x28 e_shoff: no sections
    .word   0x41                                  // 0x30 e_flags
    .short  64, 56, 1, 64, 0, 0                   // 0x34 ehsize, phentsize, phnum, shentsize, shnum, shstrndx
    // 0x40: the program header.
    .word   1, 7                                  // PT_LOAD, PF_R | PF_W | PF_X (cxvisor sets W^X itself)
    .quad   0                                     // 0x48 p_offset: the file from its first byte
    .quad   _start                                // 0x50 p_vaddr (QEMU: the physical address)
    .quad   _start                                // 0x58 p_paddr
    .quad   __cxv_file_size                       // 0x60 p_filesz (linker.ld)
    .globl  cxv_image_size
cxv_image_size:
    .quad   __cxv_mem_size                        // 0x68 p_memsz: the memory footprint, BSS included
    .quad   0x1000                                // 0x70 p_align
    .globl  cxv_package_offset
cxv_package_offset:
    .quad   0                                     // 0x78 VM package offset from _start (0 = none)
    .ascii  "CXV\0"                               // 0x80 cxvisor marker

// Every core of QEMU virt starts here at reset (the loader gives each the ELF entry), at PLV0 with
// CRMD.DA = 1 (physical = virtual, LA Vol. 1 5.2.1), CRMD.IE = 0, a0-a2 = 0. The first core to
// arrive boots cxvisor; the others park below until the boot core starts them (start_cpu).
    .balign 4
primary_entry:
    csrwr   $zero, CSR_ECFG                       // no interrupt line enabled (ECFG.LIE = 0)
    la.pcrel $t0, boot_claimed
    li.w    $t1, 1
    amswap_db.w $t2, $t1, $t0
    bnez    $t2, park
    // Refuse to run anywhere but the link address: the image is not position independent.
    la.pcrel $t0, _start
    la.abs  $t1, _start
    bne     $t0, $t1, hang
    la.pcrel $sp, cpu_stacks
    li.d    $t0, CPU_STACK_SIZE
    add.d   $sp, $sp, $t0                         // stack slot 0: the boot core's (vmm/main.cpp)
    la.pcrel $t0, __bss_start
    la.pcrel $t1, __bss_end
1:  bgeu    $t0, $t1, 2f
    st.d    $zero, $t0, 0
    addi.d  $t0, $t0, 8
    b       1b
2:  // The boot core runs on g_percpu[0] until kernel_main knows its logical id: its CPUID is there
    // for arch::this_cpu_hw_id().
    la.pcrel $t0, g_percpu
    csrrd   $t1, CSR_CPUID
    st.d    $t1, $t0, PERCPU_HW_ID
    move    $tp, $t0
    csrwr   $t0, CSR_SAVE0
    bl      set_exception_entries
    la.abs  $a0, cxv_board_dtb                    // where the board's loader puts the DTB (linker.ld)
    bl      kernel_main                           // never returns
hang:
    idle    0
    b       hang

// A parked core waits for mail buffer 0 to name where to go, woken by the IPI that start_cpu
// sends (IDLE returns once ESTAT.IS[12] is pending and ECFG.LIE enables it, CRMD.IE = 0). This is
// what QEMU 7.2 needs, which starts every core at the ELF entry; QEMU 8 and later park the other
// cores in a boot ROM of their own that does the same (hw/loongarch/boot.c, "slave_boot_code":
// wait for mail buffer 0, jump there with no argument). Either way the core arrives at
// cxv_la_core_start, which start_cpu names in mail buffer 0.
park:
    li.w    $t0, -1
    li.d    $t1, IOCSR_IPI_EN
    iocsrwr.w $t0, $t1                            // every IPI vector may set the status
    li.w    $t0, (1 << 12)
    csrwr   $t0, CSR_ECFG                         // ECFG.LIE: the IPI line only
    li.d    $t1, IOCSR_MBUF0
1:  iocsrrd.d $t0, $t1
    bnez    $t0, 2f
    idle    0
    b       1b
2:  jirl    $zero, $t0, 0

// A started core: its wake-up IPI consumed, no interrupt line enabled, then the entry and the
// argument start_cpu left in mail buffers 2 and 1.
    .globl  cxv_la_core_start
cxv_la_core_start:
    li.d    $t2, IOCSR_IPI_STATUS
    iocsrrd.w $t3, $t2
    li.d    $t2, IOCSR_IPI_CLEAR
    iocsrwr.w $t3, $t2
    csrwr   $zero, CSR_ECFG
    li.d    $t1, IOCSR_MBUF1
    iocsrrd.d $a0, $t1
    li.d    $t1, IOCSR_MBUF2
    iocsrrd.d $t0, $t1
    dbar    0                                     // the PerCpu the boot core wrote before the mail
    jirl    $zero, $t0, 0

    .section .data
    .balign 4
boot_claimed:                                     // in .data, not BSS: the boot core clears BSS
    .word   0
    .text

// start_cpu's entry: a0 = this core's PerCpu (vmm/main.cpp start_secondaries filled it).
    .globl  secondary_entry
secondary_entry:
    move    $tp, $a0
    csrwr   $a0, CSR_SAVE0                        // csrwr swaps: a0 now holds the old SAVE0
    move    $a0, $tp
    ld.d    $sp, $a0, PERCPU_STACK_TOP
    bl      set_exception_entries
    move    $a0, $tp
    bl      secondary_main                        // never returns
    b       hang

// EENTRY (7.4.9) for every exception and interrupt (ECFG.VS = 0: one entry), TLBRENTRY (chapter 7, the TLB refill CSRs)
// for TLB refills, which the core takes in direct address mode: its physical address.
set_exception_entries:
    csrwr   $zero, CSR_SAVE1                      // no guest's GPA table: refills walk cxvisor's (PGD)
    la.pcrel $t0, cxv_la_exception
    csrwr   $t0, CSR_EENTRY
    la.pcrel $t0, cxv_la_tlb_refill
    csrwr   $t0, CSR_TLBRENTRY
    jirl    $zero, $ra, 0

// arch::wfi(): IDLE with CRMD.IE = 1 for exactly the idle region. Linux's LoongArch idle says
// "idle instruction needs irq enabled" (arch/loongarch/kernel/idle.c; QEMU also wakes a core whose
// IE is 0, hardware need not), so IE is opened around it. An interrupt is not handled in the
// exception: trap.cpp sees ERA in [cxv_la_idle_begin, cxv_la_idle_end], moves ERA to the end
// (an interrupt that arrived between the IE write and IDLE must not leave the core asleep) and
// returns with PRMD.PIE = 0; the interrupt stays pending in ESTAT and the caller's
// handle_pending_irqs takes it, as on every other path (interrupts are polled).
    .globl  cxv_la_wfi
cxv_la_wfi:
    li.w    $t0, 4                                // the mask: CRMD.IE
    move    $t1, $t0
    csrxchg $t1, $t0, 0x0                         // IE = 1 (CSRXCHG returns the old CRMD in rd)
    .globl  cxv_la_idle_begin
cxv_la_idle_begin:
    idle    0
    .globl  cxv_la_idle_end
cxv_la_idle_end:
    csrxchg $zero, $t0, 0x0                       // IE = 0 (the mask in t0 is unchanged)
    jirl    $zero, $ra, 0

// ---------------------------------------------------------------------------------------------
// Exceptions taken in cxvisor itself (6.2: the core saves PC to ERA and CRMD's PLV/IE to PRMD,
// then runs at EENTRY with IE = 0). cxvisor runs with CRMD.IE = 0 except inside cxv_la_wfi, so an
// interrupt arrives here from there (trap.cpp ends the idle) or if something else enabled it
// (handled like a polled one). Every other
// exception is a cxvisor bug: trap.cpp reports ECODE, ERA, BADV and the registers and stops.
    .balign 4096                                  // EENTRY's low 12 bits are zero
    .globl  cxv_la_exception
cxv_la_exception:
    addi.d  $sp, $sp, -TRAP_FRAME_SIZE
    st.d    $r1, $sp, 8
    st.d    $r2, $sp, 16
    st.d    $r4, $sp, 32
    st.d    $r5, $sp, 40
    st.d    $r6, $sp, 48
    st.d    $r7, $sp, 56
    st.d    $r8, $sp, 64
    st.d    $r9, $sp, 72
    st.d    $r10, $sp, 80
    st.d    $r11, $sp, 88
    st.d    $r12, $sp, 96
    st.d    $r13, $sp, 104
    st.d    $r14, $sp, 112
    st.d    $r15, $sp, 120
    st.d    $r16, $sp, 128
    st.d    $r17, $sp, 136
    st.d    $r18, $sp, 144
    st.d    $r19, $sp, 152
    st.d    $r20, $sp, 160
    st.d    $r21, $sp, 168
    st.d    $r22, $sp, 176
    st.d    $r23, $sp, 184
    st.d    $r24, $sp, 192
    st.d    $r25, $sp, 200
    st.d    $r26, $sp, 208
    st.d    $r27, $sp, 216
    st.d    $r28, $sp, 224
    st.d    $r29, $sp, 232
    st.d    $r30, $sp, 240
    st.d    $r31, $sp, 248
    addi.d  $t0, $sp, TRAP_FRAME_SIZE
    st.d    $t0, $sp, 24                          // r3 (sp) before the exception
    csrrd   $t0, CSR_ERA
    st.d    $t0, $sp, 256
    csrrd   $t0, CSR_PRMD
    st.d    $t0, $sp, 264
    move    $a0, $sp
    bl      cxv_la_trap                           // returns only for an interrupt
    ld.d    $t0, $sp, 256
    csrwr   $t0, CSR_ERA
    ld.d    $t0, $sp, 264
    csrwr   $t0, CSR_PRMD
    ld.d    $r1, $sp, 8
    ld.d    $r2, $sp, 16
    ld.d    $r4, $sp, 32
    ld.d    $r5, $sp, 40
    ld.d    $r6, $sp, 48
    ld.d    $r7, $sp, 56
    ld.d    $r8, $sp, 64
    ld.d    $r9, $sp, 72
    ld.d    $r10, $sp, 80
    ld.d    $r11, $sp, 88
    ld.d    $r12, $sp, 96
    ld.d    $r13, $sp, 104
    ld.d    $r14, $sp, 112
    ld.d    $r15, $sp, 120
    ld.d    $r16, $sp, 128
    ld.d    $r17, $sp, 136
    ld.d    $r18, $sp, 144
    ld.d    $r19, $sp, 152
    ld.d    $r20, $sp, 160
    ld.d    $r21, $sp, 168
    ld.d    $r22, $sp, 176
    ld.d    $r23, $sp, 184
    ld.d    $r24, $sp, 192
    ld.d    $r25, $sp, 200
    ld.d    $r26, $sp, 208
    ld.d    $r27, $sp, 216
    ld.d    $r28, $sp, 224
    ld.d    $r29, $sp, 232
    ld.d    $r30, $sp, 240
    ld.d    $r31, $sp, 248
    addi.d  $sp, $sp, TRAP_FRAME_SIZE
    ertn

// ---------------------------------------------------------------------------------------------
// TLB refill (6.2.4: taken in direct address mode at TLBRENTRY, the faulting address in TLBRBADV;
// only TLBRSAVE may be used as scratch). The page walk is the hardware-assisted one of 5.4.4:
// LDDIR descends a directory level of cxvisor's table (PGD: PGDL for the lower half), a huge-page
// entry passing through unchanged, LDPTE loads the even and odd page of the pair into TLBRELO0/1,
// TLBFILL writes the entry. The levels are those PWCL/PWCH describe (mmu.cpp): 4 KiB pages, four
// levels of 512 entries (the page-table format in page_format.hpp).
    .balign 4096
    .globl  cxv_la_tlb_refill
cxv_la_tlb_refill:
    csrwr   $t0, CSR_TLBRSAVE
    // While a guest runs, SAVE1 holds its GPA table (guest_entry.S): a refill then is for a
    // guest-physical address (TLBRBADV = the GPA, LVZ), walked in that table, the entry tagged
    // with the VM's GID through GTLBC.UseTGID/TGID. Otherwise cxvisor's own (PGD).
    csrrd   $t0, CSR_SAVE1
    bnez    $t0, 1f
    csrrd   $t0, CSR_PGD
1:  lddir   $t0, $t0, 3
    lddir   $t0, $t0, 2
    lddir   $t0, $t0, 1
    ldpte   $t0, 0
    ldpte   $t0, 1
    tlbfill
    csrrd   $t0, CSR_TLBRSAVE
    ertn

    .bss
    .balign 16
    .globl  cpu_stacks
cpu_stacks:
    .space  CPU_STACK_SIZE * 17                   // slot 0: the boot core; slot i + 1: logical CPU i
