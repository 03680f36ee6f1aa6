// cxvisor x86_64 entry: the Multiboot v1 header, the 32-bit start the loader jumps to, the switch
// to long mode on boot page tables, the AP trampoline and the IDT stubs.
// Multiboot Specification 0.6.96, 3.1 "OS image format" and 3.2 "Machine state"; AMD64 APM vol. 2
// rev. 3.42: 14.6 "Enabling and Activating Long Mode", 14.8 "Long-Mode Initialization Example",
// 5.3 "Long-Mode Page Translation" (5-level paging), 3.1.3 "CR4 Register" (LA57);
// 16.5 "Interprocessor Interrupts" (startup IPI), 8.9 "Long-Mode Interrupt Control Transfers".
#include "asm_offsets.hpp"

#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x00010002 // bit 1: memory information wanted; bit 16: the address fields are valid
#define MB_BOOT_MAGIC 0x2BADB002 // EAX when a Multiboot loader started us

#define CR0_PE 0x1
#define CR0_WP 0x10000
#define CR0_PG 0x80000000
#define CR4_PAE 0x20
#define CR4_LA57 0x1000
#define MSR_EFER 0xC0000080
#define EFER_LME 0x100

// From 32-bit protected mode to long mode (still in compatibility mode until the far jump to a
// 64-bit code segment): CR4.PAE, CR3 = the boot tables' root, EFER.LME, then CR0.PG (14.6.1: in
// this order). With boot_la57 set, also CR4.LA57 and the 5-level root boot_pml5: LA57 can only be
// set while paging is off (Intel SDM vol. 3A 253668-078, 2.5 "Control Registers": it "cannot be
// modified in IA-32e mode"), so the depth of cxvisor's paging is fixed here, the same on every CPU.
// The boot CPU and the APs' trampoline both use it; clobbers EAX, ECX, EDX.
.macro ENTER_LONG_MODE
    movl    %cr4, %eax
    orl     $CR4_PAE, %eax
    movl    $boot_pml4, %edx
    cmpb    $0, boot_la57
    je      1f
    orl     $CR4_LA57, %eax
    movl    $boot_pml5, %edx
1:  movl    %eax, %cr4
    movl    %edx, %cr3
    movl    $MSR_EFER, %ecx
    rdmsr
    orl     $EFER_LME, %eax
    wrmsr
    movl    %cr0, %eax
    orl     $(CR0_PG | CR0_WP | CR0_PE), %eax
    movl    %eax, %cr0
.endm

// ---------------------------------------------------------------------------------------------
// Multiboot header with the "a.out kludge" address fields (3.1.3): QEMU's loader takes only a
// 32-bit ELF, so the image is the flat cxvisor.bin and these fields say where it goes. The file
// starts at __image_start; load_end_addr covers text, rodata and data; bss_end_addr the rest.
// cxv_package_offset follows it (0: no VM package), as on the other ISAs' image headers.
    .section .text.head, "ax"
    .code32
    .globl  _start
_start:
    jmp     multiboot_entry
    .balign 4
multiboot_header:
    .long   MB_MAGIC
    .long   MB_FLAGS
    .long   -(MB_MAGIC + MB_FLAGS)
    .long   multiboot_header            // header_addr
    .long   __image_start               // load_addr
    .long   __load_end                  // load_end_addr
    .long   __image_end                 // bss_end_addr
    .long   multiboot_entry             // entry_addr
    .balign 8
    .globl  cxv_package_offset
cxv_package_offset:
    .quad   0
    .ascii  "CXV\0"

// The loader enters in 32-bit protected mode, flat segments, paging and interrupts off, EAX =
// MB_BOOT_MAGIC, EBX = the Multiboot information (3.2). No stack.
multiboot_entry:
    cli
    cld
    movl    %eax, mb_magic
    movl    %ebx, mb_info
    // BSS (the boot page tables live there) is zero from here on.
    movl    $__bss_start, %edi
    movl    $__bss_end, %ecx
    subl    %edi, %ecx
    shrl    $2, %ecx
    xorl    %eax, %eax
    rep stosl
    // Boot page tables: the first 4 GiB identity-mapped with 2 MiB pages, present, writable,
    // executable (5.3.4). They serve only until cxvisor's own W^X tables are built (mmu.cpp) and,
    // for the APs, from the trampoline to their first instructions in long mode.
    movl    $boot_pdpt, %eax
    orl     $3, %eax
    movl    %eax, boot_pml4
    // 5-level paging where the CPU has it (CPUID 7.0:ECX[16] LA57; leaf 7 exists when leaf 0's EAX
    // reaches it): the boot PML5's first entry covers the same 256 TiB as the 4-level tree.
    xorl    %eax, %eax
    cpuid
    cmpl    $7, %eax
    jb      3f
    movl    $7, %eax
    xorl    %ecx, %ecx
    cpuid
    testl   $(1 << 16), %ecx
    jz      3f
    movb    $1, boot_la57
    movl    $boot_pml4, %eax
    orl     $3, %eax
    movl    %eax, boot_pml5
