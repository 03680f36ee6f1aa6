// The guest GPR array (X86Gprs, vcpu.hpp: RAX 0 ... R15 15, 8 bytes each) moved between memory and
// the registers by the entry paths of both backends (svm_entry.S, vmx/vmx_entry.S). RAX, RSP and
// RDI are each path's own business: VMRUN takes RAX from the VMCB and VMX needs it loaded, RSP
// lives in the VMCB/VMCS, and RDI holds the array's address until last.
#pragma once
// Loads RCX, RDX, RBX, RBP, RSI, R8-R15 from the array at \base.
.macro CXV_LOAD_GPRS base
    movq    8(\base), %rcx
    movq    16(\base), %rdx
    movq    24(\base), %rbx
    movq    40(\base), %rbp
    movq    48(\base), %rsi
    movq    64(\base), %r8
    movq    72(\base), %r9
    movq    80(\base), %r10
    movq    88(\base), %r11
    movq    96(\base), %r12
    movq    104(\base), %r13
    movq    112(\base), %r14
    movq    120(\base), %r15
.endm
// Stores the same registers into the array at \base.
.macro CXV_STORE_GPRS base
    movq    %rcx, 8(\base)
    movq    %rdx, 16(\base)
    movq    %rbx, 24(\base)
    movq    %rbp, 40(\base)
    movq    %rsi, 48(\base)
    movq    %r8, 64(\base)
    movq    %r9, 72(\base)
    movq    %r10, 80(\base)
    movq    %r11, 88(\base)
    movq    %r12, 96(\base)
    movq    %r13, 104(\base)
    movq    %r14, 112(\base)
    movq    %r15, 120(\base)
.endm
// The SysV callee-saved registers around an entry path (the guest's values replace them).
.macro CXV_PUSH_CALLEE_SAVED
    pushq   %rbp
    pushq   %rbx
    pushq   %r12
    pushq   %r13
    pushq   %r14
    pushq   %r15
.endm
.macro CXV_POP_CALLEE_SAVED
    popq    %r15
    popq    %r14
    popq    %r13
    popq    %r12
    popq    %rbx
    popq    %rbp
.endm
