// VMX exits onto the x86-level record the SVM backend also produces (to_x86_exit in
// src/arch/x86_64/vmx/exit.hpp; X86Exit in x86_exit.hpp): exit fields built bit by bit from the SDM
// vol. 3C (Order Number 326019-067) formats, read through a fake VMCS (read_exit_fields) where the
// path matters, decoded and mapped; each check is what the shared handler in vcpu.cpp reads.
#include "arch/x86_64/vmx/exit.hpp"
#include <gtest/gtest.h>
#include <map>

using namespace arch;
using namespace arch::vmx;

namespace {
// A VMCS holding recorded exit fields; a read of a field the exit did not record fails the test.
struct FakeVmcs {
    std::map<VmcsField, u64> fields;
    u64 operator()(VmcsField f) const {
        auto it = fields.find(f);
        EXPECT_NE(it, fields.end()) << "VMREAD of a field the exit did not record: 0x" << std::hex << u32(f);
        return it == fields.end() ? 0 : it->second;
    }
};
X86Exit map(u32 reason, u64 qualification, u32 length, u64 rip, u32 interruption = 0) {
    VmxExitFields f;
    f.reason = reason, f.qualification = qualification, f.instruction_length = length;
    f.interruption_info = interruption;
    return to_x86_exit(decode_exit(f), rip, 0);
}
} // namespace