3:
    xorl    %ecx, %ecx
1:  movl    %ecx, %eax
    shll    $12, %eax
    addl    $boot_pd, %eax
    orl     $3, %eax
    movl    %eax, boot_pdpt(,%ecx,8)
    incl    %ecx
    cmpl    $4, %ecx
    jb      1b
    xorl    %ecx, %ecx
2:  movl    %ecx, %eax
    shll    $21, %eax
    orl     $0x83, %eax                 // P | RW | PS
    movl    %ecx, %edx
    shrl    $11, %edx                   // bits 32+ of the address: entry index / 2048
    movl    %eax, boot_pd(,%ecx,8)
    movl    %edx, boot_pd + 4(,%ecx,8)
    incl    %ecx
    cmpl    $2048, %ecx
    jb      2b
    ENTER_LONG_MODE
    lgdt    boot_gdtr
    ljmp    $0x08, $start64

    .code64
start64:
    movw    $0x10, %ax
    movw    %ax, %ds
    movw    %ax, %es
    movw    %ax, %ss
    xorl    %eax, %eax
    movw    %ax, %fs
    movw    %ax, %gs
    leaq    cpu_stacks + CPU_STACK_SIZE(%rip), %rsp // stack slot 0: the boot CPU's (vmm/main.cpp)
    xorl    %edi, %edi
    call    x86_cpu_tables_init          // GDT, TSS, IDT and GS of arch per-CPU slot 0
    // kernel_main's argument: the Multiboot information, or 0 when no Multiboot loader started us.
    xorl    %edi, %edi
    cmpl    $MB_BOOT_MAGIC, mb_magic(%rip)
    jne     3f
    movl    mb_info(%rip), %edi
3:  call    kernel_main                   // never returns
hang:
    cli
    hlt
    jmp     hang

// An AP arrives from the trampoline in long mode on the boot page tables, without a stack. Its
// PerCpu is the g_percpu slot whose hw_id is its APIC id and which has a stack
// (start_secondaries, vmm/main.cpp, wrote both before asking for the start).
    .globl  secondary_entry
secondary_entry:
    movw    $0x10, %ax
    movw    %ax, %ds
    movw    %ax, %es
    movw    %ax, %ss
    cmpb    $0, x86_x2apic(%rip)
    jne     1f
    movl    $1, %eax
    cpuid
    shrl    $24, %ebx                    // CPUID 1 EBX[31:24]: initial APIC id
    movl    %ebx, %edx
    jmp     2f
1:  movl    $0xB, %eax
    xorl    %ecx, %ecx
    cpuid                                // CPUID 0Bh EDX: the x2APIC id
2:  movl    %edx, %edx
    leaq    g_percpu(%rip), %rdi
    movl    $PERCPU_COUNT, %ecx
3:  cmpq    %rdx, PERCPU_HW_ID(%rdi)
    jne     4f
    cmpq    $0, PERCPU_STACK_TOP(%rdi)
    jne     5f                           // this CPU's slot (the boot CPU's stale slot 0 has no stack_top)
4:  addq    $PERCPU_SIZE, %rdi
    decl    %ecx
    jnz     3b
    jmp     hang                         // a CPU cxvisor never asked for stays parked
5:  movq    PERCPU_STACK_TOP(%rdi), %rsp
    call    x86_secondary_start          // (PerCpu*), never returns
    jmp     hang

// ---------------------------------------------------------------------------------------------
// The AP trampoline, copied to TRAMPOLINE_BASE (smp.cpp) and entered by the startup IPI in real
// mode at CS:IP = (TRAMPOLINE_BASE >> 4):0. Position-dependent on that copy: every absolute
// address is TRAMPOLINE_BASE + (label - trampoline_start).
#define TR(label) (TRAMPOLINE_BASE + (label - trampoline_start))
    .section .rodata
    .balign 16
    .globl  trampoline_start, trampoline_end
