// Entry, stacks, page tables and the exception vectors of the x86_64 test guests.
//
// cxvisor enters vCPU 0 at _start (0x10_0000) in 32-bit flat protected mode with paging off,
// EDI = the vCPU index and ESI = the boot argument (docs/porting.md "x86 VMs"; the way Multiboot
// and Linux's 32-bit boot protocol enter a kernel). This code switches to long mode itself (AMD64
// APM vol. 2 rev. 3.42, 14.6.1 "Activating Long Mode": CR4.PAE, CR3, EFER.LME, then CR0.PG, then
// a far jump to a 64-bit code segment) with an identity map of the first 4 GiB in 2 MiB pages
// (5.3.4), and sets up its own GDT and IDT (8.9 "Long-Mode Interrupt Control Transfers"). A program
// that defines rt_la57 = 1 (mmio-la57) pages with 5 levels instead: CR4.LA57 with a PML5 whose
// first entry is the same PML4 (5.3, 5-level paging; LA57 can be set only before paging is on).
// Only where the CPU has LA57: the write raises #GP elsewhere, and the guest's CPUID view does not
// tell (leaf 7 is hidden), so the program's config is for a host that offers it.
//
// GS points at the vCPU's word holding its index (rt::cpu_index()); RSP is its stack. Exceptions
// go through isr_stubs to rt_trap (arch.cpp) with every register saved.

#define MAX_CPUS   8
#define STACK_SIZE 0x4000
#define MSR_EFER   0xC0000080
#define MSR_GS_BASE 0xC0000101

    .section .text.boot, "ax"
    .code32
    .globl  _start
_start:
    cli
    movl    %edi, %ebp              // the vCPU index
    movl    %esi, %ebx              // the boot argument
    cmpl    $MAX_CPUS, %ebp
    jae     park32                  // no stack for this index
    lgdt    gdt_ptr
    testl   %ebp, %ebp
    jnz     2f
    // Boot vCPU only: zero BSS (the page tables are its first pages), then fill the tables.
    movl    $__bss_start, %edi
    movl    $__bss_end, %ecx
    subl    %edi, %ecx
    shrl    $2, %ecx
    xorl    %eax, %eax
    rep stosl
    movl    $rt_pdpt, %eax
    orl     $3, %eax                // P | RW
    movl    %eax, rt_pml4
    xorl    %ecx, %ecx
1:  movl    %ecx, %eax              // PDPT entry i -> page directory i
    shll    $12, %eax
    addl    $rt_pd, %eax
    orl     $3, %eax
    movl    %eax, rt_pdpt(,%ecx,8)
    incl    %ecx
    cmpl    $4, %ecx
    jb      1b
    xorl    %ecx, %ecx
3:  movl    %ecx, %eax              // PD entry j (of 2048) -> 2 MiB page j
    shll    $21, %eax
    orl     $0x83, %eax             // P | RW | PS
    movl    %eax, rt_pd(,%ecx,8)
    movl    %ecx, %eax
    shrl    $11, %eax               // bits 63:32 of j * 2 MiB
    movl    %eax, rt_pd+4(,%ecx,8)
    incl    %ecx
    cmpl    $2048, %ecx
    jb      3b
    movl    $rt_pml4, %eax          // PML5 entry 0 -> the PML4 (used only with rt_la57)
    orl     $3, %eax
    movl    %eax, rt_pml5
2:  movl    $rt_pml4, %eax
    movl    %cr4, %edx
    orl     $0x620, %edx            // PAE, OSFXSR, OSXMMEXCPT
    cmpb    $0, rt_la57
    je      6f
    movl    $rt_pml5, %eax
    orl     $0x1000, %edx           // LA57
6:  movl    %eax, %cr3
    movl    %edx, %cr4
    movl    $MSR_EFER, %ecx
    rdmsr
    orl     $0x100, %eax            // LME
    wrmsr
    movl    %cr0, %eax
    orl     $0x80010000, %eax       // PG, WP
    movl    %eax, %cr0
    ljmp    $0x08, $long_entry
park32:
    hlt
    jmp     park32

    .code64
long_entry:
    movw    $0x10, %ax
    movw    %ax, %ds
    movw    %ax, %es
    movw    %ax, %ss
    xorl    %eax, %eax
    movw    %ax, %fs
    movw    %ax, %gs
    movl    %ebp, %ebp              // upper halves are undefined after the mode switch
    movl    %ebx, %ebx
    leaq    rt_cpu_word(%rip), %rax
    leaq    (%rax,%rbp,8), %rax
    movq    %rbp, (%rax)            // rt::cpu_index()
    movq    %rax, %rdx
    shrq    $32, %rdx
    movl    $MSR_GS_BASE, %ecx
    wrmsr
    leaq    __stacks_end(%rip), %rsp
    movq    %rbp, %rax
    imulq   $STACK_SIZE, %rax
    subq    %rax, %rsp
    testq   %rbp, %rbp
    jnz     4f
    call    build_idt
4:  lidt    idt_ptr(%rip)
    testq   %rbp, %rbp
    jnz     5f
    movq    %rbx, %rdi
    call    rt_boot_main            // does not return
    jmp     park