TEST(VmxX86Exit, PortOutFromTheVmcsGivesTheNextRip) {
    // OUT DX, AL (EE) to COM1 at RIP 0x100000: Table 27-5 size 0, out, DX, port 0x3F8; length 1.
    FakeVmcs v{{{VmcsField::EXIT_REASON, reason::IO_INSTRUCTION},
                {VmcsField::IDT_VECTORING_INFO, 0},
                {VmcsField::EXIT_QUALIFICATION, 0x03F8'0000},
                {VmcsField::EXIT_INSTRUCTION_LENGTH, 1}}};
    const X86Exit x = to_x86_exit(decode_exit(read_exit_fields(v, 0x41, 0, 0x3F8)), 0x10'0000, 0);
    EXPECT_EQ(x.kind, X86ExitKind::Io);
    EXPECT_EQ(x.io.port, 0x3F8);
    EXPECT_EQ(x.io.size, 1);
    EXPECT_FALSE(x.io.in);
    EXPECT_FALSE(x.io.string);
    EXPECT_FALSE(x.io.rep);
    EXPECT_EQ(x.next_rip, 0x10'0001u);
    EXPECT_EQ(x.insn_len, 1);
    // REP INSW from port 0x1F0 (F3 66 6D, 3 bytes): size 1, in, string, REP.
    const X86Exit s = map(reason::IO_INSTRUCTION, 0x01F0'0039, 3, 0x2000);
    EXPECT_EQ(s.io.size, 2);
    EXPECT_TRUE(s.io.in);
    EXPECT_TRUE(s.io.string);
    EXPECT_TRUE(s.io.rep);
    EXPECT_EQ(s.next_rip, 0x2003u);
}

TEST(VmxX86Exit, InstructionExitsStepByTheLengthField) {
    // CPUID 0F A2, RDMSR 0F 32, WRMSR 0F 30, HLT F4, VMCALL 0F 01 C1: the lengths the VMCS records.
    struct Case { u16 reason; u32 length; X86ExitKind kind; } cases[] = {
        {reason::CPUID, 2, X86ExitKind::Cpuid},       {reason::RDMSR, 2, X86ExitKind::MsrRead},
        {reason::WRMSR, 2, X86ExitKind::MsrWrite},    {reason::HLT, 1, X86ExitKind::Hlt},
        {reason::VMCALL, 3, X86ExitKind::Hypercall}};
    for (const Case& c : cases) {
        const X86Exit x = map(c.reason, 0, c.length, 0x1000);
        EXPECT_EQ(x.kind, c.kind) << exit_reason_name(c.reason);
        EXPECT_EQ(x.insn_len, c.length) << exit_reason_name(c.reason);
        EXPECT_EQ(x.code, c.reason);
    }
    // A prefixed CPUID (e.g. 66 0F A2) is 3 bytes: the field, not the bare encoding, is stepped over.
    EXPECT_EQ(map(reason::CPUID, 0, 3, 0).insn_len, 3);
}

TEST(VmxX86Exit, ImpossibleInstructionLengthsStopTheVm) {
    // 27.2.5: 1..15. A length of 0 or 16 would step RIP wrongly: the exit is not handled as CPUID.
    for (u32 bad : {0u, 16u, 0xFFFF'FFFFu}) {
        for (u16 r : {reason::CPUID, reason::HLT, reason::VMCALL, reason::RDMSR, reason::IO_INSTRUCTION}) {
            const X86Exit x = map(r, r == reason::IO_INSTRUCTION ? 0x03F8'0000 : 0, bad, 0x1000);
            EXPECT_EQ(x.kind, X86ExitKind::Other) << exit_reason_name(r) << " length " << bad;
            EXPECT_EQ(x.insn_len, 0);
            EXPECT_EQ(x.code, r);
        }
    }
    EXPECT_EQ(map(reason::HLT, 0, 15, 0).kind, X86ExitKind::Hlt);
}

TEST(VmxX86Exit, EptViolationsBecomeNestedPageFaults) {
    // A data write (bit 1) to a GPA not mapped at all (bits 5:3 clear) with a valid linear address
    // for the final translation (bits 7, 8): an MMIO store the generic level may emulate.
    VmxExitFields f;
    f.reason = reason::EPT_VIOLATION;
    f.qualification = bit(1) | bit(7) | bit(8);
    f.guest_physical = 0xFEB0'0004;
    f.guest_linear = 0xFEB0'0004;
    X86Exit x = to_x86_exit(decode_exit(f), 0x1000, 0);
    EXPECT_EQ(x.kind, X86ExitKind::Npf);
    EXPECT_EQ(x.gpa, 0xFEB0'0004u);
    EXPECT_TRUE(x.npf.write);
    EXPECT_FALSE(x.npf.fetch);
    EXPECT_FALSE(x.npf.present);
    EXPECT_TRUE(x.npf.final_gpa);
    EXPECT_FALSE(x.npf.table_walk);
    // A fetch (bit 2) from a readable, non-executable page (bit 3) while walking the guest's page
    // tables (bit 7 set, bit 8 clear): present, and never a device access.
    f.qualification = bit(2) | bit(3) | bit(7);
    x = to_x86_exit(decode_exit(f), 0x1000, 0);
    EXPECT_TRUE(x.npf.fetch);
    EXPECT_FALSE(x.npf.write);
    EXPECT_TRUE(x.npf.present);
    EXPECT_TRUE(x.npf.table_walk);
    EXPECT_FALSE(x.npf.final_gpa);
    // Bit 7 clear (PDPTE loads): counted as a table walk too.
    f.qualification = bit(0);
    x = to_x86_exit(decode_exit(f), 0x1000, 0);
    EXPECT_TRUE(x.npf.table_walk);
    EXPECT_FALSE(x.npf.write);
    EXPECT_FALSE(x.npf.fetch);
}

TEST(VmxX86Exit, EventsShutdownAndEntryFailures) {
    EXPECT_EQ(map(reason::EXTERNAL_INTERRUPT, 0, 0, 0).kind, X86ExitKind::Interrupt);
    // NMI: Table 24-15 vector 2, type 2, valid.
    EXPECT_EQ(map(reason::EXCEPTION_OR_NMI, 0, 0, 0, encode_event(2, EVENT_NMI, false)).kind, X86ExitKind::Nmi);
    // A #PF exit (type 3) cxvisor's empty exception bitmap never asks for: stops the VM.
    EXPECT_EQ(map(reason::EXCEPTION_OR_NMI, 0, 0, 0, encode_event(14, EVENT_HW_EXCEPTION, true)).kind,
              X86ExitKind::Other);
    EXPECT_EQ(map(reason::TRIPLE_FAULT, 0, 0, 0).kind, X86ExitKind::Shutdown);
    for (u16 r : {reason::ENTRY_FAIL_GUEST_STATE, reason::ENTRY_FAIL_MSR_LOADING, reason::ENTRY_FAIL_MACHINE_CHECK}) {
        const X86Exit x = map(u32(bit(31)) | r, 0, 0, 0);
        EXPECT_EQ(x.kind, X86ExitKind::InvalidState) << r;
        EXPECT_EQ(x.code, r);
    }
    // Reason 33 without bit 31 is Malformed: not an entry failure, and not handled.
    EXPECT_EQ(map(reason::ENTRY_FAIL_GUEST_STATE, 0, 0, 0).kind, X86ExitKind::Other);
}

TEST(VmxX86Exit, GuestVmxInstructionsAreNamedForTheUd) {
    const X86Exit x = map(reason::VMLAUNCH, 0, 3, 0x1000);
    EXPECT_EQ(x.kind, X86ExitKind::NestedVirt);
    EXPECT_STREQ(x.insn, "VMLAUNCH");
    EXPECT_EQ(x.insn_len, 0); // #UD is a fault: RIP stays
    EXPECT_STREQ(map(reason::INVEPT, 0, 5, 0).insn, "INVEPT");
}

// Reason 7 (interrupt-window exiting, 25.2) is the window cxvisor asked for: the shared handler
// returns to the entry, which injects. It is not an instruction: nothing to step over.
TEST(VmxX86Exit, InterruptWindowIsTheWindowTheSharedHandlerWaitsFor) {
    const X86Exit x = map(reason::INTERRUPT_WINDOW, 0, 0, 0x1000);
    EXPECT_EQ(x.kind, X86ExitKind::IrqWindow);
    EXPECT_EQ(x.code, reason::INTERRUPT_WINDOW);
    EXPECT_EQ(x.insn_len, 0);
    // The NMI window (reason 8) is never asked for (no virtual NMIs are injected): stops the VM.
    EXPECT_EQ(map(reason::NMI_WINDOW, 0, 0, 0x1000).kind, X86ExitKind::Other);
}

TEST(VmxX86Exit, ExitsCxvisorNeverAsksForStopTheVm) {
    // EPT misconfiguration, CR access, INIT, SIPI, an NMI window: Other with the reason as code.
    for (u16 r : {reason::EPT_MISCONFIG, reason::CR_ACCESS, reason::INIT_SIGNAL, reason::SIPI,
                  reason::NMI_WINDOW, reason::RDTSC}) {
        const X86Exit x = map(r, 0, 2, 0x1000);
        EXPECT_EQ(x.kind, X86ExitKind::Other) << exit_reason_name(r);
        EXPECT_EQ(x.code, r);
        EXPECT_EQ(x.insn_len, 0);
    }
}

// XSETBV exits unconditionally (25.1.2): the shared handler checks the value against what cxvisor
// offers (xsave.hpp) and steps over it by the VMCS's instruction length, which the exit path reads.
TEST(VmxX86Exit, XsetbvGoesToTheSharedHandlerWithItsLength) {
    const X86Exit x = map(reason::XSETBV, 0, 3, 0x1000);
    EXPECT_EQ(x.kind, X86ExitKind::Xsetbv);
    EXPECT_EQ(x.insn_len, 3);
    EXPECT_EQ(x.code, reason::XSETBV);
    EXPECT_EQ(map(reason::XSETBV, 0, 0, 0x1000).kind, X86ExitKind::Other); // no length: not stepped over
    // The exit path reads the length for it (a read of an unrecorded field would fail here).
    FakeVmcs v{{{VmcsField::EXIT_REASON, reason::XSETBV},
                {VmcsField::IDT_VECTORING_INFO, 0},
                {VmcsField::EXIT_INSTRUCTION_LENGTH, 3}}};
    const X86Exit r = to_x86_exit(decode_exit(read_exit_fields(v, 7, 0, 0)), 0x1000, 0);
    EXPECT_EQ(r.kind, X86ExitKind::Xsetbv);
    EXPECT_EQ(r.insn_len, 3);
}

TEST(VmxX86Exit, CarriesTheQualificationAndCplForTheSharedHandler) {
    // VMCALL from user mode: the shared handler injects #UD for CPL > 0, so the CPL must get there.
    VmxExitFields f;
    f.reason = reason::VMCALL;
    f.instruction_length = 3;
    EXPECT_EQ(to_x86_exit(decode_exit(f), 0x1000, 3).cpl, 3);
    EXPECT_EQ(to_x86_exit(decode_exit(f), 0x1000, 0).cpl, 0);
    // ExitReason::detail of a port access is the raw qualification, as EXITINFO1 is on SVM.
    f.reason = reason::IO_INSTRUCTION;
    f.qualification = 0x0604'0001; // OUT DX, AX to 0x604
    f.instruction_length = 1;
    EXPECT_EQ(to_x86_exit(decode_exit(f), 0x1000, 0).info, 0x0604'0001u);
}
