// VM-exit decoding for the VMX backend (Intel SDM vol. 3C, Order Number 326019-067, May 2018:
// appendix C "VMX Basic Exit Reasons"; 24.9.1 "Basic VM-Exit Information" for the exit-reason
// format; 27.2.1 "Basic VM-Exit Information" for the exit qualifications, Tables 27-3 (control-register
// accesses), 27-5 (I/O instructions), 27-7 (EPT violations); 24.9.2/24.9.3 for the interruption and
// IDT-vectoring information). decode_exit turns the raw VMCS exit fields plus the guest registers
// the exit path saved into a VmxExit: what the VMX vCPU's level-1 handling reads. Pure: the host
// unit tests decode recorded field values (tests/unit/arch/x86_vmx_exit_test.cpp).
//
// VmxExit is VMX's own record, with what VMX alone has (CR accesses, INIT/SIPI, the IDT-vectoring
// event, the entry-failure qualification). to_x86_exit below maps it onto the x86-level record
// both backends share (X86Exit, ../x86_exit.hpp), so that one set of handlers decides what a port
// access, an MMIO fault, CPUID, an MSR, HLT, a hypercall or a triple fault does.
#pragma once
#include "base/types.hpp"
#include "vcpu/exit.hpp" // AccessKind
#include "vmcs.hpp"
#include "../x86_exit.hpp"

