#include "exit.hpp"

namespace arch::vmx {

namespace {

// Appendix C, by basic reason (reasons 35, 38 and 42 are not used).
constexpr const char* REASON_NAMES[] = {
    "exception or NMI", "external interrupt", "triple fault", "INIT signal", "start-up IPI", "I/O SMI", "other SMI",
    "interrupt window", "NMI window", "task switch", "CPUID", "GETSEC", "HLT", "INVD", "INVLPG", "RDPMC", "RDTSC",
    "RSM", "VMCALL", "VMCLEAR", "VMLAUNCH", "VMPTRLD", "VMPTRST", "VMREAD", "VMRESUME", "VMWRITE", "VMXOFF", "VMXON",
    "control-register access", "MOV DR", "I/O instruction", "RDMSR", "WRMSR", "VM-entry failure: invalid guest state",
    "VM-entry failure: MSR loading", "unused (35)", "MWAIT", "monitor trap flag", "unused (38)", "MONITOR", "PAUSE",
    "VM-entry failure: machine-check event", "unused (42)", "TPR below threshold", "APIC access", "virtualized EOI",
    "access to GDTR or IDTR", "access to LDTR or TR", "EPT violation", "EPT misconfiguration", "INVEPT", "RDTSCP",
    "VMX-preemption timer expired", "INVVPID", "WBINVD", "XSETBV", "APIC write", "RDRAND", "INVPCID", "VMFUNC",
    "ENCLS", "RDSEED", "page-modification log full", "XSAVES", "XRSTORS"};
static_assert(sizeof REASON_NAMES / sizeof REASON_NAMES[0] == reason::XRSTORS + 1);

// 27.2.1 Table 27-5 bits 2:0: 0 = 1 byte, 1 = 2 bytes, 3 = 4 bytes; the other encodings are unused.
constexpr u8 IO_SIZES[8] = {1, 2, 0, 4, 0, 0, 0, 0};

bool is_vmx_instruction(u16 r) {
    return (r >= reason::VMCLEAR && r <= reason::VMXON) || r == reason::INVEPT || r == reason::INVVPID ||
           r == reason::VMFUNC;
}

} // namespace

const char* vm_instruction_error_name(u32 number) {
    switch (number) {
    case 1: return "VMCALL executed in VMX root operation";
    case 2: return "VMCLEAR with invalid physical address";
    case 3: return "VMCLEAR with VMXON pointer";
    case 4: return "VMLAUNCH with non-clear VMCS";
    case 5: return "VMRESUME with non-launched VMCS";
    case 6: return "VMRESUME after VMXOFF";
    case 7: return "VM entry with invalid control field(s)";
    case 8: return "VM entry with invalid host-state field(s)";
    case 9: return "VMPTRLD with invalid physical address";
    case 10: return "VMPTRLD with VMXON pointer";
    case 11: return "VMPTRLD with incorrect VMCS revision identifier";
    case 12: return "VMREAD/VMWRITE from/to unsupported VMCS component";
    case 13: return "VMWRITE to read-only VMCS component";
    case 15: return "VMXON executed in VMX root operation";
    case 16: return "VM entry with invalid executive-VMCS pointer";
    case 17: return "VM entry with non-launched executive VMCS";
    case 18: return "VM entry with executive-VMCS pointer not VMXON pointer";
    case 19: return "VMCALL with non-clear VMCS";
    case 20: return "VMCALL with invalid VM-exit control fields";
    case 22: return "VMCALL with incorrect MSEG revision identifier";
    case 23: return "VMXOFF under dual-monitor treatment of SMIs and SMM";
    case 24: return "VMCALL with invalid SMM-monitor features";
    case 25: return "VM entry with invalid VM-execution control fields in executive VMCS";
    case 26: return "VM entry with events blocked by MOV SS";
    case 28: return "invalid operand to INVEPT/INVVPID";
    }
    return "unknown";
}

const char* exit_reason_name(u16 basic) {
    return basic < sizeof REASON_NAMES / sizeof REASON_NAMES[0] ? REASON_NAMES[basic] : "unknown";
}

VmxExit decode_exit(const VmxExitFields& f) {
    VmxExit x;
    x.basic = u16(f.reason & 0xFFFF);
    x.entry_failure = f.reason & bit(31);
    x.instruction_length = f.instruction_length;
    x.idt_vectoring = decode_event(f.idt_vectoring_info, f.idt_vectoring_error);
    x.idt_vectoring.nmi_unblocking = false; // bit 12 is reserved in the IDT-vectoring format (Table 24-16)
    const u64 q = f.qualification;
    x.qualification = q;

    // 24.9.1: with bit 31 set the exit is a VM-entry failure, and only reasons 33, 34 and 41 occur.
    if (x.entry_failure) {
        x.entry_qualification = q;
        switch (x.basic) {
        case reason::ENTRY_FAIL_GUEST_STATE: x.kind = VmxExitKind::EntryFailGuestState; break;
        case reason::ENTRY_FAIL_MSR_LOADING: x.kind = VmxExitKind::EntryFailMsrLoad; break;
        case reason::ENTRY_FAIL_MACHINE_CHECK: x.kind = VmxExitKind::EntryFailMachineCheck; break;
        default:
            x.kind = VmxExitKind::Malformed;
            x.problem = "VM-entry failure (exit reason bit 31) with a basic reason other than 33, 34 or 41";
        }
        return x;
    }

    switch (x.basic) {
    case reason::EXCEPTION_OR_NMI:
        x.kind = VmxExitKind::ExceptionOrNmi;
        x.event = decode_event(f.interruption_info, f.interruption_error);
        if (!x.event.valid) {
            x.kind = VmxExitKind::Malformed;
            x.problem = "exception or NMI exit without valid interruption information";
        }
        break;
    case reason::EXTERNAL_INTERRUPT:
        x.kind = VmxExitKind::ExternalInterrupt;
        x.event = decode_event(f.interruption_info, f.interruption_error);
        break;
    case reason::TRIPLE_FAULT: x.kind = VmxExitKind::TripleFault; break;
    case reason::INIT_SIGNAL: x.kind = VmxExitKind::Init; break;
    case reason::SIPI:
        // 27.2.1: "the exit qualification contains the SIPI vector information in bits 7:0".
        x.kind = VmxExitKind::Sipi;
        x.sipi_vector = u8(q & 0xFF);
        break;
    case reason::INTERRUPT_WINDOW: x.kind = VmxExitKind::InterruptWindow; break;
    case reason::NMI_WINDOW: x.kind = VmxExitKind::NmiWindow; break;
    case reason::CPUID: x.kind = VmxExitKind::Cpuid; break;
    case reason::HLT: x.kind = VmxExitKind::Hlt; break;
    case reason::VMCALL: x.kind = VmxExitKind::Vmcall; break;
    case reason::XSETBV: x.kind = VmxExitKind::Xsetbv; break;
    case reason::CR_ACCESS:
        // Table 27-3.
        x.kind = VmxExitKind::CrAccess;
        x.cr.cr = u8(bits(q, 3, 0));
        x.cr.type = CrAccessType(bits(q, 5, 4));
        x.cr.lmsw_memory = q & bit(6);
        x.cr.gpr = u8(bits(q, 11, 8));
        x.cr.lmsw_source = u16(bits(q, 31, 16));
        break;
    case reason::IO_INSTRUCTION:
        // Table 27-5.
        x.kind = VmxExitKind::Io;
        x.io.size = IO_SIZES[bits(q, 2, 0)];
        x.io.in = q & bit(3);
        x.io.string = q & bit(4);
        x.io.rep = q & bit(5);
        x.io.immediate = q & bit(6);
        x.io.port = u16(bits(q, 31, 16));
        if (!x.io.size) {
            x.kind = VmxExitKind::Malformed;
            x.problem = "I/O exit qualification with an unused access-size encoding (bits 2:0)";
        }
        break;
    case reason::RDMSR:
    case reason::WRMSR:
        // The MSR number is ECX and the value EDX:EAX (the instructions' operands; the exit records
        // neither, 27.2.1).
        x.kind = x.basic == reason::RDMSR ? VmxExitKind::Rdmsr : VmxExitKind::Wrmsr;
        x.msr = u32(f.rcx);
        if (x.kind == VmxExitKind::Wrmsr) x.msr_value = (f.rdx & 0xFFFF'FFFF) << 32 | (f.rax & 0xFFFF'FFFF);
        break;
    case reason::EPT_VIOLATION:
        // Table 27-7. Bits 0-2: the access was a data read, a data write, an instruction fetch (a
        // read-modify-write sets both 0 and 1: it is a write); bits 3-5: whether the GPA was
        // readable, writable, executable; bit 7: the guest linear address is valid; bit 8 (with bit
        // 7): 1 = the access to the final translation, 0 = to a guest paging-structure entry.
        x.kind = VmxExitKind::EptViolation;
        x.ept.gpa = f.guest_physical;
        x.ept.access = q & bit(1) ? AccessKind::Write : q & bit(2) ? AccessKind::Fetch : AccessKind::Read;
        x.ept.allowed_read = q & bit(3);
        x.ept.allowed_write = q & bit(4);
        x.ept.allowed_exec = q & bit(5);
        x.ept.linear_valid = q & bit(7);
        x.ept.gla = x.ept.linear_valid ? f.guest_linear : 0;
        x.ept.stage1_walk = !(x.ept.linear_valid && (q & bit(8)));
        x.ept.nmi_unblocking = q & bit(12);
        break;
    case reason::EPT_MISCONFIG:
        x.kind = VmxExitKind::EptMisconfig;
        x.ept.gpa = f.guest_physical;
        break;
    default:
        x.kind = is_vmx_instruction(x.basic) ? VmxExitKind::VmxInstruction : VmxExitKind::Other;
        if (x.basic == reason::ENTRY_FAIL_GUEST_STATE || x.basic == reason::ENTRY_FAIL_MSR_LOADING ||
            x.basic == reason::ENTRY_FAIL_MACHINE_CHECK) {
            x.kind = VmxExitKind::Malformed;
            x.problem = "VM-entry failure reason without exit-reason bit 31";
        }
    }
    return x;
}

X86Exit to_x86_exit(const VmxExit& x, u64 guest_rip, u8 cpl) {
    X86Exit e;
    e.code = x.basic;
    e.info = x.qualification;
    e.cpl = cpl;
    // An exit caused by an instruction: insn_len from the VMCS, which 27.2.5 bounds to 1..15.
    auto by_instruction = [&](X86ExitKind kind) {
        if (x.instruction_length == 0 || x.instruction_length > 15) return; // Other: not stepped over
        e.kind = kind;
        e.insn_len = u8(x.instruction_length);
    };
    switch (x.kind) {
    case VmxExitKind::Io:
        by_instruction(X86ExitKind::Io);
        if (e.kind != X86ExitKind::Io) return e;
        e.io = {x.io.port, x.io.size, x.io.in, x.io.string, x.io.rep};
        e.next_rip = guest_rip + x.instruction_length;
        return e;
    case VmxExitKind::EptViolation:
        e.kind = X86ExitKind::Npf;
        e.gpa = x.ept.gpa;
        e.npf.present = x.ept.allowed_read || x.ept.allowed_write || x.ept.allowed_exec;
        e.npf.write = x.ept.access == AccessKind::Write;
        e.npf.fetch = x.ept.access == AccessKind::Fetch;
        e.npf.table_walk = x.ept.stage1_walk;
        e.npf.final_gpa = !x.ept.stage1_walk;
        return e;
    case VmxExitKind::Rdmsr: by_instruction(X86ExitKind::MsrRead); return e;
    case VmxExitKind::Wrmsr: by_instruction(X86ExitKind::MsrWrite); return e;
    case VmxExitKind::Cpuid: by_instruction(X86ExitKind::Cpuid); return e;
    case VmxExitKind::Hlt: by_instruction(X86ExitKind::Hlt); return e;
    case VmxExitKind::Vmcall: by_instruction(X86ExitKind::Hypercall); return e;
    case VmxExitKind::Xsetbv: by_instruction(X86ExitKind::Xsetbv); return e;
    case VmxExitKind::ExternalInterrupt: e.kind = X86ExitKind::Interrupt; return e;
    case VmxExitKind::ExceptionOrNmi:
        if (x.event.type == EVENT_NMI) e.kind = X86ExitKind::Nmi;
        return e;
    case VmxExitKind::TripleFault: e.kind = X86ExitKind::Shutdown; return e;
    // 25.2 "Other Causes of VM Exits": with "interrupt-window exiting" set (cxvisor's window
    // request, 24.6.2) the exit comes before the first instruction at which RFLAGS.IF = 1 and
    // nothing blocks interrupts: the next entry can inject. No instruction to step over.
    case VmxExitKind::InterruptWindow: e.kind = X86ExitKind::IrqWindow; return e;
    case VmxExitKind::EntryFailGuestState:
    case VmxExitKind::EntryFailMsrLoad:
    case VmxExitKind::EntryFailMachineCheck: e.kind = X86ExitKind::InvalidState; return e;
    case VmxExitKind::VmxInstruction:
        // #UD is a fault: RIP stays on the instruction, so no length is needed (and none is kept).
        e.kind = X86ExitKind::NestedVirt;
        e.insn = exit_reason_name(x.basic);
        return e;
    case VmxExitKind::Init:
    case VmxExitKind::Sipi:
    case VmxExitKind::NmiWindow:
    case VmxExitKind::CrAccess:
    case VmxExitKind::EptMisconfig:
    case VmxExitKind::Other:
    case VmxExitKind::Malformed: return e;
    }
    return e;
}

} // namespace arch::vmx
