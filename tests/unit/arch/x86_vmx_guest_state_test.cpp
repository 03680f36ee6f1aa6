// The VMX start state (src/arch/x86_64/vmx/guest_state.hpp) written into a fake VMCS: the values of
// SDM vol. 3A Table 9-1 and of Multiboot's machine state, the guest-state checks of vol. 3C 26.3.1
// that apply to an unrestricted guest in real mode or in 32-bit protected mode without paging, and
// completeness (every guest-state field of the table written exactly once,
// so nothing of a previous guest survives). CR fixed bits: an Intel Core i7-5600U's
// IA32_VMX_CR0/CR4_FIXED0/1 (VirtualBox CPU database, as in x86_vmx_caps_test.cpp).
#include "arch/x86_64/vmx/guest_check.hpp"
#include "arch/x86_64/vmx/guest_state.hpp"
#include <gtest/gtest.h>
#include <map>
#include <string>
#include <vector>

using namespace arch::vmx;

namespace {

VmxMsrs broadwell_cr_fixed() {
    VmxMsrs m;
    m.cr0_fixed0 = 0x8000'0021;
    m.cr0_fixed1 = 0xFFFF'FFFF;
    m.cr4_fixed0 = 0x2000;
    m.cr4_fixed1 = 0x3767FF;
    return m;
}

struct FakeVmcs {
    std::map<VmcsField, u64> values;
    std::map<VmcsField, int> writes;
    void operator()(VmcsField f, u64 v) {
        const u32 bytes = width_bytes(encoding_width(encoding(f)));
        EXPECT_TRUE(bytes == 8 || v >> (8 * bytes) == 0) << vmcs_field_info(encoding(f))->name << " = " << v;
        values[f] = v;
        ++writes[f];
    }
    u64 operator[](VmcsField f) const { return values.at(f); }
};

FakeVmcs started_at(GuestStartPoint p) {
    FakeVmcs v;
    write_start_state(v, broadwell_cr_fixed(), p);
    return v;
}

} // namespace

