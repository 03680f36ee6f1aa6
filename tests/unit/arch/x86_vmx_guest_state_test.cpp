// The VMX start state (src/arch/x86_64/vmx/guest_state.hpp) written into a fake VMCS: the values of
// SDM vol. 3A Table 9-1, the guest-state checks of vol. 3C 26.3.1 that apply to a real-mode
// unrestricted guest, and completeness (every guest-state field of the table written exactly once,
// so nothing of a previous guest survives). CR fixed bits: an Intel Core i7-5600U's
// IA32_VMX_CR0/CR4_FIXED0/1 (VirtualBox CPU database, as in x86_vmx_caps_test.cpp).
#include "arch/x86_64/vmx/guest_state.hpp"
#include <gtest/gtest.h>
#include <map>

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

TEST(VmxGuestState, PassesTheRealModeUnrestrictedGuestChecks) {
    const VmxMsrs m = broadwell_cr_fixed();
    const FakeVmcs v = started_at(reset_vector());
    // 26.3.1.1: CR0 and CR4 meet the fixed bits (PE/PG exempt with unrestricted guest); PG without
    // PE never; IA32_PAT entries are valid memory types (0, 1, 4, 5, 6, 7).
    EXPECT_EQ(cr_violations(v[VmcsField::GUEST_CR0], cr0_guest_fixed0(m.cr0_fixed0, true), m.cr0_fixed1), 0u);
    EXPECT_EQ(cr_violations(v[VmcsField::GUEST_CR4], m.cr4_fixed0, m.cr4_fixed1), 0u);
    for (int i = 0; i < 8; ++i) {
        const u64 type = (v[VmcsField::GUEST_IA32_PAT] >> (8 * i)) & 0xFF;
        EXPECT_TRUE(type == 0 || type == 1 || type == 4 || type == 5 || type == 6 || type == 7) << i;
    }
    // 26.3.1.2: CS type 3, 9, 11, 13 or 15 with unrestricted guest; SS type 3 or 7 and DPL 0 when
    // CR0.PE = 0; usable data segments accessed (type bit 0); TR a busy TSS (3 or 11), S = 0;
    // LDTR type 2; all present.
    const u32 cs = u32(v[VmcsField::GUEST_CS_ACCESS_RIGHTS]), ss = u32(v[VmcsField::GUEST_SS_ACCESS_RIGHTS]);
    EXPECT_TRUE(ar::type(cs) == 3 || ar::type(cs) == 9 || ar::type(cs) == 11 || ar::type(cs) == 13 || ar::type(cs) == 15);
    EXPECT_TRUE(ar::type(ss) == 3 || ar::type(ss) == 7);
    EXPECT_EQ(ar::dpl(ss), 0u);
    for (VmcsField f : {VmcsField::GUEST_DS_ACCESS_RIGHTS, VmcsField::GUEST_ES_ACCESS_RIGHTS,
                        VmcsField::GUEST_FS_ACCESS_RIGHTS, VmcsField::GUEST_GS_ACCESS_RIGHTS}) {
        EXPECT_EQ(v[f] & 1, 1u);
        EXPECT_EQ(v[f] & 0x80, 0x80u);
    }
    const u32 tr = u32(v[VmcsField::GUEST_TR_ACCESS_RIGHTS]);
    EXPECT_TRUE(ar::type(tr) == 3 || ar::type(tr) == 11);
    EXPECT_EQ(tr & 0x10, 0u);
    EXPECT_EQ(ar::type(u32(v[VmcsField::GUEST_LDTR_ACCESS_RIGHTS])), 2u);
    // 26.3.1.4/26.3.1.5: RFLAGS bit 1 set, VM cleared; active; no shadow VMCS.
    EXPECT_EQ(v[VmcsField::GUEST_RFLAGS] & 2, 2u);
    EXPECT_EQ(v[VmcsField::GUEST_RFLAGS] & bit(17), 0u);
    EXPECT_EQ(v[VmcsField::GUEST_ACTIVITY_STATE], 0u);
    EXPECT_EQ(v[VmcsField::VMCS_LINK_POINTER], ~u64(0));
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
