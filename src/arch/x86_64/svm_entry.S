// VMRUN and the way back (AMD64 APM vol. 2 rev. 3.42, 15.5 "VMRUN Instruction", 15.6 "#VMEXIT",
// 15.5.2 "VMSAVE and VMLOAD Instructions", 15.17 "Global Interrupt Flag, STGI and CLGI").
//
// void cxv_svm_run(X86Gprs* gprs, u64 guest_vmcb_pa, u64 host_vmsave_pa)
//
// VMRUN switches RAX, RSP, RIP, RFLAGS, the control registers, EFER and ES/CS/SS/DS and the
// descriptor tables; the host's are kept in the CPU's VM_HSAVE_PA area and come back at #VMEXIT.
// The rest is software's: the GPRs other than RAX/RSP (saved here), and FS, GS, TR, LDTR,
// KernelGsBase and the syscall MSRs, which VMLOAD/VMSAVE move between the CPU and a VMCB. The
// host's go to host_vmsave_pa first, the guest's are loaded from its VMCB, and after the exit the
// guest's are saved and the host's loaded back: from the guest's VMLOAD to the host's, GS is the
// guest's, so nothing here touches %gs.
//
// GIF (15.17): CLGI holds every interrupt and NMI from the first VMLOAD to STGI, so none is taken
// with the guest's GS or TR in place. IF is set only inside that window: with V_INTR_MASKING the
// host's IF at VMRUN decides whether physical interrupts end the guest's run (INTR intercept,
// 15.21.1); after the exit IF is cleared again before STGI, so the interrupt that ended the run
// stays pending until cxvisor opens a window for it (handle_pending_irqs).
#include "gprs_asm.h"
    .text
    .globl  cxv_svm_run
    .type   cxv_svm_run, @function
cxv_svm_run:
    CXV_PUSH_CALLEE_SAVED
    pushq   %rdx                    // host_vmsave_pa
    pushq   %rdi                    // gprs
    movq    %rdx, %rax
    vmsave  %rax                    // the host's FS/GS/TR/LDTR/KernelGsBase/syscall MSRs
    clgi
    sti
    movq    %rsi, %rax              // RAX = the guest's VMCB for VMLOAD and VMRUN
    CXV_LOAD_GPRS %rdi
    movq    56(%rdi), %rdi
    vmload  %rax
    vmrun   %rax
    // #VMEXIT: RAX = the VMCB address again, RSP = this stack (restored from the host save area).
    vmsave  %rax
    pushq   %rdi                    // the guest's RDI, while RDI fetches gprs
    movq    8(%rsp), %rdi
    CXV_STORE_GPRS %rdi
    popq    %rax
    movq    %rax, 56(%rdi)
    popq    %rdi                    // gprs (done)
    popq    %rax                    // host_vmsave_pa
    vmload  %rax
    cli
    stgi
    CXV_POP_CALLEE_SAVED
    ret
    .size   cxv_svm_run, . - cxv_svm_run
    .section .note.GNU-stack, "", @progbits