5:  movq    %rbp, %rdi
    call    rt_secondary_main       // does not return
park:
    cli
    hlt
    jmp     park

// 256 interrupt gates (8.9.1, figure 4-24): offset, selector 0x08, type 0xE (IF cleared), P.
// Vectors 0-31 are exceptions, 32-255 the local APIC's interrupts (rt::set_interrupt_handler).
build_idt:
    leaq    rt_idt(%rip), %rdi
    leaq    isr_stubs(%rip), %rax
    movl    $256, %ecx
1:  movq    %rax, %rdx
    movw    %dx, (%rdi)
    movw    $0x08, 2(%rdi)
    movw    $0x8E00, 4(%rdi)
    shrq    $16, %rdx
    movw    %dx, 6(%rdi)
    shrq    $16, %rdx
    movl    %edx, 8(%rdi)
    movl    $0, 12(%rdi)
    addq    $16, %rdi
    addq    $16, %rax
    decl    %ecx
    jnz     1b
    ret

// One 16-byte stub per vector: the CPU pushes an error code for 8, 10-14, 17 and 21 (8.2, table
// 8-1); the others push 0 in its place, then the vector.
    .balign 16
isr_stubs:
    .set    vec, 0
    .rept   256
    .balign 16
    .if (vec == 8) || ((vec >= 10) && (vec <= 14)) || (vec == 17) || (vec == 21)
    pushq   $vec
    .else
    pushq   $0
    pushq   $vec
    .endif
    jmp     isr_common
    .set    vec, vec + 1
    .endr

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
    movq    %rsp, %rdi              // TrapFrame* (arch.cpp); RSP is 16-aligned here (8.9.3)
    call    rt_trap
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
    addq    $16, %rsp               // vector, error code
    iretq

// The real-mode start of an AP (rt::start_cpu copies it to RT_TRAMPOLINE, 0x8000, and sends
// INIT-SIPI-SIPI with vector 0x08): a start-up IPI begins at CS = 0x0800, IP 0 in real mode (Intel
// SDM vol. 3A 8.4.4.2; AMD APM vol. 2 16.5). It loads a flat 32-bit GDT, sets CR0.PE (caches on:
// CD and NW clear, as after reset they are set; 14.1.3), and enters _start the way cxvisor enters
// the boot vCPU: 32-bit flat protected mode, EDI = its index (its local APIC ID, 11.4.6, the
// vCPU's index under cxvisor), ESI = 0. Position-dependent: every address below is
// RT_TRAMPOLINE + its offset in the copy.
#define RT_TRAMPOLINE 0x8000
#define TRAMP(x) (RT_TRAMPOLINE + (x) - rt_trampoline)
    .section .rodata.trampoline, "a"
    .balign 16
    .globl  rt_trampoline, rt_trampoline_end
    .code16
rt_trampoline:
    cli
    movw    %cs, %ax
    movw    %ax, %ds
    lgdtl   (tramp_gdt_ptr - rt_trampoline)
    movl    %cr0, %eax
    andl    $0x9FFFFFFF, %eax       // CD, NW off
    orl     $0x11, %eax             // PE, ET
    movl    %eax, %cr0
    ljmpl   $0x08, $TRAMP(tramp32)
    .code32
tramp32:
    movw    $0x10, %ax
    movw    %ax, %ds
    movw    %ax, %es
    movw    %ax, %ss
    movw    %ax, %fs
    movw    %ax, %gs
    movl    0xFEE00020, %edi        // the local APIC ID register: ID in bits 31:24
    shrl    $24, %edi
    xorl    %esi, %esi
    movl    $_start, %eax
    jmp     *%eax
    .balign 8
tramp_gdt:
    .quad   0
    .quad   0x00CF9A000000FFFF      // 0x08: 32-bit code, 4 GiB
    .quad   0x00CF92000000FFFF      // 0x10: data, 4 GiB
tramp_gdt_ptr:
    .word   tramp_gdt_ptr - tramp_gdt - 1
    .long   TRAMP(tramp_gdt)
rt_trampoline_end:
    .code64

    .section .rodata
    .balign 16
rt_gdt:
    .quad   0
    .quad   0x00AF9A000000FFFF      // 0x08: 64-bit code, DPL 0 (4.8.3)
    .quad   0x00CF92000000FFFF      // 0x10: data, writable
gdt_ptr:                            // read by the 32-bit LGDT: limit, 32-bit base
    .word   gdt_ptr - rt_gdt - 1
    .long   rt_gdt
    .balign 8
idt_ptr:                            // read by the 64-bit LIDT: limit, 64-bit base
    .word   256 * 16 - 1
    .quad   rt_idt

    // 0 unless the program defines its own (strong) rt_la57.
    .section .rodata
    .weak   rt_la57
rt_la57: .byte 0

    .section .bss.pagetables, "aw", @nobits
    .balign 4096
rt_pml5: .skip 4096
rt_pml4: .skip 4096
rt_pdpt: .skip 4096
rt_pd:   .skip 4 * 4096
    .section .bss
    .balign 16
rt_idt:  .skip 256 * 16
rt_cpu_word: .skip MAX_CPUS * 8
    .section .note.GNU-stack, "", @progbits