namespace arch::vmx {

// Appendix C: the basic exit reasons cxvisor tells apart (the rest are VmxExitKind::Other).
namespace reason {
inline constexpr u16 EXCEPTION_OR_NMI = 0, EXTERNAL_INTERRUPT = 1, TRIPLE_FAULT = 2, INIT_SIGNAL = 3, SIPI = 4,
                     INTERRUPT_WINDOW = 7, NMI_WINDOW = 8, TASK_SWITCH = 9, CPUID = 10, GETSEC = 11, HLT = 12,
                     INVD = 13, INVLPG = 14, RDPMC = 15, RDTSC = 16, RSM = 17, VMCALL = 18, VMCLEAR = 19,
                     VMLAUNCH = 20, VMPTRLD = 21, VMPTRST = 22, VMREAD = 23, VMRESUME = 24, VMWRITE = 25,
                     VMXOFF = 26, VMXON = 27, CR_ACCESS = 28, DR_ACCESS = 29, IO_INSTRUCTION = 30, RDMSR = 31,
                     WRMSR = 32, ENTRY_FAIL_GUEST_STATE = 33, ENTRY_FAIL_MSR_LOADING = 34, MWAIT = 36,
                     MONITOR_TRAP_FLAG = 37, MONITOR = 39, PAUSE = 40, ENTRY_FAIL_MACHINE_CHECK = 41,
                     TPR_BELOW_THRESHOLD = 43, APIC_ACCESS = 44, VIRTUALIZED_EOI = 45, GDTR_IDTR_ACCESS = 46,
                     LDTR_TR_ACCESS = 47, EPT_VIOLATION = 48, EPT_MISCONFIG = 49, INVEPT = 50, RDTSCP = 51,
                     PREEMPTION_TIMER = 52, INVVPID = 53, WBINVD = 54, XSETBV = 55, APIC_WRITE = 56, RDRAND = 57,
                     INVPCID = 58, VMFUNC = 59, ENCLS = 60, RDSEED = 61, PML_FULL = 62, XSAVES = 63, XRSTORS = 64;
}
// The reason's name as appendix C gives it, for messages ("reason 9 (task switch)"); "unknown" past
// the table.
const char* exit_reason_name(u16 basic);

// VMX instructions that fail with VMfailValid (RFLAGS.ZF = 1) leave a number in the VMCS's
// VM_INSTRUCTION_ERROR field (30.4 "VM Instruction Error Numbers", Table 30-1): the only report of,
// for instance, a VMLAUNCH refused for an invalid control (7) or host-state (8) field. The text as
// the table gives it, "unknown" for a number it does not list (14, 21, 27 are unused).
const char* vm_instruction_error_name(u32 number);

// The exit fields the VMCS holds (appendix B encodings in vmcs.hpp), read by the exit path, and
// the guest registers it saved (the VMCS has no general registers).
struct VmxExitFields {
    u32 reason = 0;               // EXIT_REASON: bits 15:0 basic reason, bit 31 VM-entry failure
    u64 qualification = 0;        // EXIT_QUALIFICATION
    u64 guest_physical = 0;       // GUEST_PHYSICAL_ADDRESS (EPT violation / misconfiguration)
    u64 guest_linear = 0;         // GUEST_LINEAR_ADDRESS (valid when the qualification says so)
    u32 instruction_length = 0;   // EXIT_INSTRUCTION_LENGTH
    u32 interruption_info = 0;    // EXIT_INTERRUPTION_INFO
    u32 interruption_error = 0;   // EXIT_INTERRUPTION_ERROR_CODE
    u32 idt_vectoring_info = 0;   // IDT_VECTORING_INFO
    u32 idt_vectoring_error = 0;  // IDT_VECTORING_ERROR_CODE
    u64 rax = 0, rcx = 0, rdx = 0; // guest registers at the exit
};

enum class VmxExitKind : u8 {
    ExceptionOrNmi,     // event: the exception or NMI (exception bitmap / NMI exiting)
    ExternalInterrupt,  // a host interrupt arrived; cxvisor takes it once its IF window opens
    TripleFault,        // the guest shut down: contain it (stop or reset the VM)
    Init,               // INIT signal to this vCPU
    Sipi,               // start-up IPI: sipi_vector
    InterruptWindow,    // the guest can take an interrupt now
    NmiWindow,          // ... an NMI now
    Cpuid,              // emulate leaf EAX / subleaf ECX
    Hlt,
    Vmcall,             // cxvisor's hypercall conduit
    Xsetbv,             // XSETBV, which exits unconditionally (25.1.2): ECX, EDX:EAX in the saved registers
    CrAccess,           // cr
    Io,                 // io
    Rdmsr,              // msr
    Wrmsr,              // msr, msr_value
    EptViolation,       // ept
    EptMisconfig,       // a broken EPT entry at ept.gpa: cxvisor's bug, the VM is stopped
    VmxInstruction,     // the guest tried VMX (VMCALL aside): it gets #UD
    EntryFailGuestState, // VM entry failed on the guest state (reason 33, bit 31): entry_qualification
    EntryFailMsrLoad,    // ... while loading MSRs (reason 34): entry_qualification = the failing entry, 1-based
    EntryFailMachineCheck, // ... by a machine check (reason 41)
    Other,              // a reason cxvisor does not expect with its controls: basic says which
    Malformed,          // field values the SDM does not define: problem says which
};

// An event as the interruption-information formats give it (24.9.2 Table 24-15, 24.9.3 Table 24-16).
struct VmxEvent {
    bool valid = false;
    u8 vector = 0;
    u8 type = 0;             // 0 external interrupt, 2 NMI, 3 hardware exception, 4 software interrupt,
                             // 5 privileged software exception, 6 software exception
    bool has_error = false;
    u32 error = 0;
    bool nmi_unblocking = false; // bit 12 (interruption information only)
};
inline constexpr u8 EVENT_EXTERNAL = 0, EVENT_NMI = 2, EVENT_HW_EXCEPTION = 3, EVENT_SW_INTERRUPT = 4,
                    EVENT_PRIV_SW_EXCEPTION = 5, EVENT_SW_EXCEPTION = 6;
inline constexpr u32 EVENT_VALID = u32(bit(31)); // the valid bit of every interruption-information format

enum class CrAccessType : u8 { MovToCr = 0, MovFromCr = 1, Clts = 2, Lmsw = 3 };

struct VmxExit {
    VmxExitKind kind = VmxExitKind::Other;
    u16 basic = 0;              // the basic exit reason
    bool entry_failure = false; // exit-reason bit 31
    u32 instruction_length = 0; // for exits caused by an instruction: the bytes to step over
    VmxEvent event;             // ExceptionOrNmi, ExternalInterrupt (valid only with "acknowledge interrupt on exit")
    VmxEvent idt_vectoring;     // an event that was being delivered when the exit happened: re-inject it first
    struct {
        u16 port = 0;
        u8 size = 0;       // 1, 2 or 4 bytes
        bool in = false;   // IN/INS (else OUT/OUTS)
        bool string = false;
        bool rep = false;
        bool immediate = false; // the port came as an immediate operand (else DX)
    } io;
    struct {
        u64 gpa = 0;
        AccessKind access = AccessKind::Read;
        bool allowed_read = false, allowed_write = false, allowed_exec = false; // what the EPT entries allowed
        bool linear_valid = false; // gla is meaningful
        u64 gla = 0;
        // The access was the CPU walking (or setting A/D bits in) the guest's own page tables, not
        // the access the instruction asked for: the VM must never emulate it as a device access
        // (ExitReason::stage1_walk). Bit 7 clear (PDPTE loads of MOV to CR3 in PAE mode) counts too.
        bool stage1_walk = false;
        bool nmi_unblocking = false; // bit 12: IRET unblocked NMIs before the fault (re-block them on re-injection)
    } ept;
    struct {
        u8 cr = 0;
        CrAccessType type = CrAccessType::MovToCr;
        u8 gpr = 0;          // MOV CR: the general register (0 RAX, 1 RCX, ... 4 RSP, ... 15 R15)
        bool lmsw_memory = false;
        u16 lmsw_source = 0; // LMSW: the operand
    } cr;
    u32 msr = 0;       // Rdmsr/Wrmsr: ECX
    u64 msr_value = 0; // Wrmsr: EDX:EAX
    u8 sipi_vector = 0;
    u64 qualification = 0;       // the exit qualification as read (X86Exit::info, for messages)
    u64 entry_qualification = 0; // EntryFail*: the exit qualification (33: 0 default, 2 PDPTE load, 3 NMI injection, 4 VMCS link pointer)
    const char* problem = nullptr; // Malformed: which field made no sense
};

VmxExit decode_exit(const VmxExitFields& f);

// The x86-level exit (X86Exit) of a decoded VMX exit, with the guest's RIP at the exit (the VMCS's
// GUEST_RIP, which points at the instruction that exited, 27.3.3) and its CPL (the DPL of the
// GUEST_SS_ACCESS_RIGHTS, 24.4.1: the shared handler refuses VMCALL from CPL > 0); info is the
// exit qualification. insn_len is the VM-exit
// instruction-length field (27.2.5), which is 1 to 15 for every exit an instruction causes; an
// instruction exit with a length outside that range is not stepped over but stops the VM (Other,
// with the basic reason as code), as is every exit cxvisor's controls never ask for: EPT
// misconfigurations (cxvisor's own EPT would be broken), exceptions other than NMI (the exception
// bitmap is empty), INIT/SIPI (no second vCPU is started through them yet), Malformed exits.
// Io: next_rip = RIP + length (SVM's EXITINFO2). EptViolation -> Npf: present when the EPT entries
// allowed any access (Table 27-7 bits 5:3, as a #PF's P bit), table_walk = stage1_walk, final_gpa
// its opposite. VM-entry failures -> InvalidState; guest VMX instructions -> NestedVirt, named.
X86Exit to_x86_exit(const VmxExit& x, u64 guest_rip, u8 cpl);

// Reads what decode_exit needs for this exit from the current VMCS, through vmread(VmcsField) ->
// u64 (VMREAD in the backend; a fake VMCS in the host tests). VMREAD costs a round trip into the
// CPU's VMCS cache, so only the fields the reason defines are read (27.2: the others are
// undefined for it anyway): always EXIT_REASON and IDT_VECTORING_INFO (an event to re-inject can
// come with any exit, 27.2.3), the error codes only where the information says one is valid, the
// qualification for the reasons that define one, the instruction length for exits caused by an
// instruction (27.2.4), the guest-physical address for EPT exits and the guest-linear address
// only when the EPT-violation qualification says it is valid (bit 7). rax/rcx/rdx are the guest
// registers the exit path saved.
template <typename Vmread> VmxExitFields read_exit_fields(Vmread&& vmread, u64 rax, u64 rcx, u64 rdx) {
    VmxExitFields f;
    f.rax = rax, f.rcx = rcx, f.rdx = rdx;
    f.reason = u32(vmread(VmcsField::EXIT_REASON));
    f.idt_vectoring_info = u32(vmread(VmcsField::IDT_VECTORING_INFO));
    if ((f.idt_vectoring_info & bit(31)) && (f.idt_vectoring_info & bit(11)))
        f.idt_vectoring_error = u32(vmread(VmcsField::IDT_VECTORING_ERROR_CODE));
    const u16 basic = u16(f.reason & 0xFFFF);
    auto qualification = [&] { f.qualification = vmread(VmcsField::EXIT_QUALIFICATION); };
    auto length = [&] { f.instruction_length = u32(vmread(VmcsField::EXIT_INSTRUCTION_LENGTH)); };
    if (f.reason & bit(31)) { // VM-entry failure: only the qualification is defined (27.8)
        qualification();
        return f;
    }
    switch (basic) {
    case reason::EXCEPTION_OR_NMI:
    case reason::EXTERNAL_INTERRUPT:
        f.interruption_info = u32(vmread(VmcsField::EXIT_INTERRUPTION_INFO));
        if ((f.interruption_info & bit(31)) && (f.interruption_info & bit(11)))
            f.interruption_error = u32(vmread(VmcsField::EXIT_INTERRUPTION_ERROR_CODE));
        break;
    case reason::SIPI: qualification(); break;
    case reason::CR_ACCESS:
    case reason::IO_INSTRUCTION:
        qualification();
        length();
        break;
    case reason::CPUID:
    case reason::HLT:
    case reason::VMCALL:
    case reason::RDMSR:
    case reason::WRMSR:
    case reason::XSETBV:
        length();
        break;
    case reason::EPT_VIOLATION:
        qualification();
        f.guest_physical = vmread(VmcsField::GUEST_PHYSICAL_ADDRESS);
        if (f.qualification & bit(7)) f.guest_linear = vmread(VmcsField::GUEST_LINEAR_ADDRESS);
        break;
    case reason::EPT_MISCONFIG: f.guest_physical = vmread(VmcsField::GUEST_PHYSICAL_ADDRESS); break;
    default:
        // A guest VMX instruction gets #UD, a fault that leaves RIP on it: no length needed.
        // Other reasons stop the VM with their number and name.
        break;
    }
    return f;
}

// The interruption-information format, as decode_exit reads it and the backend writes the VM-entry
// interruption-information field (24.8.3 Table 24-13 uses the same layout, with the error-code bit
// meaning "deliver an error code").
constexpr VmxEvent decode_event(u32 info, u32 error) {
    VmxEvent e;
    e.valid = info & bit(31);
    if (!e.valid) return e;
    e.vector = u8(info & 0xFF);
    e.type = u8((info >> 8) & 7);
    e.has_error = info & bit(11);
    e.error = e.has_error ? error : 0;
    e.nmi_unblocking = info & bit(12);
    return e;
}
constexpr u32 encode_event(u8 vector, u8 type, bool deliver_error) {
    return u32(vector) | u32(type & 7) << 8 | (deliver_error ? u32(bit(11)) : 0) | EVENT_VALID;
}

} // namespace arch::vmx
