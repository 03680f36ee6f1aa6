// The guest state a VMX vCPU starts in: the processor state after RESET/INIT (Intel SDM vol. 3A,
// Order Number 253668-067, 9.1.1 Table 9-1) at the reset vector, or at a start-up IPI's page for an
// AP (vol. 3A 8.4.4.1 / 10.6.1: CS = vector << 8, base vector << 12, IP 0), written into the
// VMCS's guest-state area (vol. 3C 24.4) so that VM entry accepts it (vol. 3C 26.3.1 "Checks on the
// Guest State Area", with "unrestricted guest", which vmx_choose_controls requires). Pure: every
// write goes through vmwrite(VmcsField, u64), VMWRITE in the backend and a fake VMCS in the host
// tests (tests/unit/arch/x86_vmx_guest_state_test.cpp), which also check that no guest-state field of
// the table is left holding what a previous guest had there.
#pragma once
#include "caps.hpp"
#include "vmcs.hpp"

namespace arch::vmx {

// Segment access rights as the VMCS holds them (24.4.1 Table 24-2): bits 3:0 type, 4 S (code or
// data), 6:5 DPL, 7 present, 13 L, 14 D/B, 15 G, 16 unusable.
namespace ar {
inline constexpr u32 CODE_RX_ACCESSED = 0x9B; // P, S, type 11: execute/read, accessed
inline constexpr u32 DATA_RW_ACCESSED = 0x93; // P, S, type 3: read/write, accessed
inline constexpr u32 LDT = 0x82;              // P, type 2
inline constexpr u32 TSS_BUSY_32 = 0x8B;      // P, type 11 (26.3.1.2: TR must be a busy TSS)
constexpr u32 type(u32 a) { return a & 0xF; }
constexpr u32 dpl(u32 a) { return (a >> 5) & 3; }
} // namespace ar

// Where and in which mode a vCPU starts: CS, the data segments (DS, ES, FS, GS, SS alike), the
// CR0 the guest sees, RIP.
struct GuestSegment {
    u16 selector;
    u64 base;
    u32 limit;
    u32 access_rights;
};
struct GuestStartPoint {
    GuestSegment cs, data;
    u64 cr0;
    u64 rip;
};
inline constexpr u64 RESET_CR0 = 0x6000'0010; // Table 9-1: CD, NW, ET
// Real-mode data segments after RESET/INIT: selector 0, base 0, limit FFFFh, read/write accessed.
inline constexpr GuestSegment REAL_MODE_DATA = {0, 0, 0xFFFF, ar::DATA_RW_ACCESSED};
// Table 9-1: CS selector F000h, base FFFF0000h, EIP 0000FFF0h: the first fetch is at FFFFFFF0h.
constexpr GuestStartPoint reset_vector() {
    return {{0xF000, 0xFFFF'0000, 0xFFFF, ar::CODE_RX_ACCESSED}, REAL_MODE_DATA, RESET_CR0, 0xFFF0};
}
// An AP released by a start-up IPI with vector V starts in real mode at V << 12 (CS = V << 8, IP 0).
constexpr GuestStartPoint sipi_start(u8 vector) {
    return {{u16(u16(vector) << 8), u64(vector) << 12, 0xFFFF, ar::CODE_RX_ACCESSED}, REAL_MODE_DATA, RESET_CR0, 0};
}
// 32-bit flat protected mode with paging off, as a Multiboot loader enters a kernel (Multiboot
// 0.6.96 3.2 "Machine state": CS a 32-bit read/execute segment and the data segments 32-bit
// read/write, all base 0 limit FFFFFFFFh; CR0.PE set, PG clear; the GDT the selectors name is the
// guest's to load): selectors 08h/10h, G and D/B set (4 KiB granularity, 32-bit), CR0 = PE | ET | NE.
constexpr GuestStartPoint flat32_start(u64 entry) {
    constexpr u32 g_db = u32(bit(15) | bit(14));
    return {{0x08, 0, 0xFFFF'FFFF, ar::CODE_RX_ACCESSED | g_db}, {0x10, 0, 0xFFFF'FFFF, ar::DATA_RW_ACCESSED | g_db},
            0x31, entry};
}

inline constexpr u64 CR0_NW = bit(29), CR0_CD = bit(30);
inline constexpr u64 RESET_PAT = 0x0007'0406'0007'0406ull; // vol. 3A 11.12.4: WB, WT, UC-, UC, twice
inline constexpr u64 RESET_DR7 = 0x400, RESET_RFLAGS = 0x2;
inline constexpr u64 VMCS_LINK_NONE = ~u64(0); // 26.3.1.5: no shadow VMCS

// CR0 as the guest may see it (`shadow`) and as the CPU runs it: VMX operation fixes some bits
// (A.7: NE must be 1; with unrestricted guest PE and PG are the guest's own, 26.3.1.1), and cxvisor
// keeps CD and NW clear in the real CR0 because memory types come from the EPT (28.2.6) and a
// guest's "caches off" would make every access uncacheable; the guest still reads back what it
// wrote. The mask (24.6.6) makes every bit cxvisor owns exit on a guest write that changes it.
struct CrSetting {
    u64 value, shadow, mask;
};
constexpr CrSetting guest_cr0(u64 shadow, const VmxMsrs& m) {
    const u64 fixed0 = cr0_guest_fixed0(m.cr0_fixed0, true);
    return {fix_cr(shadow & ~(CR0_CD | CR0_NW), fixed0, m.cr0_fixed1), shadow, fixed0 | ~m.cr0_fixed1 | CR0_CD | CR0_NW};
}
// CR4: VMXE (A.8 CR4_FIXED0) is set in the real CR4 and hidden; bits outside CR4_FIXED1 exit.
constexpr CrSetting guest_cr4(u64 shadow, const VmxMsrs& m) {
    return {fix_cr(shadow, m.cr4_fixed0, m.cr4_fixed1), shadow, m.cr4_fixed0 | ~m.cr4_fixed1};
}

// Writes the whole guest-state area for a vCPU starting at `p`, in real mode or 32-bit protected
// mode, paging off (the VM-entry control "IA-32e mode guest" must be 0 for it; the CPU updates it
// from EFER.LMA at every exit once the guest enables long mode itself). General registers other
// than RSP and RIP are not in the VMCS: the backend sets them (Table 9-1: EDX holds the CPU
// signature after RESET, which cxvisor does not emulate; guests read CPUID).
template <typename Vmwrite> void write_start_state(Vmwrite&& w, const VmxMsrs& m, GuestStartPoint p) {
    const CrSetting cr0 = guest_cr0(p.cr0, m), cr4 = guest_cr4(0, m);
    w(VmcsField::GUEST_CR0, cr0.value);
    w(VmcsField::CR0_READ_SHADOW, cr0.shadow);
    w(VmcsField::CR0_GUEST_HOST_MASK, cr0.mask);
    w(VmcsField::GUEST_CR3, 0);
    w(VmcsField::GUEST_CR4, cr4.value);
    w(VmcsField::CR4_READ_SHADOW, cr4.shadow);
    w(VmcsField::CR4_GUEST_HOST_MASK, cr4.mask);
    w(VmcsField::GUEST_DR7, RESET_DR7);
    w(VmcsField::GUEST_RFLAGS, RESET_RFLAGS);
    w(VmcsField::GUEST_RIP, p.rip);
    w(VmcsField::GUEST_RSP, 0);

    w(VmcsField::GUEST_CS_SELECTOR, p.cs.selector);
    w(VmcsField::GUEST_CS_BASE, p.cs.base);
    w(VmcsField::GUEST_CS_LIMIT, p.cs.limit);
    w(VmcsField::GUEST_CS_ACCESS_RIGHTS, p.cs.access_rights);
    constexpr VmcsField data[][4] = {
        {VmcsField::GUEST_DS_SELECTOR, VmcsField::GUEST_DS_BASE, VmcsField::GUEST_DS_LIMIT, VmcsField::GUEST_DS_ACCESS_RIGHTS},
        {VmcsField::GUEST_ES_SELECTOR, VmcsField::GUEST_ES_BASE, VmcsField::GUEST_ES_LIMIT, VmcsField::GUEST_ES_ACCESS_RIGHTS},
        {VmcsField::GUEST_FS_SELECTOR, VmcsField::GUEST_FS_BASE, VmcsField::GUEST_FS_LIMIT, VmcsField::GUEST_FS_ACCESS_RIGHTS},
        {VmcsField::GUEST_GS_SELECTOR, VmcsField::GUEST_GS_BASE, VmcsField::GUEST_GS_LIMIT, VmcsField::GUEST_GS_ACCESS_RIGHTS},
        {VmcsField::GUEST_SS_SELECTOR, VmcsField::GUEST_SS_BASE, VmcsField::GUEST_SS_LIMIT, VmcsField::GUEST_SS_ACCESS_RIGHTS},
    };
    for (const auto& s : data) {
        w(s[0], p.data.selector);
        w(s[1], p.data.base);
        w(s[2], p.data.limit);
        w(s[3], p.data.access_rights);
    }
    // LDTR and TR: present, as after RESET; TR must be a busy TSS for VM entry (26.3.1.2).
    w(VmcsField::GUEST_LDTR_SELECTOR, 0);
    w(VmcsField::GUEST_LDTR_BASE, 0);
    w(VmcsField::GUEST_LDTR_LIMIT, 0xFFFF);
    w(VmcsField::GUEST_LDTR_ACCESS_RIGHTS, ar::LDT);
    w(VmcsField::GUEST_TR_SELECTOR, 0);
    w(VmcsField::GUEST_TR_BASE, 0);
    w(VmcsField::GUEST_TR_LIMIT, 0xFFFF);
    w(VmcsField::GUEST_TR_ACCESS_RIGHTS, ar::TSS_BUSY_32);
    w(VmcsField::GUEST_GDTR_BASE, 0);
    w(VmcsField::GUEST_GDTR_LIMIT, 0xFFFF);
    w(VmcsField::GUEST_IDTR_BASE, 0);
    w(VmcsField::GUEST_IDTR_LIMIT, 0xFFFF);

    w(VmcsField::GUEST_IA32_EFER, 0);
    w(VmcsField::GUEST_IA32_PAT, RESET_PAT);
    w(VmcsField::GUEST_IA32_DEBUGCTL, 0);
    w(VmcsField::GUEST_SYSENTER_CS, 0);
    w(VmcsField::GUEST_SYSENTER_ESP, 0);
    w(VmcsField::GUEST_SYSENTER_EIP, 0);
    constexpr VmcsField pdptes[] = {VmcsField::GUEST_PDPTE0, VmcsField::GUEST_PDPTE1, VmcsField::GUEST_PDPTE2,
                                    VmcsField::GUEST_PDPTE3};
    for (VmcsField f : pdptes) w(f, 0);
    w(VmcsField::GUEST_INTERRUPTIBILITY_STATE, 0);
    w(VmcsField::GUEST_ACTIVITY_STATE, 0); // active (24.4.2)
    w(VmcsField::GUEST_PENDING_DEBUG_EXCEPTIONS, 0);
    w(VmcsField::VMCS_LINK_POINTER, VMCS_LINK_NONE);
}

} // namespace arch::vmx