TEST(VmxGuestState, ResetVectorMatchesTable9_1) {
    const FakeVmcs v = started_at(reset_vector());
    EXPECT_EQ(v[VmcsField::GUEST_CS_SELECTOR], 0xF000u);
    EXPECT_EQ(v[VmcsField::GUEST_CS_BASE], 0xFFFF'0000u);
    EXPECT_EQ(v[VmcsField::GUEST_RIP], 0xFFF0u); // first fetch at FFFFFFF0h
    EXPECT_EQ(v[VmcsField::GUEST_CS_LIMIT], 0xFFFFu);
    EXPECT_EQ(v[VmcsField::GUEST_RFLAGS], 0x2u);
    EXPECT_EQ(v[VmcsField::GUEST_DR7], 0x400u);
    EXPECT_EQ(v[VmcsField::GUEST_IA32_PAT], 0x0007'0406'0007'0406u);
    EXPECT_EQ(v[VmcsField::GUEST_IA32_EFER], 0u);
    EXPECT_EQ(v[VmcsField::GUEST_GDTR_LIMIT], 0xFFFFu);
    EXPECT_EQ(v[VmcsField::GUEST_IDTR_LIMIT], 0xFFFFu);
    // The guest reads CR0 = 60000010h and CR4 = 0 (the read shadows)...
    EXPECT_EQ(v[VmcsField::CR0_READ_SHADOW], 0x6000'0010u);
    EXPECT_EQ(v[VmcsField::CR4_READ_SHADOW], 0u);
    // ... while the CPU runs ET | NE (NE fixed to 1 in VMX operation, CD/NW kept clear) and VMXE.
    EXPECT_EQ(v[VmcsField::GUEST_CR0], 0x30u);
    EXPECT_EQ(v[VmcsField::GUEST_CR4], 0x2000u);
    // Every bit cxvisor owns is masked: NE, CD, NW and the reserved upper half of CR0; VMXE and
    // every bit outside CR4_FIXED1 (0x3767FF) of CR4.
    EXPECT_EQ(v[VmcsField::CR0_GUEST_HOST_MASK], 0xFFFF'FFFF'6000'0020u);
    EXPECT_EQ(v[VmcsField::CR4_GUEST_HOST_MASK], 0xFFFF'FFFF'FFC8'B800u);
}

TEST(VmxGuestState, SipiStartsAtTheVectorsPage) {
    const FakeVmcs v = started_at(sipi_start(0x9A));
    EXPECT_EQ(v[VmcsField::GUEST_CS_SELECTOR], 0x9A00u);
    EXPECT_EQ(v[VmcsField::GUEST_CS_BASE], 0x9'A000u);
    EXPECT_EQ(v[VmcsField::GUEST_RIP], 0u);
}

TEST(VmxGuestState, Flat32StartsLikeMultiboot) {
    const FakeVmcs v = started_at(flat32_start(0x10'0000));
    EXPECT_EQ(v[VmcsField::GUEST_RIP], 0x10'0000u);
    EXPECT_EQ(v[VmcsField::GUEST_CS_SELECTOR], 0x08u);
    EXPECT_EQ(v[VmcsField::GUEST_CS_BASE], 0u);
    EXPECT_EQ(v[VmcsField::GUEST_CS_LIMIT], 0xFFFF'FFFFu);
    EXPECT_EQ(v[VmcsField::GUEST_CS_ACCESS_RIGHTS], 0xC09Bu); // G, D/B, P, S, execute/read accessed
    EXPECT_EQ(v[VmcsField::GUEST_SS_SELECTOR], 0x10u);
    EXPECT_EQ(v[VmcsField::GUEST_DS_ACCESS_RIGHTS], 0xC093u);
    EXPECT_EQ(v[VmcsField::GUEST_GS_LIMIT], 0xFFFF'FFFFu);
    // CR0 = PE | ET | NE for the guest and the CPU alike; paging off.
    EXPECT_EQ(v[VmcsField::CR0_READ_SHADOW], 0x31u);
    EXPECT_EQ(v[VmcsField::GUEST_CR0], 0x31u);
}

namespace {

// The entry controls a start state is entered with on the same CPU: load IA32_PAT and IA32_EFER
// and the CPU's must-be-1 bits (x86_vmx_caps_test.cpp: 0xD1FB), IA-32e mode off.
constexpr u64 ENTRY = 0xD1FB;

const char* check(FakeVmcs v) {
    v.values[VmcsField::ENTRY_CONTROLS] = v.values.count(VmcsField::ENTRY_CONTROLS) ? v[VmcsField::ENTRY_CONTROLS] : ENTRY;
    return check_guest_state([&](VmcsField f) { return v[f]; }, broadwell_cr_fixed());
}

} // namespace

TEST(VmxGuestState, EveryStartPassesTheEntryChecks) {
    for (const GuestStartPoint& p : {reset_vector(), sipi_start(0x9A), flat32_start(0x10'0000)})
        EXPECT_EQ(check(started_at(p)), nullptr) << p.rip << ": " << check(started_at(p));
}

TEST(VmxGuestState, LongModeStateIsCheckedToo) {
    // The flat32 state after the guest's own switch to long mode (as the backend would write it
    // back): IA-32e mode guest, CR0.PG, CR4.PAE, EFER.LME|LMA, CS.L with D/B clear.
    FakeVmcs v = started_at(flat32_start(0x10'0000));
    v.values[VmcsField::ENTRY_CONTROLS] = ENTRY | entry_ctl::IA32E_MODE_GUEST;
    v.values[VmcsField::GUEST_CR0] = 0x8000'0031;
    v.values[VmcsField::GUEST_CR4] = 0x2020;
    v.values[VmcsField::GUEST_IA32_EFER] = 0x500;
    v.values[VmcsField::GUEST_CS_ACCESS_RIGHTS] = 0xA09B;
    v.values[VmcsField::GUEST_RIP] = 0xFFFF'8000'0010'0000;
    EXPECT_EQ(check(v), nullptr) << check(v);
    FakeVmcs both = v;
    both.values[VmcsField::GUEST_CS_ACCESS_RIGHTS] = 0xE09B;
    EXPECT_STREQ(check(both), "CS.L and CS.D/B both set in IA-32e mode");
    FakeVmcs lma = v;
    lma.values[VmcsField::GUEST_IA32_EFER] = 0x100;
    EXPECT_STREQ(check(lma), "IA32_EFER.LMA differs from the IA-32e mode guest control");
    FakeVmcs nopae = v;
    nopae.values[VmcsField::GUEST_CR4] = 0x2000;
    EXPECT_STREQ(check(nopae), "IA-32e mode guest without CR0.PG and CR4.PAE");
    FakeVmcs tss16 = v;
    tss16.values[VmcsField::GUEST_TR_ACCESS_RIGHTS] = 0x83; // a 16-bit busy TSS: not in IA-32e mode
    EXPECT_STREQ(check(tss16), "TR not a busy TSS of the right size");
    // The same high RIP in 32-bit protected mode is refused.
    FakeVmcs rip = started_at(flat32_start(0x10'0000));
    rip.values[VmcsField::GUEST_RIP] = 0x1'0000'0000;
    EXPECT_STREQ(check(rip), "RIP bits 63:32 set outside 64-bit mode");
}

TEST(VmxGuestState, BrokenStatesAreNamed) {
    struct Case {
        VmcsField field;
        u64 value;
        const char* problem;
    };
    const Case cases[] = {
        {VmcsField::GUEST_CR0, 0x10, "CR0 breaks IA32_VMX_CR0_FIXED0/1 (PE and PG exempt with unrestricted guest)"},
        {VmcsField::GUEST_CR0, 0x8000'0030, "CR0.PG set without CR0.PE"},
        {VmcsField::GUEST_CR4, 0, "CR4 breaks IA32_VMX_CR4_FIXED0/1"},
        {VmcsField::GUEST_SS_ACCESS_RIGHTS, 0xF3, "SS.DPL not 0 (real mode, or CS of type 3)"},
        {VmcsField::GUEST_CS_ACCESS_RIGHTS, 0x91, "CS type not 3, 9, 11, 13 or 15"}, // type 1: read-only data
        {VmcsField::GUEST_DS_LIMIT, 0x10'0000, "DS limit disagrees with DS.G"},
        {VmcsField::GUEST_ES_ACCESS_RIGHTS, 0x13, "ES not present"},
        {VmcsField::GUEST_FS_ACCESS_RIGHTS, 0x92, "data segment not an accessed code/data segment"},
        {VmcsField::GUEST_TR_ACCESS_RIGHTS, 0x89, "TR not a busy TSS of the right size"},
        {VmcsField::GUEST_LDTR_ACCESS_RIGHTS, 0x83, "LDTR not an LDT (type 2, S clear)"},
        {VmcsField::GUEST_RFLAGS, 0x0, "RFLAGS reserved bits wrong"},
        {VmcsField::GUEST_RFLAGS, 0x2'0002, "RFLAGS.VM set in IA-32e mode or real mode"},
        {VmcsField::GUEST_IA32_PAT, 0x0007'0406'0007'0402, "IA32_PAT entry with a reserved memory type"},
        {VmcsField::GUEST_IA32_EFER, 0x400, "IA32_EFER.LMA differs from the IA-32e mode guest control"},
        {VmcsField::GUEST_ACTIVITY_STATE, 4, "activity state not 0-3"},
        {VmcsField::GUEST_INTERRUPTIBILITY_STATE, 0x20, "interruptibility state with reserved bits set"},
        {VmcsField::VMCS_LINK_POINTER, 0, "VMCS link pointer not FFFFFFFF_FFFFFFFFh (no shadow VMCS)"},
        {VmcsField::GUEST_DR7, 1ull << 32, "DR7 bits 63:32 not zero"},
    };
    for (const Case& c : cases) {
        FakeVmcs v = started_at(reset_vector());
        v.values[c.field] = c.value;
        const char* got = check(v);
        EXPECT_STREQ(got, c.problem) << vmcs_field_info(encoding(c.field))->name << " = " << c.value;
    }
}

TEST(VmxGuestState, EveryGuestFieldIsWrittenOnce) {
    const FakeVmcs v = started_at(reset_vector());
    for (const VmcsFieldInfo& f : VMCS_FIELDS) {
        if (f.type != VmcsType::Guest) continue;
        const auto it = v.writes.find(f.field);
        EXPECT_TRUE(it != v.writes.end() && it->second == 1) << f.name;
    }
    // Nothing but guest state and its CR masks/shadows.
    for (const auto& [field, n] : v.writes) {
        const VmcsType t = encoding_type(encoding(field));
        const bool cr_control = field == VmcsField::CR0_GUEST_HOST_MASK || field == VmcsField::CR0_READ_SHADOW ||
                                field == VmcsField::CR4_GUEST_HOST_MASK || field == VmcsField::CR4_READ_SHADOW;
        EXPECT_TRUE(t == VmcsType::Guest || cr_control) << vmcs_field_info(encoding(field))->name;
    }
}
