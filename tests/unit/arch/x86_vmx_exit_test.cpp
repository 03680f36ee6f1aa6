// VM-exit decoding (src/arch/x86_64/vmx/exit.hpp) on exit-field values built bit by bit from the SDM
// vol. 3C (Order Number 326019-067) formats: 24.9.1 (exit reason), 27.2.1 Tables 27-3 (CR access),
// 27-5 (I/O), 27-7 (EPT violation), 24.9.2/24.9.3 (interruption and IDT-vectoring information),
// appendix C (reasons). No VMX hardware records them here; each value says which bits it sets.
#include "arch/x86_64/vmx/exit.hpp"
#include <gtest/gtest.h>
#include <string>
#include <utility>
#include <vector>

using namespace arch::vmx;

namespace {
VmxExitFields exit_of(u32 reason, u64 qualification = 0, u32 length = 0) {
    VmxExitFields f;
    f.reason = reason;
    f.qualification = qualification;
    f.instruction_length = length;
    return f;
}
} // namespace

TEST(VmxExit, IoInstructions) {
    // OUT DX, AL to COM1: size 0 (1 byte), direction 0 (out), DX operand, port 0x3F8 in bits 31:16.
    VmxExit x = decode_exit(exit_of(reason::IO_INSTRUCTION, 0x03F8'0000, 1));
    EXPECT_EQ(x.kind, VmxExitKind::Io);
    EXPECT_EQ(x.io.port, 0x3F8);
    EXPECT_EQ(x.io.size, 1);
    EXPECT_FALSE(x.io.in);
    EXPECT_FALSE(x.io.string);
    EXPECT_FALSE(x.io.immediate);
    EXPECT_EQ(x.instruction_length, 1u);
    // IN AX, 0x60: size 1 (2 bytes), bit 3 in, bit 6 immediate.
    x = decode_exit(exit_of(reason::IO_INSTRUCTION, 0x0060'0049, 2));
    EXPECT_EQ(x.io.port, 0x60);
    EXPECT_EQ(x.io.size, 2);
    EXPECT_TRUE(x.io.in);
    EXPECT_TRUE(x.io.immediate);
    // REP OUTSD to port 0x1F0: size 3 (4 bytes), bit 4 string, bit 5 REP.
    x = decode_exit(exit_of(reason::IO_INSTRUCTION, 0x01F0'0033, 2));
    EXPECT_EQ(x.io.size, 4);
    EXPECT_TRUE(x.io.string);
    EXPECT_TRUE(x.io.rep);
    EXPECT_FALSE(x.io.in);
    // Size encoding 2 is unused: contained as malformed, never a 0-byte access.
    x = decode_exit(exit_of(reason::IO_INSTRUCTION, 0x03F8'0002, 1));
    EXPECT_EQ(x.kind, VmxExitKind::Malformed);
    EXPECT_NE(std::string(x.problem).find("access-size"), std::string::npos);
}

TEST(VmxExit, EptViolationAccessAndWalk) {
    // A guest write to the local APIC's ICR (MMIO): bit 1 write, bit 7 linear address valid, bit 8
    // the final translation; nothing was allowed (bits 5:3 clear: the GPA is unmapped).
    VmxExitFields f = exit_of(reason::EPT_VIOLATION, 0x182);
    f.guest_physical = 0xFEE0'0300;
    f.guest_linear = 0xFFFF'FFFF'FEE0'0300;
    VmxExit x = decode_exit(f);
    EXPECT_EQ(x.kind, VmxExitKind::EptViolation);
    EXPECT_EQ(x.ept.gpa, 0xFEE0'0300u);
    EXPECT_EQ(x.ept.access, AccessKind::Write);
    EXPECT_TRUE(x.ept.linear_valid);
    EXPECT_EQ(x.ept.gla, 0xFFFF'FFFF'FEE0'0300u);
    EXPECT_FALSE(x.ept.stage1_walk);
    EXPECT_FALSE(x.ept.allowed_read);
    // The CPU setting an accessed bit in a guest page table held in read-only guest memory: a write
    // (bit 1) to a readable (bit 3) GPA, bit 7 set, bit 8 clear: a paging-structure access.
    f = exit_of(reason::EPT_VIOLATION, 0x8A);
    f.guest_physical = 0x0010'3000;
    x = decode_exit(f);
    EXPECT_EQ(x.ept.access, AccessKind::Write);
    EXPECT_TRUE(x.ept.allowed_read);
    EXPECT_TRUE(x.ept.stage1_walk);
    // An instruction fetch (bit 2) from a readable, writable, non-executable page (bits 3, 4).
    x = decode_exit(exit_of(reason::EPT_VIOLATION, 0x19C));
    EXPECT_EQ(x.ept.access, AccessKind::Fetch);
    EXPECT_TRUE(x.ept.allowed_write);
    EXPECT_FALSE(x.ept.allowed_exec);
    EXPECT_FALSE(x.ept.stage1_walk);
    // Loading the PDPTEs (MOV to CR3 in PAE mode): a read with bit 7 clear. The linear-address field
    // is undefined then, and the access read the guest's paging structures.
    f = exit_of(reason::EPT_VIOLATION, 0x1);
    f.guest_linear = 0xDEAD'BEEF;
    x = decode_exit(f);
    EXPECT_EQ(x.ept.access, AccessKind::Read);
    EXPECT_FALSE(x.ept.linear_valid);
    EXPECT_EQ(x.ept.gla, 0u);
    EXPECT_TRUE(x.ept.stage1_walk);
    // Bit 12: NMI unblocking due to IRET.
    EXPECT_TRUE(decode_exit(exit_of(reason::EPT_VIOLATION, 0x1182)).ept.nmi_unblocking);
    // A misconfiguration reports the GPA only.
    f = exit_of(reason::EPT_MISCONFIG);
    f.guest_physical = 0x4000'0000;
    x = decode_exit(f);
    EXPECT_EQ(x.kind, VmxExitKind::EptMisconfig);
    EXPECT_EQ(x.ept.gpa, 0x4000'0000u);
}

TEST(VmxExit, ControlRegisterAccesses) {
    // MOV CR3, RAX: CR 3, type 0 (to CR), GPR 0.
    VmxExit x = decode_exit(exit_of(reason::CR_ACCESS, 0x3, 3));
    EXPECT_EQ(x.kind, VmxExitKind::CrAccess);
    EXPECT_EQ(x.cr.cr, 3);
    EXPECT_EQ(x.cr.type, CrAccessType::MovToCr);
    EXPECT_EQ(x.cr.gpr, 0);
    // MOV R11, CR4: CR 4, type 1 (from CR), GPR 11 in bits 11:8.
    x = decode_exit(exit_of(reason::CR_ACCESS, 0xB14, 4));
    EXPECT_EQ(x.cr.cr, 4);
    EXPECT_EQ(x.cr.type, CrAccessType::MovFromCr);
    EXPECT_EQ(x.cr.gpr, 11);
    // CLTS: type 2.
    EXPECT_EQ(decode_exit(exit_of(reason::CR_ACCESS, 0x20, 2)).cr.type, CrAccessType::Clts);
    // LMSW from memory with operand 0x0011: type 3, bit 6 memory, source in bits 31:16.
    x = decode_exit(exit_of(reason::CR_ACCESS, 0x0011'0070, 4));
    EXPECT_EQ(x.cr.type, CrAccessType::Lmsw);
    EXPECT_TRUE(x.cr.lmsw_memory);
    EXPECT_EQ(x.cr.lmsw_source, 0x11);
}

TEST(VmxExit, MsrAccessesTakeEcxAndEdxEax) {
    VmxExitFields f = exit_of(reason::RDMSR, 0, 2);
    f.rcx = 0xFFFF'FFFF'0000'001Bull; // RCX bits 63:32 are not part of the MSR number
    VmxExit x = decode_exit(f);
    EXPECT_EQ(x.kind, VmxExitKind::Rdmsr);
    EXPECT_EQ(x.msr, 0x1Bu);
    f = exit_of(reason::WRMSR, 0, 2);
    f.rcx = 0x6E0; // IA32_TSC_DEADLINE
    f.rdx = 0xAAAA'AAAA'0000'0001ull;
    f.rax = 0x5555'5555'0000'2345ull; // only EDX:EAX count
    x = decode_exit(f);
    EXPECT_EQ(x.kind, VmxExitKind::Wrmsr);
    EXPECT_EQ(x.msr, 0x6E0u);
    EXPECT_EQ(x.msr_value, 0x1'0000'2345ull);
}

TEST(VmxExit, InstructionExitsCarryTheirLength) {
    EXPECT_EQ(decode_exit(exit_of(reason::CPUID, 0, 2)).kind, VmxExitKind::Cpuid);
    EXPECT_EQ(decode_exit(exit_of(reason::CPUID, 0, 2)).instruction_length, 2u);
    EXPECT_EQ(decode_exit(exit_of(reason::HLT, 0, 1)).kind, VmxExitKind::Hlt);
    const VmxExit v = decode_exit(exit_of(reason::VMCALL, 0, 3));
    EXPECT_EQ(v.kind, VmxExitKind::Vmcall);
    EXPECT_EQ(v.instruction_length, 3u);
    // VMX instructions in the guest get #UD; VMCALL is not one of them.
    for (u16 r : {reason::VMCLEAR, reason::VMLAUNCH, reason::VMRESUME, reason::VMXON, reason::VMXOFF, reason::INVEPT,
                  reason::INVVPID, reason::VMFUNC})
        EXPECT_EQ(decode_exit(exit_of(r)).kind, VmxExitKind::VmxInstruction) << r;
}

TEST(VmxExit, EventsAndSignals) {
    // A page fault with error code 2 (write, not present): valid | error valid | type 3 | vector 14.
    VmxExitFields f = exit_of(reason::EXCEPTION_OR_NMI);
    f.interruption_info = 0x8000'0B0E;
    f.interruption_error = 2;
    VmxExit x = decode_exit(f);
    EXPECT_EQ(x.kind, VmxExitKind::ExceptionOrNmi);
    EXPECT_TRUE(x.event.valid);
    EXPECT_EQ(x.event.vector, 14);
    EXPECT_EQ(x.event.type, EVENT_HW_EXCEPTION);
    EXPECT_TRUE(x.event.has_error);
    EXPECT_EQ(x.event.error, 2u);
    // An NMI: type 2, vector 2, no error code.
    f.interruption_info = 0x8000'0202;
    x = decode_exit(f);
    EXPECT_EQ(x.event.type, EVENT_NMI);
    EXPECT_FALSE(x.event.has_error);
    EXPECT_EQ(x.event.error, 0u);
    // An exception exit without valid information cannot be acted on: malformed.
    f.interruption_info = 0x0000'0B0E;
    EXPECT_EQ(decode_exit(f).kind, VmxExitKind::Malformed);
    // External interrupt without "acknowledge interrupt on exit": no vector (cxvisor's IDT takes it).
    x = decode_exit(exit_of(reason::EXTERNAL_INTERRUPT));
    EXPECT_EQ(x.kind, VmxExitKind::ExternalInterrupt);
    EXPECT_FALSE(x.event.valid);
    EXPECT_EQ(decode_exit(exit_of(reason::TRIPLE_FAULT)).kind, VmxExitKind::TripleFault);
    EXPECT_EQ(decode_exit(exit_of(reason::INIT_SIGNAL)).kind, VmxExitKind::Init);
    // SIPI: the vector in qualification bits 7:0 (the AP starts at vector << 12).
    x = decode_exit(exit_of(reason::SIPI, 0x9A));
    EXPECT_EQ(x.kind, VmxExitKind::Sipi);
    EXPECT_EQ(x.sipi_vector, 0x9A);
    EXPECT_EQ(decode_exit(exit_of(reason::INTERRUPT_WINDOW)).kind, VmxExitKind::InterruptWindow);
    EXPECT_EQ(decode_exit(exit_of(reason::NMI_WINDOW)).kind, VmxExitKind::NmiWindow);
}

TEST(VmxExit, EventInDeliveryIsReported) {
    // An EPT violation while delivering a #PF (error code 0x10) through an unmapped IDT page: the
    // IDT-vectoring information holds the event to re-inject.
    VmxExitFields f = exit_of(reason::EPT_VIOLATION, 0x18A);
    f.idt_vectoring_info = 0x8000'1B0E; // bit 12 is reserved here: ignored
    f.idt_vectoring_error = 0x10;
    const VmxExit x = decode_exit(f);
    EXPECT_TRUE(x.idt_vectoring.valid);
    EXPECT_EQ(x.idt_vectoring.vector, 14);
    EXPECT_EQ(x.idt_vectoring.error, 0x10u);
    EXPECT_FALSE(x.idt_vectoring.nmi_unblocking);
    // The same format is what an injection writes (24.8.3).
    EXPECT_EQ(encode_event(14, EVENT_HW_EXCEPTION, true), 0x8000'0B0Eu);
    EXPECT_EQ(encode_event(0x30, EVENT_EXTERNAL, false), 0x8000'0030u);
    const VmxEvent e = decode_event(encode_event(6, EVENT_HW_EXCEPTION, false), 0);
    EXPECT_TRUE(e.valid);
    EXPECT_EQ(e.vector, 6);
    EXPECT_FALSE(e.has_error);
}

TEST(VmxExit, EntryFailures) {
    // Invalid guest state: basic reason 33 with bit 31 (24.9.1); qualification 0 = default.
    VmxExit x = decode_exit(exit_of(0x8000'0021));
    EXPECT_EQ(x.kind, VmxExitKind::EntryFailGuestState);
    EXPECT_TRUE(x.entry_failure);
    EXPECT_EQ(x.basic, 33);
    EXPECT_EQ(x.entry_qualification, 0u);
    // ... qualification 2: loading the PDPTEs failed.
    EXPECT_EQ(decode_exit(exit_of(0x8000'0021, 2)).entry_qualification, 2u);
    // MSR loading failed on the third entry of the VM-entry MSR-load area.
    x = decode_exit(exit_of(0x8000'0022, 3));
    EXPECT_EQ(x.kind, VmxExitKind::EntryFailMsrLoad);
    EXPECT_EQ(x.entry_qualification, 3u);
    EXPECT_EQ(decode_exit(exit_of(0x8000'0029)).kind, VmxExitKind::EntryFailMachineCheck);
    // Combinations the SDM never produces are contained, not trusted.
    EXPECT_EQ(decode_exit(exit_of(33)).kind, VmxExitKind::Malformed);         // entry-failure reason, no bit 31
    EXPECT_EQ(decode_exit(exit_of(0x8000'000C)).kind, VmxExitKind::Malformed); // bit 31 with HLT
}

TEST(VmxExit, OtherReasonsAreNamed) {
    const VmxExit x = decode_exit(exit_of(reason::TASK_SWITCH));
    EXPECT_EQ(x.kind, VmxExitKind::Other);
    EXPECT_EQ(x.basic, reason::TASK_SWITCH);
    EXPECT_STREQ(exit_reason_name(reason::TASK_SWITCH), "task switch");
    EXPECT_STREQ(exit_reason_name(reason::EPT_VIOLATION), "EPT violation");
    EXPECT_STREQ(exit_reason_name(reason::ENTRY_FAIL_GUEST_STATE), "VM-entry failure: invalid guest state");
    EXPECT_STREQ(exit_reason_name(reason::XRSTORS), "XRSTORS");
    EXPECT_STREQ(exit_reason_name(200), "unknown");
}

TEST(VmxExit, VmInstructionErrorsAreNamed) {
    // Table 30-1: what a failed VMLAUNCH leaves in VM_INSTRUCTION_ERROR.
    EXPECT_STREQ(vm_instruction_error_name(7), "VM entry with invalid control field(s)");
    EXPECT_STREQ(vm_instruction_error_name(8), "VM entry with invalid host-state field(s)");
    EXPECT_STREQ(vm_instruction_error_name(4), "VMLAUNCH with non-clear VMCS");
    EXPECT_STREQ(vm_instruction_error_name(28), "invalid operand to INVEPT/INVVPID");
    EXPECT_STREQ(vm_instruction_error_name(14), "unknown"); // unused number
    EXPECT_STREQ(vm_instruction_error_name(0), "unknown");
}

namespace {
// A VMCS as VMREAD sees it: values by field, each no wider than its field (a 32-bit field holds
// 32 bits), reads recorded in order. Reading a field the test did not set is a failure: the VMCS
// would hold whatever the last exit left there.
struct FakeVmcs {
    std::vector<std::pair<VmcsField, u64>> values;
    std::vector<VmcsField> reads;
    void set(VmcsField f, u64 v) {
        const u32 bytes = width_bytes(encoding_width(encoding(f)));
        EXPECT_TRUE(bytes == 8 || v >> (8 * bytes) == 0) << vmcs_field_info(encoding(f))->name;
        values.push_back({f, v});
    }
    u64 operator()(VmcsField f) {
        reads.push_back(f);
        for (const auto& [field, v] : values)
            if (field == f) return v;
        ADD_FAILURE() << "VMREAD of " << vmcs_field_info(encoding(f))->name << ", which this exit does not define";
        return 0xDEAD'BEEF;
    }
};
} // namespace

TEST(VmxExit, ReadsOnlyTheFieldsTheReasonDefines) {
    // OUT DX, AL to port 0x3F8: reason, IDT-vectoring information, qualification, length; no
    // guest-physical address, no interruption information.
    FakeVmcs io;
    io.set(VmcsField::EXIT_REASON, reason::IO_INSTRUCTION);
    io.set(VmcsField::IDT_VECTORING_INFO, 0);
    io.set(VmcsField::EXIT_QUALIFICATION, 0x03F8'0000);
    io.set(VmcsField::EXIT_INSTRUCTION_LENGTH, 1);
    VmxExit x = decode_exit(read_exit_fields(io, 0x41, 0, 0x3F8));
    EXPECT_EQ(x.kind, VmxExitKind::Io);
    EXPECT_EQ(x.io.port, 0x3F8);
    EXPECT_EQ(x.instruction_length, 1u);
    EXPECT_EQ(io.reads, (std::vector<VmcsField>{VmcsField::EXIT_REASON, VmcsField::IDT_VECTORING_INFO,
                                                 VmcsField::EXIT_QUALIFICATION, VmcsField::EXIT_INSTRUCTION_LENGTH}));

    // An EPT violation during PDPTE loading (qualification bit 7 clear): no guest-linear read.
    FakeVmcs pdpte;
    pdpte.set(VmcsField::EXIT_REASON, reason::EPT_VIOLATION);
    pdpte.set(VmcsField::IDT_VECTORING_INFO, 0);
    pdpte.set(VmcsField::EXIT_QUALIFICATION, 0x1);
    pdpte.set(VmcsField::GUEST_PHYSICAL_ADDRESS, 0x7000);
    x = decode_exit(read_exit_fields(pdpte, 0, 0, 0));
    EXPECT_EQ(x.ept.gpa, 0x7000u);
    EXPECT_TRUE(x.ept.stage1_walk);
    EXPECT_EQ(pdpte.reads.size(), 4u);

    // The same with bit 7 and 8: the guest-linear address is read, and an event in delivery with
    // an error code brings its error code along.
    FakeVmcs mmio;
    mmio.set(VmcsField::EXIT_REASON, reason::EPT_VIOLATION);
    mmio.set(VmcsField::IDT_VECTORING_INFO, 0x8000'0B0E);
    mmio.set(VmcsField::IDT_VECTORING_ERROR_CODE, 0x10);
    mmio.set(VmcsField::EXIT_QUALIFICATION, 0x182);
    mmio.set(VmcsField::GUEST_PHYSICAL_ADDRESS, 0xFEE0'0300);
    mmio.set(VmcsField::GUEST_LINEAR_ADDRESS, 0xFFFF'8000'FEE0'0300);
    x = decode_exit(read_exit_fields(mmio, 0, 0, 0));
    EXPECT_EQ(x.ept.access, AccessKind::Write);
    EXPECT_FALSE(x.ept.stage1_walk);
    EXPECT_EQ(x.ept.gla, 0xFFFF'8000'FEE0'0300u);
    EXPECT_EQ(x.idt_vectoring.error, 0x10u);
    EXPECT_EQ(mmio.reads.size(), 6u);

    // WRMSR: the length from the VMCS, the MSR and value from the saved registers.
    FakeVmcs wrmsr;
    wrmsr.set(VmcsField::EXIT_REASON, reason::WRMSR);
    wrmsr.set(VmcsField::IDT_VECTORING_INFO, 0);
    wrmsr.set(VmcsField::EXIT_INSTRUCTION_LENGTH, 2);
    x = decode_exit(read_exit_fields(wrmsr, 0x2345, 0x6E0, 0x1));
    EXPECT_EQ(x.msr, 0x6E0u);
    EXPECT_EQ(x.msr_value, 0x1'0000'2345ull);
    EXPECT_EQ(x.instruction_length, 2u);

    // A hardware exception with an error code; an NMI without one (no error-code read).
    FakeVmcs pf;
    pf.set(VmcsField::EXIT_REASON, reason::EXCEPTION_OR_NMI);
    pf.set(VmcsField::IDT_VECTORING_INFO, 0);
    pf.set(VmcsField::EXIT_INTERRUPTION_INFO, 0x8000'0B0E);
    pf.set(VmcsField::EXIT_INTERRUPTION_ERROR_CODE, 2);
    EXPECT_EQ(decode_exit(read_exit_fields(pf, 0, 0, 0)).event.error, 2u);
    FakeVmcs nmi;
    nmi.set(VmcsField::EXIT_REASON, reason::EXCEPTION_OR_NMI);
    nmi.set(VmcsField::IDT_VECTORING_INFO, 0);
    nmi.set(VmcsField::EXIT_INTERRUPTION_INFO, 0x8000'0202);
    EXPECT_EQ(decode_exit(read_exit_fields(nmi, 0, 0, 0)).event.type, EVENT_NMI);
    EXPECT_EQ(nmi.reads.size(), 3u);

    // A VM-entry failure reads the qualification only.
    FakeVmcs entry;
    entry.set(VmcsField::EXIT_REASON, 0x8000'0021);
    entry.set(VmcsField::IDT_VECTORING_INFO, 0);
    entry.set(VmcsField::EXIT_QUALIFICATION, 2);
    x = decode_exit(read_exit_fields(entry, 0, 0, 0));
    EXPECT_EQ(x.kind, VmxExitKind::EntryFailGuestState);
    EXPECT_EQ(x.entry_qualification, 2u);
    EXPECT_EQ(entry.reads.size(), 3u);
}
