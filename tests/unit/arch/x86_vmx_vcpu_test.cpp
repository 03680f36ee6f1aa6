// The VMX vCPU (src/arch/x86_64/vmx/vcpu_core.hpp) against a fake CPU: VMCS regions by physical
// address, VMPTRLD/VMCLEAR making one current or clearing it, VMREAD/VMWRITE on the current one, a
// scripted VM entry that writes exit fields as the CPU would (Intel SDM vol. 3C, Order Number
// 326019-067: 24 for the VMCS, 26.2-26.3 for the entry checks, 27 for exits, 30 for the
// instructions). What each test checks is what a VMX CPU would act on: the fields a VM entry
// checks, where RIP goes, the event the entry delivers, what a refused entry reports, which CPU a
// VMCS is active on.
#include "arch/x86_64/vmx/vcpu_core.hpp"
#include "vintc/vlapic.hpp"
#include "x86_vmx_recorded.hpp"
#include <algorithm>
#include <functional>
#include <gtest/gtest.h>
#include <map>
#include <memory>
#include <string>
#include <vector>

using namespace arch;
using namespace arch::vmx;

namespace {

constexpr u64 VMCS_PA = 0x40'0000, EPTP = 0x50'001E;
u64 tr_base_of(u32 cpu) { return 0x20'0000 + cpu * 0x1000; }

struct FakeCpu {
    std::map<u64, std::map<VmcsField, u64>> regions; // VMCS contents by physical address
    std::map<VmcsField, int> writes;                 // VMWRITEs by field, any VMCS
    u64 current = 0;                                 // the current VMCS (0: none)
    u32 cpu = 0;                                     // the CPU the calls run on
    std::vector<std::string> log;                    // VMPTRLD/VMCLEAR/INVEPT/INVVPID/entries, with the CPU
    std::function<EntryStatus(FakeCpu&, u64*, bool)> on_enter;
    int nmis = 0;

    std::map<VmcsField, u64>& vmcs() { return regions[current]; }
    u64 vmread(VmcsField f) {
        EXPECT_NE(current, 0u) << "VMREAD without a current VMCS";
        auto& v = vmcs();
        auto it = v.find(f);
        return it == v.end() ? 0 : it->second;
    }
    void vmwrite(VmcsField f, u64 v) {
        EXPECT_NE(current, 0u) << "VMWRITE without a current VMCS";
        EXPECT_NE(encoding_type(encoding(f)), VmcsType::ExitInfo) << "VMWRITE to a read-only field";
        const u32 bytes = width_bytes(encoding_width(encoding(f)));
        EXPECT_TRUE(bytes == 8 || v >> (8 * bytes) == 0) << vmcs_field_info(encoding(f))->name << " = " << v;
        vmcs()[f] = v;
        ++writes[f];
    }
    bool vmptrld(u64 pa) {
        log.push_back("VMPTRLD cpu" + std::to_string(cpu));
        current = pa;
        return true;
    }
    bool vmclear(u64 pa) {
        log.push_back("VMCLEAR cpu" + std::to_string(cpu));
        if (current == pa) current = 0;
        return true;
    }
    EntryStatus enter(u64* gprs, bool launched) {
        log.push_back(std::string(launched ? "VMRESUME" : "VMLAUNCH") + " cpu" + std::to_string(cpu));
        return on_enter ? on_enter(*this, gprs, launched) : EntryStatus::FailInvalid;
    }
    HostState host_state() {
        HostState h;
        h.cr0 = 0x8005'0033, h.cr3 = 0x10'0000, h.cr4 = 0x2620;
        h.cs = 0x08, h.ss = 0x10, h.ds = 0x10, h.es = 0x10, h.tr = 0x18;
        h.tr_base = tr_base_of(cpu);
        h.gdtr_base = tr_base_of(cpu) + 0x100;
        h.gs_base = tr_base_of(cpu) + 0x200;
        h.idtr_base = 0x30'0000;
        h.efer = 0xD01, h.pat = RESET_PAT, h.rip = 0x20'1234;
        return h;
    }
    void invept(InveptType t, u64 eptp) { log.push_back("INVEPT " + std::to_string(int(t)) + " " + std::to_string(eptp)); }
    void invvpid(InvvpidType t, u16 vpid) { log.push_back("INVVPID " + std::to_string(int(t)) + " " + std::to_string(vpid)); }
    void host_nmi() { ++nmis; }
    // What the CPU writes at a VM exit (27.2, 27.3): the exit fields and the guest state it saves.
    void exit_with(u32 reason, u64 qualification = 0, u32 length = 0, u32 idt_vectoring = 0, u32 idt_error = 0) {
        auto& v = vmcs();
        v[VmcsField::EXIT_REASON] = reason;
        v[VmcsField::EXIT_QUALIFICATION] = qualification;
        v[VmcsField::EXIT_INSTRUCTION_LENGTH] = length;
        v[VmcsField::IDT_VECTORING_INFO] = idt_vectoring;
        v[VmcsField::IDT_VECTORING_ERROR_CODE] = idt_error;
        v[VmcsField::ENTRY_INTERRUPTION_INFO] = 0; // 27.2: the valid bit is cleared at every exit
    }
};

static_assert(VmxHw<FakeCpu>);

VmxSetup broadwell_setup() {
    VmxSetup s;
    s.msrs = broadwell_i7_5600u();
    const char* what = "";
    auto c = vmx_choose_controls(s.msrs, &what);
    EXPECT_TRUE(c.is_ok()) << what;
    s.controls = c.value();
    s.ept = decode_ept_vpid(s.msrs.ept_vpid_cap);
    s.invept = choose_invept(s.ept, &what).value();
    s.vpid = choose_vpid(s.controls.vpid, s.ept);
    s.io_bitmap_a = 0x60'0000, s.io_bitmap_b = 0x60'1000, s.msr_bitmap = 0x60'2000;
    return s;
}

struct Fixture : ::testing::Test {
    VmxSetup setup = broadwell_setup();
    VmxVcpu<FakeCpu> v;
    u64 gprs[16] = {};
    FakeCpu& cpu() { return v.hw(); }
    std::map<VmcsField, u64>& vmcs() { return cpu().regions[VMCS_PA]; }
    void create(u64 entry = 0x10'0000) {
        v.init(&setup, VMCS_PA, 3);
        v.reset(flat32_start(entry));
        v.set_eptp(EPTP);
        ASSERT_TRUE(v.load(0).is_ok());
    }
    // One entry that exits with `reason` at the guest's current RIP.
    VmxRunResult exit_once(u32 reason, u64 qualification = 0, u32 length = 0, u32 idt = 0, u32 idt_error = 0) {
        cpu().on_enter = [=](FakeCpu& c, u64*, bool) {
            c.exit_with(reason, qualification, length, idt, idt_error);
            return EntryStatus::Exited;
        };
        return v.run(gprs, false, false);
    }
};
using VmxVcpuTest = Fixture;

} // namespace

// 26.2-26.3: every control, host-state and guest-state field a VM entry checks is written at
// creation, the guest state passes check_guest_state, and the values are the ones the rules need.
TEST_F(VmxVcpuTest, CreationWritesEveryFieldVmEntryChecks) {
    create();
    // Fields a VM entry reads only under controls cxvisor leaves off (24.6.8 APIC pages without TPR
    // shadow / APIC virtualization, MSR-list addresses with counts of 0, 26.2.1.2) or only with an
    // event being injected (26.2.1.3): every other control, guest and host field of the table is set.
    const std::vector<VmcsField> unused = {
        VmcsField::VIRTUAL_APIC_PAGE_ADDR, VmcsField::APIC_ACCESS_ADDR,        VmcsField::EXIT_MSR_STORE_ADDR,
        VmcsField::EXIT_MSR_LOAD_ADDR,     VmcsField::ENTRY_MSR_LOAD_ADDR,     VmcsField::TPR_THRESHOLD,
        VmcsField::ENTRY_EXCEPTION_ERROR_CODE, VmcsField::ENTRY_INSTRUCTION_LENGTH,
        VmcsField::HOST_RSP}; // HOST_RSP: the entry code writes its own stack at every entry (vmx_entry.S)
    for (const VmcsFieldInfo& f : VMCS_FIELDS) {
        if (f.type == VmcsType::ExitInfo) continue;
        if (std::find(unused.begin(), unused.end(), f.field) != unused.end()) continue;
        EXPECT_TRUE(vmcs().count(f.field)) << f.name << " not written at creation";
    }
    EXPECT_EQ(check_guest_state([&](VmcsField f) { return cpu().vmread(f); }, setup.msrs), nullptr);

    // Controls: what vmx_choose_controls decided, interrupt-window exiting off until a window is
    // wanted, no exception exits, the bitmaps and the EPTP, the VM's VPID (26.2.1.1: non-zero).
    EXPECT_EQ(vmcs()[VmcsField::PIN_BASED_CONTROLS], setup.controls.pin);
    EXPECT_EQ(vmcs()[VmcsField::PROC_BASED_CONTROLS], setup.controls.proc & ~proc::INTERRUPT_WINDOW_EXITING);
    EXPECT_TRUE(vmcs()[VmcsField::PROC_BASED_CONTROLS] & proc::HLT_EXITING);
    EXPECT_TRUE(vmcs()[VmcsField::PROC_BASED_CONTROLS] & proc::USE_IO_BITMAPS);
    EXPECT_TRUE(vmcs()[VmcsField::SECONDARY_PROC_BASED_CONTROLS] & proc2::ENABLE_EPT);
    EXPECT_TRUE(vmcs()[VmcsField::SECONDARY_PROC_BASED_CONTROLS] & proc2::UNRESTRICTED_GUEST);
    EXPECT_EQ(vmcs()[VmcsField::ENTRY_CONTROLS] & entry_ctl::IA32E_MODE_GUEST, 0u); // starts in 32-bit mode
    EXPECT_EQ(vmcs()[VmcsField::EXCEPTION_BITMAP], 0u);
    EXPECT_EQ(vmcs()[VmcsField::EPT_POINTER], EPTP);
    EXPECT_EQ(vmcs()[VmcsField::IO_BITMAP_A], 0x60'0000u);
    EXPECT_EQ(vmcs()[VmcsField::IO_BITMAP_B], 0x60'1000u);
    EXPECT_EQ(vmcs()[VmcsField::MSR_BITMAP], 0x60'2000u);
    ASSERT_TRUE(setup.controls.vpid);
    EXPECT_EQ(vmcs()[VmcsField::VPID], 3u);
    EXPECT_EQ(vmcs()[VmcsField::VMCS_LINK_POINTER], ~u64(0));
    // Host state (26.2.3): selectors with RPL/TI 0, CS and TR not 0, this CPU's TR/GDTR/GS bases,
    // the exit path as RIP.
    for (VmcsField f : {VmcsField::HOST_CS_SELECTOR, VmcsField::HOST_SS_SELECTOR, VmcsField::HOST_DS_SELECTOR,
                        VmcsField::HOST_ES_SELECTOR, VmcsField::HOST_FS_SELECTOR, VmcsField::HOST_GS_SELECTOR,
                        VmcsField::HOST_TR_SELECTOR})
        EXPECT_EQ(vmcs()[f] & 7, 0u);
    EXPECT_NE(vmcs()[VmcsField::HOST_CS_SELECTOR], 0u);
    EXPECT_NE(vmcs()[VmcsField::HOST_TR_SELECTOR], 0u);
    EXPECT_EQ(vmcs()[VmcsField::HOST_TR_BASE], tr_base_of(0));
    EXPECT_EQ(vmcs()[VmcsField::HOST_RIP], 0x20'1234u);
    // The guest starts where the boot protocol says (32-bit flat, paging off).
    EXPECT_EQ(vmcs()[VmcsField::GUEST_RIP], 0x10'0000u);
    EXPECT_EQ(vmcs()[VmcsField::CR0_READ_SHADOW], 0x31u);
}

// A broken guest state is found by the same check: the test cannot pass on a VMCS it never reads.
TEST_F(VmxVcpuTest, CreationCheckNoticesABrokenField) {
    create();
    vmcs()[VmcsField::GUEST_TR_ACCESS_RIGHTS] = 0x89; // an available (not busy) TSS
    EXPECT_STREQ(check_guest_state([&](VmcsField f) { return cpu().vmread(f); }, setup.msrs),
                 "TR not a busy TSS of the right size");
}

// 27.2.5: the exit's instruction length, not a guess, moves RIP; blocking by STI/MOV SS ends with it.
TEST_F(VmxVcpuTest, RipAdvancesByTheExitInstructionLength) {
    create(0x1000);
    gprs[0] = 0x4000'0000; // CPUID leaf
    vmcs()[VmcsField::GUEST_INTERRUPTIBILITY_STATE] = 1; // STI just executed
    const VmxRunResult r = exit_once(reason::CPUID, 0, 2);
    ASSERT_FALSE(r.failed);
    EXPECT_EQ(r.exit.kind, X86ExitKind::Cpuid);
    EXPECT_EQ(r.exit.insn_len, 2);
    v.skip(r.exit.insn_len);
    EXPECT_EQ(vmcs()[VmcsField::GUEST_RIP], 0x1002u);
    EXPECT_EQ(vmcs()[VmcsField::GUEST_INTERRUPTIBILITY_STATE], 0u);
    // OUT DX, AL (1 byte) at 0x1002: the shared handler's next RIP is RIP + 1.
    const VmxRunResult io = exit_once(reason::IO_INSTRUCTION, 0x03F8'0000, 1);
    ASSERT_EQ(io.exit.kind, X86ExitKind::Io);
    EXPECT_EQ(io.exit.next_rip, 0x1003u);
    // VMCALL (0F 01 C1): 3 bytes.
    const VmxRunResult call = exit_once(reason::VMCALL, 0, 3);
    ASSERT_EQ(call.exit.kind, X86ExitKind::Hypercall);
    v.skip(call.exit.insn_len);
    EXPECT_EQ(vmcs()[VmcsField::GUEST_RIP], 0x1005u);
    // The guest's RSP comes back from the VMCS.
    EXPECT_EQ(cpu().log.back(), "VMRESUME cpu0");
}

// 24.8.3 Table 24-13 / 26.5.1: the VM-entry interruption information the next entry delivers.
// XSETBV exits unconditionally (SDM vol. 3C 25.1.2): the shared handler (vcpu.cpp handle_xsetbv)
// gets it with its length and the guest's CPL (SS.DPL) for the #GP at CPL > 0, and reads the
// guest's CR4.OSXSAVE through cr4() (the guest owns the bit: the real GUEST_CR4 field).
TEST_F(VmxVcpuTest, XsetbvExitCarriesLengthCplAndTheGuestsCr4) {
    create(0x1000);
    vmcs()[VmcsField::GUEST_CR4] |= u64(1) << 18; // the guest set CR4.OSXSAVE
    const VmxRunResult r = exit_once(reason::XSETBV, 0, 3);
    ASSERT_FALSE(r.failed);
    EXPECT_EQ(r.exit.kind, X86ExitKind::Xsetbv);
    EXPECT_EQ(r.exit.insn_len, 3);
    EXPECT_EQ(r.exit.cpl, 0);
    EXPECT_TRUE(v.cr4() & (u64(1) << 18));
    v.skip(r.exit.insn_len);
    EXPECT_EQ(vmcs()[VmcsField::GUEST_RIP], 0x1003u);
    vmcs()[VmcsField::GUEST_SS_ACCESS_RIGHTS] |= 3u << 5; // DPL 3: user mode
    EXPECT_EQ(exit_once(reason::XSETBV, 0, 3).exit.cpl, 3);
}

TEST_F(VmxVcpuTest, InjectionEncodesTheEntryInterruptionInformation) {
    create();
    u32 seen_info = 0, seen_error = ~0u;
    cpu().on_enter = [&](FakeCpu& c, u64*, bool) {
        seen_info = u32(c.vmread(VmcsField::ENTRY_INTERRUPTION_INFO));
        seen_error = u32(c.vmread(VmcsField::ENTRY_EXCEPTION_ERROR_CODE));
        c.exit_with(reason::HLT, 0, 1);
        return EntryStatus::Exited;
    };
    // #GP(0) in protected mode: vector 13, type 3 (hardware exception), deliver error code, valid.
    v.inject_exception(13, true, 0);
    ASSERT_FALSE(v.run(gprs, false, false).failed);
    EXPECT_EQ(seen_info, 0x8000'0B0Du);
    EXPECT_EQ(seen_error, 0u);
    // #UD: no error code.
    v.inject_exception(6, false, 0);
    v.run(gprs, false, false);
    EXPECT_EQ(seen_info, 0x8000'0306u);
    // Nothing pending: the exit cleared the field and nothing is written again.
    v.run(gprs, false, false);
    EXPECT_EQ(seen_info, 0u);
    // #GP in real mode (unrestricted guest, CR0.PE clear): no error code may be delivered (26.2.1.3).
    vmcs()[VmcsField::GUEST_CR0] &= ~CR0_PE;
    v.inject_exception(13, true, 0);
    v.run(gprs, false, false);
    EXPECT_EQ(seen_info, 0x8000'030Du);
}

// 27.2.3: an event cut short by the exit (a #PF whose delivery hit an EPT violation) is delivered
// again at the next entry; a software interrupt keeps its instruction length (26.5.1.1).
TEST_F(VmxVcpuTest, InterruptedDeliveryIsInjectedAgain) {
    create();
    const VmxRunResult r = exit_once(reason::EPT_VIOLATION, 0x181, 0, 0x8000'0B0E, 0x2);
    ASSERT_FALSE(r.failed);
    EXPECT_EQ(r.exit.kind, X86ExitKind::Npf);
    u32 info = 0, error = 0;
    cpu().on_enter = [&](FakeCpu& c, u64*, bool) {
        info = u32(c.vmread(VmcsField::ENTRY_INTERRUPTION_INFO));
        error = u32(c.vmread(VmcsField::ENTRY_EXCEPTION_ERROR_CODE));
        c.exit_with(reason::EPT_VIOLATION, 0x181, 0, 0x8000'0480); // INT 80h (type 4) cut short
        c.vmcs()[VmcsField::EXIT_INSTRUCTION_LENGTH] = 2;
        return EntryStatus::Exited;
    };
    v.run(gprs, false, false);
    EXPECT_EQ(info, 0x8000'0B0Eu);
    EXPECT_EQ(error, 2u);
    cpu().on_enter = [&](FakeCpu& c, u64*, bool) {
        info = u32(c.vmread(VmcsField::ENTRY_INTERRUPTION_INFO));
        error = u32(c.vmread(VmcsField::ENTRY_INSTRUCTION_LENGTH));
        c.exit_with(reason::HLT, 0, 1);
        return EntryStatus::Exited;
    };
    v.run(gprs, false, false);
    EXPECT_EQ(info, 0x8000'0480u);
    EXPECT_EQ(error, 2u);
}

// 30.2/30.4: a refused VMLAUNCH is a message and a stopped VM, with the VM-instruction error read.
TEST_F(VmxVcpuTest, VmfailIsReportedNotRun) {
    create();
    cpu().on_enter = [](FakeCpu& c, u64*, bool) {
        c.vmcs()[VmcsField::VM_INSTRUCTION_ERROR] = 7;
        return EntryStatus::FailValid;
    };
    VmxRunResult r = v.run(gprs, false, false);
    ASSERT_TRUE(r.failed);
    EXPECT_EQ(r.detail, 7u);
    EXPECT_NE(std::string(r.message).find("error 7, invalid control field(s)"), std::string::npos) << r.message;
    EXPECT_FALSE(v.launched()); // never launched: a retry after a fix would be VMLAUNCH again
    cpu().on_enter = [](FakeCpu& c, u64*, bool) {
        c.vmcs()[VmcsField::VM_INSTRUCTION_ERROR] = 8;
        return EntryStatus::FailValid;
    };
    r = v.run(gprs, false, false);
    EXPECT_NE(std::string(r.message).find("host-state"), std::string::npos) << r.message;
    cpu().on_enter = [](FakeCpu&, u64*, bool) { return EntryStatus::FailInvalid; };
    r = v.run(gprs, false, false);
    ASSERT_TRUE(r.failed);
    EXPECT_NE(std::string(r.message).find("VMfailInvalid"), std::string::npos) << r.message;
}

// Exit reason 33 (invalid guest state) names the rule the state breaks.
TEST_F(VmxVcpuTest, InvalidGuestStateNamesTheRule) {
    create();
    cpu().on_enter = [](FakeCpu& c, u64*, bool) {
        c.vmcs()[VmcsField::GUEST_RFLAGS] = 0; // bit 1 must be 1
        c.exit_with(0x8000'0000u | reason::ENTRY_FAIL_GUEST_STATE);
        return EntryStatus::Exited;
    };
    const VmxRunResult r = v.run(gprs, false, false);
    ASSERT_TRUE(r.failed);
    EXPECT_STREQ(r.message, "RFLAGS reserved bits wrong");
    EXPECT_EQ(r.detail, reason::ENTRY_FAIL_GUEST_STATE);
}

// A vCPU that never got its VMCS loaded does not enter.
TEST(VmxVcpu, RunWithoutLoadFails) {
    VmxSetup s = broadwell_setup();
    VmxVcpu<FakeCpu> v;
    v.init(&s, VMCS_PA, 1);
    u64 gprs[16] = {};
    const VmxRunResult r = v.run(gprs, false, false);
    EXPECT_TRUE(r.failed);
    EXPECT_TRUE(v.hw().log.empty());
}

// 24.11.1/24.11.3: put() clears the VMCS on the CPU it ran on; load() on another CPU makes it
// current there, rewrites the per-CPU host state and the next entry is VMLAUNCH; the same CPU again
// needs no host-state writes. Translations: INVEPT when asked, INVVPID on the new CPU.
TEST_F(VmxVcpuTest, MigrationClearsOnTheOldCpuAndReloadsOnTheNew) {
    create();
    cpu().on_enter = [](FakeCpu& c, u64*, bool) {
        c.exit_with(reason::HLT, 0, 1);
        return EntryStatus::Exited;
    };
    v.run(gprs, false, false);
    v.run(gprs, false, false);
    EXPECT_TRUE(v.launched());
    v.put();
    EXPECT_EQ(cpu().current, 0u);
    EXPECT_FALSE(v.launched());
    const int host_writes = cpu().writes[VmcsField::HOST_TR_BASE];
    cpu().cpu = 1;
    cpu().log.clear();
    ASSERT_TRUE(v.load(1).is_ok());
    EXPECT_EQ(vmcs()[VmcsField::HOST_TR_BASE], tr_base_of(1));
    EXPECT_EQ(vmcs()[VmcsField::HOST_GDTR_BASE], tr_base_of(1) + 0x100);
    EXPECT_EQ(vmcs()[VmcsField::HOST_GS_BASE], tr_base_of(1) + 0x200);
    EXPECT_EQ(cpu().writes[VmcsField::HOST_TR_BASE], host_writes + 1);
    v.run(gprs, true, false);
    const std::vector<std::string> want = {"VMPTRLD cpu1", "INVEPT 1 " + std::to_string(EPTP), "INVVPID 1 3",
                                           "VMLAUNCH cpu1"};
    EXPECT_EQ(cpu().log, want);
    // The guest state survived the move (it lives in the region, not in the CPU).
    EXPECT_EQ(vmcs()[VmcsField::CR0_READ_SHADOW], 0x31u);
    // Put and loaded again on the same CPU: VMCLEAR and VMPTRLD, no host-state rewrite, no INVVPID.
    v.put();
    cpu().log.clear();
    ASSERT_TRUE(v.load(1).is_ok());
    EXPECT_EQ(cpu().writes[VmcsField::HOST_TR_BASE], host_writes + 1);
    v.run(gprs, false, false);
    const std::vector<std::string> again = {"VMPTRLD cpu1", "VMLAUNCH cpu1"};
    EXPECT_EQ(cpu().log, again);
}

// MOV to CR0 that clears NE (owned by VMX, A.7): the guest reads back what it wrote, the real CR0
// keeps NE, RIP moves past the 3-byte MOV, and nothing reaches the shared handler.
TEST_F(VmxVcpuTest, Cr0WriteOfAnOwnedBitIsShadowed) {
    create(0x2000);
    gprs[3] = 0x8000'0011; // RBX: PG | ET | PE, NE clear
    // Table 27-3: CR 0, type 0 (MOV to CR), register 3.
    const VmxRunResult r = exit_once(reason::CR_ACCESS, 0x300, 3);
    ASSERT_FALSE(r.failed);
    EXPECT_TRUE(r.handled);
    EXPECT_EQ(vmcs()[VmcsField::CR0_READ_SHADOW], 0x8000'0011u);
    EXPECT_EQ(vmcs()[VmcsField::GUEST_CR0], 0x8000'0031u);
    EXPECT_EQ(vmcs()[VmcsField::GUEST_RIP], 0x2003u);
    // LMSW (type 3) is not emulated: the shared level stops the VM with the reason.
    const VmxRunResult l = exit_once(reason::CR_ACCESS, 0x30, 4);
    EXPECT_FALSE(l.handled);
    EXPECT_EQ(l.exit.kind, X86ExitKind::Other);
    EXPECT_EQ(l.exit.code, reason::CR_ACCESS);
}

// The guest turning long mode on (EFER.LMA saved at the exit) sets "IA-32e mode guest" for the
// next entry (26.3.1.1).
TEST_F(VmxVcpuTest, LongModeFollowsTheSavedEfer) {
    create();
    exit_once(reason::HLT, 0, 1);
    vmcs()[VmcsField::GUEST_IA32_EFER] = 0x500; // LME | LMA
    exit_once(reason::HLT, 0, 1);
    EXPECT_TRUE(vmcs()[VmcsField::ENTRY_CONTROLS] & entry_ctl::IA32E_MODE_GUEST);
    // An emulated WRMSR keeps LMA the CPU's.
    v.set_efer(0x100);
    EXPECT_EQ(vmcs()[VmcsField::GUEST_IA32_EFER], 0x500u);
}

// --- Interrupts from the vLAPIC (vintc/vlapic.hpp, the same model the image gives a VMX VM) ---
// 24.8.3 Table 24-13 / 26.5.1: an external interrupt goes in through the VM-entry interruption
// information only when the guest can take it; 24.6.2 / 25.2: otherwise interrupt-window exiting
// asks for the exit that says it can. The fake CPU checks at every entry what a VMX CPU checks
// there (26.3.1.4: RFLAGS.IF = 1, 26.3.1.5: no blocking by STI / MOV SS, for an injected external
// interrupt) and records the event and the window control it entered with.
namespace {

constexpr u64 IF = bit(9);
constexpr u64 APIC_SVR = 0xF0, APIC_TPR = 0x80, APIC_ISR = 0x100, APIC_IRR = 0x200;
constexpr u8 COM1_VECTOR = 0x24; // GSI 4 at the vLAPIC's fixed vector 0x20 + GSI

struct Entry {
    u32 info = 0;      // VM-entry interruption information
    bool window = false; // interrupt-window exiting
    u64 activity = 0;  // guest activity state
};

struct IrqFixture : Fixture {
    std::unique_ptr<vlapic::Vlapic> apic;
    ModelIrq<vlapic::Vlapic> irq{nullptr, 0};
    std::vector<Entry> entries;
    u32 exit_reason = reason::HLT, exit_length = 1, exit_idt = 0, exit_idt_error = 0;

    void SetUp() override {
        create(0x1000);
        vlapic::VlapicConfig c;
        c.vcpu_count = 1;
        c.lines = 4;
        c.host_hz = 1'000'000'000;
        auto r = vlapic::Vlapic::create(c);
        ASSERT_TRUE(r.is_ok());
        apic.reset(r.value());
        irq = {apic.get(), 0};
        ASSERT_TRUE(apic->mmio_write(0, APIC_SVR, 4, 0x1FF, 0).is_ok()); // software-enabled
        cpu().on_enter = [this](FakeCpu& c, u64*, bool) {
            Entry e;
            e.info = u32(c.vmread(VmcsField::ENTRY_INTERRUPTION_INFO));
            e.window = c.vmread(VmcsField::PROC_BASED_CONTROLS) & proc::INTERRUPT_WINDOW_EXITING;
            e.activity = c.vmread(VmcsField::GUEST_ACTIVITY_STATE);
            if ((e.info & EVENT_VALID) && ((e.info >> 8) & 7) == EVENT_EXTERNAL) {
                EXPECT_TRUE(c.vmread(VmcsField::GUEST_RFLAGS) & IF) << "26.3.1.4: external interrupt with IF = 0";
                EXPECT_EQ(c.vmread(VmcsField::GUEST_INTERRUPTIBILITY_STATE) & 3, 0u)
                    << "26.3.1.5: external interrupt with blocking by STI / MOV SS";
            }
            entries.push_back(e);
            c.exit_with(exit_reason, 0, exit_length, exit_idt, exit_idt_error);
            return EntryStatus::Exited;
        };
    }
    void set_if(bool on) { vmcs()[VmcsField::GUEST_RFLAGS] = 2 | (on ? IF : 0); }
    VmxRunResult run_once() { return v.run(gprs, false, false, irq); }
    bool apic_bit(u64 reg, u8 vector) {
        auto r = apic->mmio_read(0, reg + 16 * (vector / 32), 4, 0);
        EXPECT_TRUE(r.is_ok());
        return r.is_ok() && ((r.value() >> (vector % 32)) & 1);
    }
    bool window_control() { return vmcs()[VmcsField::PROC_BASED_CONTROLS] & proc::INTERRUPT_WINDOW_EXITING; }
};
using VmxVcpuIrq = IrqFixture;

} // namespace

TEST_F(VmxVcpuIrq, DeliverableInterruptWithIfSetIsInjected) {
    set_if(true);
    ASSERT_TRUE(apic->raise(4).is_ok());
    ASSERT_EQ(apic->deliverable(0), COM1_VECTOR);
    ASSERT_FALSE(run_once().failed);
    ASSERT_EQ(entries.size(), 1u);
    // Vector 0x24, type 0 (external interrupt), no error code, valid.
    EXPECT_EQ(entries[0].info, 0x8000'0024u);
    EXPECT_FALSE(entries[0].window);
    // Acknowledged: in service at the APIC, no longer requested or deliverable.
    EXPECT_TRUE(apic_bit(APIC_ISR, COM1_VECTOR));
    EXPECT_FALSE(apic_bit(APIC_IRR, COM1_VECTOR));
    EXPECT_EQ(apic->deliverable(0), 0);
    // Nothing pending: the next entry delivers nothing (the exit cleared the valid bit, 27.2).
    run_once();
    EXPECT_EQ(entries[1].info, 0u);
}

TEST_F(VmxVcpuIrq, IfClearAsksForTheWindowAndTheWindowExitInjects) {
    set_if(false); // cli
    ASSERT_TRUE(apic->raise(4).is_ok());
    exit_reason = reason::INTERRUPT_WINDOW, exit_length = 0;
    const VmxRunResult r = run_once();
    ASSERT_FALSE(r.failed);
    EXPECT_EQ(entries[0].info, 0u); // not injected
    EXPECT_TRUE(entries[0].window); // the window is asked for
    EXPECT_TRUE(apic_bit(APIC_IRR, COM1_VECTOR));
    EXPECT_FALSE(apic_bit(APIC_ISR, COM1_VECTOR));
    // The guest's sti opened the window: the exit the shared handler returns Nothing for.
    EXPECT_EQ(r.exit.kind, X86ExitKind::IrqWindow);
    set_if(true);
    exit_reason = reason::HLT, exit_length = 1;
    run_once();
    EXPECT_EQ(entries[1].info, 0x8000'0024u);
    EXPECT_FALSE(entries[1].window); // withdrawn with the injection
    EXPECT_TRUE(apic_bit(APIC_ISR, COM1_VECTOR));
}

TEST_F(VmxVcpuIrq, StiOrMovSsBlockingAsksForTheWindow) {
    set_if(true);
    ASSERT_TRUE(apic->raise(4).is_ok());
    for (u64 blocking : {BLOCKING_BY_STI, BLOCKING_BY_MOV_SS}) {
        vmcs()[VmcsField::GUEST_INTERRUPTIBILITY_STATE] = blocking; // the instruction after sti / mov ss
        run_once();
        EXPECT_EQ(entries.back().info, 0u) << blocking;
        EXPECT_TRUE(entries.back().window) << blocking;
        EXPECT_TRUE(apic_bit(APIC_IRR, COM1_VECTOR)) << blocking;
    }
    // The shadow is over (the CPU clears it after one instruction): injected.
    vmcs()[VmcsField::GUEST_INTERRUPTIBILITY_STATE] = 0;
    run_once();
    EXPECT_EQ(entries.back().info, 0x8000'0024u);
    EXPECT_FALSE(entries.back().window);
}

// The window control is set only while an interrupt waits: left on, every instruction with IF = 1
// would exit.
TEST_F(VmxVcpuIrq, WindowIsWithdrawnWhenNothingWaits) {
    set_if(false);
    ASSERT_TRUE(apic->raise(4).is_ok());
    run_once();
    EXPECT_TRUE(entries[0].window);
    // The guest raises its TPR above the vector's class (SDM vol. 3A 11.8.3): nothing deliverable.
    ASSERT_TRUE(apic->mmio_write(0, APIC_TPR, 4, 0xF0, 0).is_ok());
    ASSERT_EQ(apic->deliverable(0), 0);
    run_once();
    EXPECT_FALSE(entries[1].window);
    EXPECT_FALSE(window_control());
    EXPECT_EQ(entries[1].info, 0u);
    EXPECT_TRUE(apic_bit(APIC_IRR, COM1_VECTOR)); // still requested, for when the TPR drops
}

// 27.2.3: an event whose delivery the exit cut short goes in first; the interrupt waits for the
// window, and is not taken from the APIC until then.
TEST_F(VmxVcpuIrq, ReinjectedEventHasPriority) {
    set_if(true);
    // A #PF (vector 14, hardware exception, error code 2) cut short by an EPT violation.
    exit_reason = reason::EPT_VIOLATION, exit_length = 0, exit_idt = 0x8000'0B0E, exit_idt_error = 2;
    ASSERT_EQ(run_once().exit.kind, X86ExitKind::Npf);
    ASSERT_TRUE(apic->raise(4).is_ok());
    exit_reason = reason::INTERRUPT_WINDOW, exit_idt = 0, exit_idt_error = 0;
    run_once();
    EXPECT_EQ(entries[1].info, 0x8000'0B0Eu);
    EXPECT_TRUE(entries[1].window);
    EXPECT_TRUE(apic_bit(APIC_IRR, COM1_VECTOR));
    EXPECT_FALSE(apic_bit(APIC_ISR, COM1_VECTOR));
    // An exception cxvisor injects has priority the same way.
    exit_reason = reason::HLT, exit_length = 1;
    v.inject_exception(13, true, 0);
    run_once();
    EXPECT_EQ(entries[2].info, 0x8000'0B0Du);
    EXPECT_TRUE(entries[2].window);
    // The window exit (the #GP handler's iret set IF again): now the interrupt.
    run_once();
    EXPECT_EQ(entries[3].info, 0x8000'0024u);
    EXPECT_FALSE(entries[3].window);
}

// HLT with IF = 0 (cli; hlt): an interrupt does not end it (SDM vol. 2A "HLT"), so the vCPU is not
// entered at all; the guest's activity state stays active and the interrupt stays requested.
TEST_F(VmxVcpuIrq, HaltedVcpuWithIfClearStaysHalted) {
    set_if(false);
    const VmxRunResult h = run_once();
    ASSERT_EQ(h.exit.kind, X86ExitKind::Hlt);
    v.skip(h.exit.insn_len);
    v.halt();
    ASSERT_TRUE(apic->raise(4).is_ok());
    EXPECT_FALSE(v.interrupt_pending(irq));
    const usize log_before = cpu().log.size();
    for (int i = 0; i < 3; ++i) {
        const VmxRunResult r = run_once();
        EXPECT_TRUE(r.halted);
        EXPECT_FALSE(r.failed);
    }
    EXPECT_EQ(cpu().log.size(), log_before); // no entry, no flush
    EXPECT_EQ(entries.size(), 1u);
    EXPECT_TRUE(v.halted());
    EXPECT_TRUE(apic_bit(APIC_IRR, COM1_VECTOR));
    EXPECT_EQ(vmcs()[VmcsField::GUEST_ACTIVITY_STATE], 0u);
    EXPECT_EQ(vmcs()[VmcsField::GUEST_RIP], 0x1001u);
    // After put() (the VMCS not current: the fake fails a VMREAD then) the answer is the same.
    v.put();
    EXPECT_FALSE(v.interrupt_pending(irq));
}

// HLT with IF = 1 (sti; hlt): halted until the interrupt comes, then entered with it injected, at
// the instruction after the HLT, activity state active. An INVEPT asked for while halted is owed
// to that entry.
TEST_F(VmxVcpuIrq, HaltedVcpuWithIfSetWakesWithTheInterrupt) {
    set_if(true);
    vmcs()[VmcsField::GUEST_INTERRUPTIBILITY_STATE] = BLOCKING_BY_STI; // sti; hlt: hlt is in the shadow
    const VmxRunResult h = run_once();
    ASSERT_EQ(h.exit.kind, X86ExitKind::Hlt);
    v.skip(h.exit.insn_len);
    v.halt();
    EXPECT_EQ(vmcs()[VmcsField::GUEST_INTERRUPTIBILITY_STATE], 0u);
    EXPECT_TRUE(v.run(gprs, true, false, irq).halted); // nothing pending yet
    v.put();
    ASSERT_TRUE(apic->raise(4).is_ok());
    EXPECT_TRUE(v.interrupt_pending(irq)); // after put(): the generic level's wake-up test
    ASSERT_TRUE(v.load(0).is_ok());
    cpu().log.clear();
    const VmxRunResult r = run_once();
    EXPECT_FALSE(r.halted);
    EXPECT_FALSE(v.halted());
    ASSERT_EQ(entries.size(), 2u);
    EXPECT_EQ(entries[1].info, 0x8000'0024u);
    EXPECT_EQ(entries[1].activity, 0u);
    EXPECT_EQ(cpu().log.front(), "INVEPT 1 " + std::to_string(EPTP));
    EXPECT_EQ(cpu().log.back(), "VMLAUNCH cpu0");
}

// A vCPU started again (reset: a SIPI start or a new life of the VM) is not halted.
TEST_F(VmxVcpuIrq, ResetEndsTheHalt) {
    set_if(false);
    run_once();
    v.halt();
    ASSERT_TRUE(run_once().halted);
    v.put();
    v.reset(sipi_start(0x8));
    ASSERT_TRUE(v.load(0).is_ok());
    EXPECT_FALSE(v.halted());
    EXPECT_FALSE(run_once().halted);
    EXPECT_EQ(entries.size(), 2u);
    EXPECT_EQ(vmcs()[VmcsField::GUEST_CS_BASE], 0x8000u);
}
