// The x86 level of exit handling (docs/architecture.md "The path of one exit", level 1): one
// decoded exit that every x86 virtualization backend produces from its own exit information, so
// that the handlers behind it (CPUID, MSRs, port I/O, hypercalls, halts, nested page faults) are
// written once. SVM fills it from the VMCB (svm_decode_exit below, AMD64 APM vol. 2 rev. 3.42,
// appendix C); VMX from the VMCS exit reason, qualification and instruction length (Intel SDM
// vol. 3C, appendix C; vmx::to_x86_exit in vmx/exit.hpp) and reuses the rest. Pure data and pure
// functions: unit-tested on the host.
#pragma once
#include "base/types.hpp"
#include "vmcb.hpp"

namespace arch {

enum class X86ExitKind : u8 {
    Io,           // IN/OUT (and the string forms): io, next_rip
    Npf,          // nested page fault (SVM NPF, VMX EPT violation): gpa, npf
    MsrRead,      // RDMSR: the MSR in ECX
    MsrWrite,     // WRMSR: the MSR in ECX, the value in EDX:EAX
    Cpuid,        // CPUID: leaf EAX, subleaf ECX
    Hlt,
    Hypercall,    // VMMCALL (SVM) / VMCALL (VMX)
    Interrupt,    // a physical interrupt for the host
    Nmi,          // a physical NMI for the host
    Shutdown,     // triple fault: the guest cannot continue
    InvalidState, // the CPU refused to enter the guest (SVM VMEXIT_INVALID, VMX invalid guest state)
    NestedVirt,   // the guest ran a virtualization instruction (VMRUN, VMLOAD, ... / VMX's): #UD
    IrqWindow,    // the guest can take an interrupt now (SVM VINTR, VMX interrupt-window exiting)
    Xsetbv,       // XSETBV: the XCR in ECX, the value in EDX:EAX (xsave.hpp decides)
    Other,        // an exit cxvisor never asked for: code says which
};

struct X86Exit {
    X86ExitKind kind = X86ExitKind::Other;
    u8 insn_len = 0;    // bytes of the intercepted instruction, where known without decoding
    svm::IoioInfo io{};
    u64 next_rip = 0;   // Io: the instruction after the IN/OUT
    u64 gpa = 0;        // Npf
    svm::NpfInfo npf{};
    u64 code = 0;       // the backend's own exit code, for messages
    u64 info = 0;       // its raw exit information (SVM EXITINFO1, VMX exit qualification): ExitReason::detail
    u8 cpl = 0;         // the guest's CPL at the exit (the VMCB's CPL; VMX: SS.DPL, SDM vol. 3C 24.4.1)
    const char* insn = nullptr; // NestedVirt: the instruction's name
};

// 15.7 "Intercept Operation" / appendix C: the VMCB's exit code and EXITINFO fields. Without
// nRIP save (QEMU's TCG has none) the lengths of the intercepted instructions are their fixed
// encodings (APM vol. 3: CPUID 0F A2, RDMSR 0F 32, WRMSR 0F 30, HLT F4, VMMCALL 0F 01 D9, XSETBV
// 0F 01 D1);
// IOIO's EXITINFO2 gives the next RIP itself (15.10.2).
// cpl is the VMCB's CPL field (15.5.1), which the exit left there.
constexpr X86Exit svm_decode_exit(u64 exitcode, u64 info1, u64 info2, u8 cpl = 0) {
    X86Exit e;
    e.code = exitcode;
    e.info = info1;
    e.cpl = cpl;
    using namespace svm;
    if ((exitcode & 0xFFFF'FFFF) == EXIT_INVALID) {
        e.kind = X86ExitKind::InvalidState;
        return e;
    }
    switch (exitcode) {
    case EXIT_IOIO:
        e.kind = X86ExitKind::Io;
        e.io = decode_ioio(info1);
        e.next_rip = info2;
        return e;
    case EXIT_NPF:
        e.kind = X86ExitKind::Npf;
        e.gpa = info2;
        e.npf = decode_npf(info1);
        return e;
    case EXIT_MSR:
        e.kind = info1 == 1 ? X86ExitKind::MsrWrite : X86ExitKind::MsrRead;
        e.insn_len = 2;
        return e;
    case EXIT_CPUID: e.kind = X86ExitKind::Cpuid, e.insn_len = 2; return e;
    case EXIT_HLT: e.kind = X86ExitKind::Hlt, e.insn_len = 1; return e;
    case EXIT_VMMCALL: e.kind = X86ExitKind::Hypercall, e.insn_len = 3; return e;
    case EXIT_XSETBV: e.kind = X86ExitKind::Xsetbv, e.insn_len = 3; return e;
    case EXIT_INTR: e.kind = X86ExitKind::Interrupt; return e;
    case EXIT_NMI: e.kind = X86ExitKind::Nmi; return e;
    case EXIT_VINTR: e.kind = X86ExitKind::IrqWindow; return e; // 15.21.4 (cxvisor's window request)
    case EXIT_SHUTDOWN: e.kind = X86ExitKind::Shutdown; return e;
    case EXIT_VMRUN: e.kind = X86ExitKind::NestedVirt, e.insn = "VMRUN"; return e;
    case EXIT_VMLOAD: e.kind = X86ExitKind::NestedVirt, e.insn = "VMLOAD"; return e;
    case EXIT_VMSAVE: e.kind = X86ExitKind::NestedVirt, e.insn = "VMSAVE"; return e;
    case EXIT_STGI: e.kind = X86ExitKind::NestedVirt, e.insn = "STGI"; return e;
    case EXIT_CLGI: e.kind = X86ExitKind::NestedVirt, e.insn = "CLGI"; return e;
    case EXIT_SKINIT: e.kind = X86ExitKind::NestedVirt, e.insn = "SKINIT"; return e;
    case EXIT_INVLPGA: e.kind = X86ExitKind::NestedVirt, e.insn = "INVLPGA"; return e;
    default: return e;
    }
}

} // namespace arch
