// The VMX start state (src/arch/x86_64/vmx/guest_state.hpp) written into a fake VMCS: the values of
// SDM vol. 3A Table 9-1 and of Multiboot's machine state, the guest-state checks of vol. 3C 26.3.1
// that apply to an unrestricted guest in real mode or in 32-bit protected mode without paging, and
// completeness (every guest-state field of the table written exactly once,
// so nothing of a previous guest survives). CR fixed bits: an Intel Core i7-5600U's
// IA32_VMX_CR0/CR4_FIXED0/1 (VirtualBox CPU database, as in x86_vmx_caps_test.cpp).
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

// The 26.3.1 checks that concern these start states (no IA-32e mode, no virtual-8086 mode,
// "unrestricted guest" on). An empty result: VM entry accepts the state.
std::vector<std::string> entry_check_failures(const FakeVmcs& v, const VmxMsrs& m) {
    std::vector<std::string> out;
    auto fail = [&](const char* what) { out.push_back(what); };
    const u64 cr0 = v[VmcsField::GUEST_CR0];
    // 26.3.1.1: fixed bits (PE/PG exempt), PG only with PE; PAT entries valid memory types.
    if (cr_violations(cr0, cr0_guest_fixed0(m.cr0_fixed0, true), m.cr0_fixed1)) fail("CR0 fixed bits");
    if ((cr0 & CR0_PG) && !(cr0 & CR0_PE)) fail("CR0.PG without PE");
    if (cr_violations(v[VmcsField::GUEST_CR4], m.cr4_fixed0, m.cr4_fixed1)) fail("CR4 fixed bits");
    for (int i = 0; i < 8; ++i) {
        const u64 type = (v[VmcsField::GUEST_IA32_PAT] >> (8 * i)) & 0xFF;
        if (!(type == 0 || type == 1 || type == 4 || type == 5 || type == 6 || type == 7)) fail("PAT entry");
    }
    // 26.3.1.2: CS type 3, 9, 11, 13 or 15 (3 only with unrestricted guest); SS type 3 or 7;
    // in real mode SS.DPL 0, in protected mode SS.DPL = SS.RPL and a non-conforming CS.DPL = SS.DPL;
    // usable data segments accessed and present; limits consistent with G (limit[11:0] all ones
    // if G, limit[31:20] zero if not G); TR a busy TSS with S = 0; LDTR type 2, S = 0.
    const u32 cs = u32(v[VmcsField::GUEST_CS_ACCESS_RIGHTS]), ss = u32(v[VmcsField::GUEST_SS_ACCESS_RIGHTS]);
    const u32 cs_type = ar::type(cs);
    if (!(cs_type == 3 || cs_type == 9 || cs_type == 11 || cs_type == 13 || cs_type == 15)) fail("CS type");
    if (!(ar::type(ss) == 3 || ar::type(ss) == 7)) fail("SS type");
    if (!(cr0 & CR0_PE) && ar::dpl(ss) != 0) fail("SS.DPL in real mode");
    if ((cr0 & CR0_PE) && ar::dpl(ss) != (v[VmcsField::GUEST_SS_SELECTOR] & 3)) fail("SS.DPL != SS.RPL");
    if ((cr0 & CR0_PE) && (cs_type == 9 || cs_type == 11) && ar::dpl(cs) != ar::dpl(ss)) fail("CS.DPL != SS.DPL");
    const VmcsField segs[][2] = {{VmcsField::GUEST_CS_ACCESS_RIGHTS, VmcsField::GUEST_CS_LIMIT},
                                 {VmcsField::GUEST_SS_ACCESS_RIGHTS, VmcsField::GUEST_SS_LIMIT},
                                 {VmcsField::GUEST_DS_ACCESS_RIGHTS, VmcsField::GUEST_DS_LIMIT},
                                 {VmcsField::GUEST_ES_ACCESS_RIGHTS, VmcsField::GUEST_ES_LIMIT},
                                 {VmcsField::GUEST_FS_ACCESS_RIGHTS, VmcsField::GUEST_FS_LIMIT},
                                 {VmcsField::GUEST_GS_ACCESS_RIGHTS, VmcsField::GUEST_GS_LIMIT},
                                 {VmcsField::GUEST_TR_ACCESS_RIGHTS, VmcsField::GUEST_TR_LIMIT},
                                 {VmcsField::GUEST_LDTR_ACCESS_RIGHTS, VmcsField::GUEST_LDTR_LIMIT}};
    for (const auto& [arf, limf] : segs) {
        const u64 a = v[arf], limit = v[limf];
        if (!(a & 0x80)) fail("segment not present");
        if ((a & bit(15)) && (limit & 0xFFF) != 0xFFF) fail("G set with limit[11:0] not all ones");
        if (!(a & bit(15)) && (limit >> 20)) fail("G clear with limit[31:20] not zero");
    }
    for (VmcsField f : {VmcsField::GUEST_DS_ACCESS_RIGHTS, VmcsField::GUEST_ES_ACCESS_RIGHTS,
                        VmcsField::GUEST_FS_ACCESS_RIGHTS, VmcsField::GUEST_GS_ACCESS_RIGHTS,
                        VmcsField::GUEST_SS_ACCESS_RIGHTS})
        if (!(v[f] & 1) || !(v[f] & 0x10)) fail("data segment not accessed or not code/data");
    const u32 tr = u32(v[VmcsField::GUEST_TR_ACCESS_RIGHTS]), ldtr = u32(v[VmcsField::GUEST_LDTR_ACCESS_RIGHTS]);
    if (!(ar::type(tr) == 3 || ar::type(tr) == 11) || (tr & 0x10)) fail("TR");
    if (ar::type(ldtr) != 2 || (ldtr & 0x10)) fail("LDTR");
    // 26.3.1.4/26.3.1.5: RFLAGS bit 1 set, VM (17) clear; active; no shadow VMCS; DR7 bits 63:32 zero.
    const u64 rflags = v[VmcsField::GUEST_RFLAGS];
    if (!(rflags & 2) || (rflags & bit(17))) fail("RFLAGS");
    if (v[VmcsField::GUEST_ACTIVITY_STATE] != 0) fail("activity state");
    if (v[VmcsField::VMCS_LINK_POINTER] != ~u64(0)) fail("VMCS link pointer");
    if (v[VmcsField::GUEST_DR7] >> 32) fail("DR7");
    return out;
}

} // namespace

TEST(VmxGuestState, EveryStartPassesTheEntryChecks) {
    const VmxMsrs m = broadwell_cr_fixed();
    for (const GuestStartPoint& p : {reset_vector(), sipi_start(0x9A), flat32_start(0x10'0000)})
        EXPECT_EQ(entry_check_failures(started_at(p), m), std::vector<std::string>{}) << p.rip;
}

TEST(VmxGuestState, TheChecksCatchABrokenState) {
    // The checks above are not vacuous: a real-mode SS with DPL 3 and a G=1 segment with a short
    // limit are refused, as VM entry would refuse them.
    FakeVmcs v = started_at(reset_vector());
    v.values[VmcsField::GUEST_SS_ACCESS_RIGHTS] = 0xF3;
    v.values[VmcsField::GUEST_DS_ACCESS_RIGHTS] = 0x8093; // G: the limit counts 4 KiB pages
    v.values[VmcsField::GUEST_DS_LIMIT] = 0xF000;
    EXPECT_EQ(entry_check_failures(v, broadwell_cr_fixed()),
              (std::vector<std::string>{"SS.DPL in real mode", "G set with limit[11:0] not all ones"}));
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
