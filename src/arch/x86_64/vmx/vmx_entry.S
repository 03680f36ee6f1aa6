// VM entry and the way back for the VMX vCPU (Intel SDM vol. 3C, Order Number 326019-067: 30.3
// "VMLAUNCH/VMRESUME", 26 "VM Entries", 27.5 "Loading Host State"). Never run on hardware (no VMX
// machine in CI, docs/porting.md "VMX").
//
// int cxv_vmx_run(u64* gprs, u64 launched)   -> 0 after a VM exit, 1 VMfailInvalid, 2 VMfailValid
//
// The VMCS holds the guest's RSP, RIP and RFLAGS and the host's RSP and RIP (24.4.1, 24.5); the
// other GPRs are software's: loaded from gprs[] (RAX 0 ... R15 15, the X86Gprs layout) before the
// entry and stored back at the exit. HOST_RSP is this stack with gprs on top, written right before
// the entry; HOST_RIP is cxv_vmx_exit (vcpu_core.hpp write_host_state). A VM exit loads RFLAGS = 2
// (27.5.3), so interrupts stay off until cxvisor opens its window, as after an SVM exit.
// A failed VMLAUNCH/VMRESUME falls through with CF (VMfailInvalid) or ZF (VMfailValid) set and the
// guest's values in the registers; the callee-saved ones come back from the stack.
#define HOST_RSP_FIELD 0x6C14
#include "../gprs_asm.h"
    .text
    .globl  cxv_vmx_run
    .type   cxv_vmx_run, @function
cxv_vmx_run:
    CXV_PUSH_CALLEE_SAVED
    pushq   %rdi                    // gprs, found at 0(%rsp) by the exit path
    movq    $HOST_RSP_FIELD, %rax
    vmwrite %rsp, %rax
    cmpq    $0, %rsi                // flags survive the MOVs below
    movq    0(%rdi), %rax
    CXV_LOAD_GPRS %rdi
    movq    56(%rdi), %rdi
    jne     1f
    vmlaunch
    jmp     2f
1:  vmresume
2:  // Still here: the entry failed. CF = VMfailInvalid, else ZF = VMfailValid.
    movl    $2, %eax
    jnc     3f
    movl    $1, %eax
3:  popq    %rdi
    CXV_POP_CALLEE_SAVED
    ret
    .size   cxv_vmx_run, . - cxv_vmx_run

    .globl  cxv_vmx_exit
    .type   cxv_vmx_exit, @function
cxv_vmx_exit:
    pushq   %rdi                    // the guest's RDI, while RDI fetches gprs
    movq    8(%rsp), %rdi
    movq    %rax, 0(%rdi)
    CXV_STORE_GPRS %rdi
    popq    %rax
    movq    %rax, 56(%rdi)
    xorl    %eax, %eax
    jmp     3b
    .size   cxv_vmx_exit, . - cxv_vmx_exit
    .section .note.GNU-stack, "", @progbits