trampoline_start:
    .code16
    cli
    cld
    movw    %cs, %ax
    movw    %ax, %ds
    lgdtl   trampoline_gdtr - trampoline_start
    movl    %cr0, %eax
    orl     $CR0_PE, %eax
    movl    %eax, %cr0
    ljmpl   $0x08, $TR(trampoline_pm)
    .code32
trampoline_pm:
    movw    $0x10, %ax
    movw    %ax, %ds
    movw    %ax, %es
    movw    %ax, %ss
    ENTER_LONG_MODE
    ljmp    $0x18, $TR(trampoline_lm)
    .code64
trampoline_lm:
    movq    TR(trampoline_entry), %rax
    jmp     *%rax
    .balign 8
    .globl  trampoline_entry
trampoline_entry:                       // patched in the copy: where long mode continues (start_cpu's entry)
    .quad   0
trampoline_gdt:
    .quad   0
    .quad   0x00CF9A000000FFFF          // 0x08: 32-bit code, flat
    .quad   0x00CF92000000FFFF          // 0x10: data, flat
    .quad   0x00AF9A000000FFFF          // 0x18: 64-bit code
trampoline_gdtr:
    .word   4 * 8 - 1
    .long   TR(trampoline_gdt)
trampoline_end:

// The boot CPU's GDT for the switch (the same selectors as cxvisor's per-CPU GDTs, trap.cpp).
    .balign 8
boot_gdt:
    .quad   0
    .quad   0x00AF9A000000FFFF          // 0x08: 64-bit code
    .quad   0x00CF92000000FFFF          // 0x10: data
boot_gdtr:
    .word   3 * 8 - 1
    .quad   boot_gdt

// ---------------------------------------------------------------------------------------------
// IDT stubs: one 16-byte slot per vector (trap.cpp points gate v at isr_stubs + 16 * v). Each
// pushes an error code where the CPU does not (8.2: only #DF, #TS, #NP, #SS, #GP, #PF, #AC, #CP,
// #VC, #SX push one), then the vector, and joins isr_common.
    .text
    .balign 16
    .globl  isr_stubs
isr_stubs:
    .set    vec, 0
    .rept   256
    .balign 16
    .if     vec == 8 || (vec >= 10 && vec <= 14) || vec == 17 || vec == 21 || vec == 29 || vec == 30
    .else
    pushq   $0
    .endif
    pushq   $vec
    jmp     isr_common
    .set    vec, vec + 1
    .endr

// Saves the 15 GPRs (trap.cpp TrapFrame), calls x86_trap(frame) and returns with IRETQ. The
// frame keeps RSP 16-byte aligned at the call: the CPU aligns it before pushing its 5 words
// (8.9.3), and 2 + 15 more words make 22 in all.
isr_common:
    pushq   %rax
    pushq   %rbx
    pushq   %rcx
    pushq   %rdx
    pushq   %rsi
    pushq   %rdi
    pushq   %rbp
    pushq   %r8
    pushq   %r9
    pushq   %r10
    pushq   %r11
    pushq   %r12
    pushq   %r13
    pushq   %r14
    pushq   %r15
    cld
    movq    %rsp, %rdi
    call    x86_trap
    popq    %r15
    popq    %r14
    popq    %r13
    popq    %r12
    popq    %r11
    popq    %r10
    popq    %r9
    popq    %r8
    popq    %rbp
    popq    %rdi
    popq    %rsi
    popq    %rdx
    popq    %rcx
    popq    %rbx
    popq    %rax
    addq    $16, %rsp                    // vector and error code
    iretq

    .data
    .balign 4
mb_magic:
    .long   0
mb_info:
    .long   0
    .globl  x86_x2apic
x86_x2apic:                             // set by lapic.cpp before any AP starts: APs read their id from CPUID 0Bh
    .byte   0
boot_la57:                              // set by the boot CPU: every CPU enters long mode with 5-level paging
    .byte   0

    .bss
    .balign 4096
    .globl  boot_pml4
boot_pml4:
    .space  4096
boot_pml5:
    .space  4096
boot_pdpt:
    .space  4096
boot_pd:
    .space  4 * 4096
    .balign 16
    .globl  cpu_stacks
cpu_stacks:
    .space  CPU_STACK_SIZE * 17          // slot 0: the boot CPU; slot i + 1: logical CPU i
    .section .note.GNU-stack, "", @progbits
