// Why VM entry would refuse a guest state: a VM entry that fails its guest-state checks exits with
// basic reason 33 and bit 31 (vmx/exit.hpp EntryFailGuestState) and says nothing about which check
// failed. check_guest_state runs the checks of Intel SDM vol. 3C, Order Number 326019-067, 26.3.1
// "Checks on the Guest State Area" that cxvisor's states can break (with "unrestricted guest", no
// virtual-8086 mode, no shadow VMCS) over the current VMCS, so the backend can name the rule in
// its message (and a test can check a state before any VM entry). A subset, and says so: checks
// that need the CPU's MAXPHYADDR or the MSR-load area are not made; a state it passes may still be
// refused, with reason 33 alone. Pure: fields come through vmread(VmcsField) -> u64 (VMREAD in the
// backend, a fake VMCS in tests/unit/arch/x86_vmx_guest_state_test.cpp).
#pragma once
#include "caps.hpp"
#include "guest_state.hpp"
#include "vmcs.hpp"

namespace arch::vmx {

// The first failed check's description (as the SDM words the rule), or nullptr.
template <typename Vmread> const char* check_guest_state(Vmread&& r, const VmxMsrs& m) {
    const u64 entry = r(VmcsField::ENTRY_CONTROLS);
    const bool ia32e = entry & entry_ctl::IA32E_MODE_GUEST;
    const u64 cr0 = r(VmcsField::GUEST_CR0), cr4 = r(VmcsField::GUEST_CR4);
    constexpr u64 CR4_PAE = bit(5), CR4_PCIDE = bit(17);
    constexpr u64 EFER_LME = bit(8), EFER_LMA = bit(10);

    // 26.3.1.1: control registers, MSRs.
    if (cr_violations(cr0, cr0_guest_fixed0(m.cr0_fixed0, true), m.cr0_fixed1))
        return "CR0 breaks IA32_VMX_CR0_FIXED0/1 (PE and PG exempt with unrestricted guest)";
    if ((cr0 & CR0_PG) && !(cr0 & CR0_PE)) return "CR0.PG set without CR0.PE";
    if (cr_violations(cr4, m.cr4_fixed0, m.cr4_fixed1)) return "CR4 breaks IA32_VMX_CR4_FIXED0/1";
    if (ia32e && (!(cr0 & CR0_PG) || !(cr4 & CR4_PAE))) return "IA-32e mode guest without CR0.PG and CR4.PAE";
    if (!ia32e && (cr4 & CR4_PCIDE)) return "CR4.PCIDE set outside IA-32e mode";
    if (r(VmcsField::GUEST_DR7) >> 32) return "DR7 bits 63:32 not zero";
    if (entry & entry_ctl::LOAD_PAT) {
        const u64 pat = r(VmcsField::GUEST_IA32_PAT);
        for (int i = 0; i < 8; ++i) {
            const u64 t = (pat >> (8 * i)) & 0xFF;
            if (!(t == 0 || t == 1 || t == 4 || t == 5 || t == 6 || t == 7)) return "IA32_PAT entry with a reserved memory type";
        }
    }
    if (entry & entry_ctl::LOAD_EFER) {
        const u64 efer = r(VmcsField::GUEST_IA32_EFER);
        if (bool(efer & EFER_LMA) != ia32e) return "IA32_EFER.LMA differs from the IA-32e mode guest control";
        if ((cr0 & CR0_PG) && bool(efer & EFER_LME) != bool(efer & EFER_LMA)) return "IA32_EFER.LME differs from LMA with CR0.PG set";
    }

    // 26.3.1.2: segment registers (all usable here: cxvisor never marks one unusable).
    const u64 cs = r(VmcsField::GUEST_CS_ACCESS_RIGHTS), ss = r(VmcsField::GUEST_SS_ACCESS_RIGHTS);
    const u32 cs_type = ar::type(u32(cs));
    if (!(cs_type == 3 || cs_type == 9 || cs_type == 11 || cs_type == 13 || cs_type == 15))
        return "CS type not 3, 9, 11, 13 or 15";
    if (!(ar::type(u32(ss)) == 3 || ar::type(u32(ss)) == 7)) return "SS type not 3 or 7";
    // DPLs with unrestricted guest: SS.DPL 0 in real mode or with a CS of type 3 (SS.DPL = SS.RPL
    // is required only without unrestricted guest); CS.DPL 0 for type 3, = SS.DPL for
    // non-conforming code, <= SS.DPL for conforming code.
    const bool pe = cr0 & CR0_PE;
    const u32 cs_dpl = ar::dpl(u32(cs)), ss_dpl = ar::dpl(u32(ss));
    if ((!pe || cs_type == 3) && ss_dpl != 0) return "SS.DPL not 0 (real mode, or CS of type 3)";
    if (cs_type == 3 && cs_dpl != 0) return "CS.DPL not 0 for a CS of type 3";
    if ((cs_type == 9 || cs_type == 11) && cs_dpl != ss_dpl) return "CS.DPL differs from SS.DPL (non-conforming code)";
    if ((cs_type == 13 || cs_type == 15) && cs_dpl > ss_dpl) return "CS.DPL above SS.DPL (conforming code)";
    if (ia32e && (cs & bit(13)) && (cs & bit(14))) return "CS.L and CS.D/B both set in IA-32e mode";
    struct Seg {
        VmcsField ar, limit;
        const char* not_present;
        const char* bad_limit;
    };
    constexpr Seg segs[] = {
        {VmcsField::GUEST_CS_ACCESS_RIGHTS, VmcsField::GUEST_CS_LIMIT, "CS not present", "CS limit disagrees with CS.G"},
        {VmcsField::GUEST_SS_ACCESS_RIGHTS, VmcsField::GUEST_SS_LIMIT, "SS not present", "SS limit disagrees with SS.G"},
        {VmcsField::GUEST_DS_ACCESS_RIGHTS, VmcsField::GUEST_DS_LIMIT, "DS not present", "DS limit disagrees with DS.G"},
        {VmcsField::GUEST_ES_ACCESS_RIGHTS, VmcsField::GUEST_ES_LIMIT, "ES not present", "ES limit disagrees with ES.G"},
        {VmcsField::GUEST_FS_ACCESS_RIGHTS, VmcsField::GUEST_FS_LIMIT, "FS not present", "FS limit disagrees with FS.G"},
        {VmcsField::GUEST_GS_ACCESS_RIGHTS, VmcsField::GUEST_GS_LIMIT, "GS not present", "GS limit disagrees with GS.G"},
        {VmcsField::GUEST_TR_ACCESS_RIGHTS, VmcsField::GUEST_TR_LIMIT, "TR not present", "TR limit disagrees with TR.G"},
        {VmcsField::GUEST_LDTR_ACCESS_RIGHTS, VmcsField::GUEST_LDTR_LIMIT, "LDTR not present", "LDTR limit disagrees with LDTR.G"},
    };
    for (const Seg& s : segs) {
        const u64 a = r(s.ar), limit = r(s.limit);
        if (!(a & 0x80)) return s.not_present;
        // G set: limit[11:0] all ones; G clear: limit[31:20] zero.
        if ((a & bit(15)) ? (limit & 0xFFF) != 0xFFF : (limit >> 20) != 0) return s.bad_limit;
        if (a & (u64(0xF00) | ~u64(0x1'FFFF))) return "segment access rights with reserved bits set";
    }
    constexpr VmcsField data[] = {VmcsField::GUEST_SS_ACCESS_RIGHTS, VmcsField::GUEST_DS_ACCESS_RIGHTS,
                                  VmcsField::GUEST_ES_ACCESS_RIGHTS, VmcsField::GUEST_FS_ACCESS_RIGHTS,
                                  VmcsField::GUEST_GS_ACCESS_RIGHTS};
    for (VmcsField f : data) {
        const u64 a = r(f);
        if (!(a & 1) || !(a & 0x10)) return "data segment not an accessed code/data segment";
    }
    const u32 tr = u32(r(VmcsField::GUEST_TR_ACCESS_RIGHTS)), ldtr = u32(r(VmcsField::GUEST_LDTR_ACCESS_RIGHTS));
    if (ia32e ? ar::type(tr) != 11 : !(ar::type(tr) == 3 || ar::type(tr) == 11)) return "TR not a busy TSS of the right size";
    if (tr & 0x10) return "TR.S set";
    if (ar::type(ldtr) != 2 || (ldtr & 0x10)) return "LDTR not an LDT (type 2, S clear)";

    // 26.3.1.3/26.3.1.4: RIP and RFLAGS.
    if (!(ia32e && (cs & bit(13))) && (r(VmcsField::GUEST_RIP) >> 32)) return "RIP bits 63:32 set outside 64-bit mode";
    const u64 rflags = r(VmcsField::GUEST_RFLAGS);
    if (!(rflags & 2) || (rflags & (~u64(0x3F'FFFF) | bit(15) | bit(5) | bit(3)))) return "RFLAGS reserved bits wrong";
    if ((ia32e || !pe) && (rflags & bit(17))) return "RFLAGS.VM set in IA-32e mode or real mode";

    // 26.3.1.5: non-register state.
    if (r(VmcsField::GUEST_ACTIVITY_STATE) > 3) return "activity state not 0-3";
    if (r(VmcsField::GUEST_INTERRUPTIBILITY_STATE) & ~u64(0x1F)) return "interruptibility state with reserved bits set";
    if (r(VmcsField::VMCS_LINK_POINTER) != VMCS_LINK_NONE) return "VMCS link pointer not FFFFFFFF_FFFFFFFFh (no shadow VMCS)";
    return nullptr;
}

} // namespace arch::vmx
