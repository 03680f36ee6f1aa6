// VMX capability reporting (Intel SDM vol. 3C, Order Number 326019-067, May 2018: appendix A "VMX
// Capability Reporting Facility"; 24.6-24.8 for the controls; 23.8 "Restrictions on VMX
// Operation" for CR0/CR4): what a CPU's IA32_VMX_* MSRs allow, turned into the control words the
// VMX backend writes, with a clear error naming the control a CPU lacks. Pure functions over the
// recorded MSR values (VmxMsrs): the host unit tests feed them real CPUs' values
// (tests/unit/arch/x86_vmx_caps_test.cpp); the image reads the MSRs with vmx_read_msrs (probe.cpp).
#pragma once
#include "base/result.hpp"
#include "base/types.hpp"

namespace arch::vmx {

// MSR indices (appendix A, and vol. 4 Table 2-2 "IA-32 Architectural MSRs").
inline constexpr u32 MSR_FEATURE_CONTROL = 0x3A;
inline constexpr u32 MSR_VMX_BASIC = 0x480, MSR_VMX_PINBASED_CTLS = 0x481, MSR_VMX_PROCBASED_CTLS = 0x482,
                     MSR_VMX_EXIT_CTLS = 0x483, MSR_VMX_ENTRY_CTLS = 0x484, MSR_VMX_MISC = 0x485,
                     MSR_VMX_CR0_FIXED0 = 0x486, MSR_VMX_CR0_FIXED1 = 0x487, MSR_VMX_CR4_FIXED0 = 0x488,
                     MSR_VMX_CR4_FIXED1 = 0x489, MSR_VMX_PROCBASED_CTLS2 = 0x48B, MSR_VMX_EPT_VPID_CAP = 0x48C,
                     MSR_VMX_TRUE_PINBASED_CTLS = 0x48D, MSR_VMX_TRUE_PROCBASED_CTLS = 0x48E,
                     MSR_VMX_TRUE_EXIT_CTLS = 0x48F, MSR_VMX_TRUE_ENTRY_CTLS = 0x490;

// The raw values, as read on one CPU. An MSR the CPU does not have reads as 0 here (vmx_read_msrs
// reads PROCBASED_CTLS2 only when the primary controls allow "activate secondary controls",
// EPT_VPID_CAP only when the secondary controls allow EPT or VPID, the TRUE_* ones only when
// IA32_VMX_BASIC bit 55 says they exist: reading a missing MSR raises #GP).
struct VmxMsrs {
    u64 basic = 0;
    u64 pinbased = 0, procbased = 0, exit = 0, entry = 0;
    u64 true_pinbased = 0, true_procbased = 0, true_exit = 0, true_entry = 0;
    u64 procbased2 = 0;
    u64 misc = 0;
    u64 cr0_fixed0 = 0, cr0_fixed1 = 0, cr4_fixed0 = 0, cr4_fixed1 = 0;
    u64 ept_vpid_cap = 0;
};

// A.1 "Basic VMX Information" (IA32_VMX_BASIC).
struct VmxBasic {
    u32 revision = 0;        // bits 30:0: the VMCS revision identifier
    u32 region_size = 0;     // bits 44:32: bytes of a VMXON region and of a VMCS region (at most 4096)
    bool phys_32bit = false; // bit 48: the regions (and the addresses in the VMCS) must be below 4 GiB
    bool dual_monitor = false; // bit 49: the dual-monitor SMM treatment
    u8 memory_type = 0;      // bits 53:50: the type the CPU uses for the VMCS (6 = write-back)
    bool ins_outs_info = false; // bit 54: INS/OUTS exits give the instruction-information field
    bool true_ctls = false;  // bit 55: the IA32_VMX_TRUE_*_CTLS MSRs exist and govern the default1 controls
};
constexpr VmxBasic decode_basic(u64 v) {
    return {u32(bits(v, 30, 0)), u32(bits(v, 44, 32)), bool(v & bit(48)), bool(v & bit(49)),
            u8(bits(v, 53, 50)), bool(v & bit(54)), bool(v & bit(55))};
}
inline constexpr u8 MEMORY_TYPE_WB = 6;

// A.10 "VPID and EPT Capabilities" (IA32_VMX_EPT_VPID_CAP).
struct EptVpidCaps {
    bool execute_only = false;  // bit 0: execute-only EPT translations
    bool walk4 = false;         // bit 6: page-walk length 4
    bool walk5 = false;         // bit 7: page-walk length 5 (later revisions)
    bool eptp_uc = false;       // bit 8: the EPT paging structures may be uncacheable
    bool eptp_wb = false;       // bit 14: ... write-back
    bool pde_2m = false;        // bit 16: 2 MiB pages (bit 7 of an EPT PDE)
    bool pdpte_1g = false;      // bit 17: 1 GiB pages (bit 7 of an EPT PDPTE)
    bool invept = false;        // bit 20: INVEPT exists
    bool accessed_dirty = false; // bit 21: accessed and dirty flags for EPT
    bool invept_single = false; // bit 25: single-context INVEPT
    bool invept_all = false;    // bit 26: all-context INVEPT
    bool invvpid = false;       // bit 32: INVVPID exists
    bool invvpid_address = false; // bit 40: individual-address INVVPID
    bool invvpid_single = false;  // bit 41: single-context
    bool invvpid_all = false;     // bit 42: all-context
    bool invvpid_single_keep_globals = false; // bit 43: single-context-retaining-globals
};
constexpr EptVpidCaps decode_ept_vpid(u64 v) {
    auto b = [v](unsigned n) { return (v & bit(n)) != 0; };
    return {b(0), b(6), b(7), b(8), b(14), b(16), b(17), b(20), b(21), b(25), b(26), b(32), b(40), b(41), b(42), b(43)};
}

// INVEPT and INVVPID types (28.3.3 "Invalidating Cached Information"; the INVEPT and INVVPID pages of
// the instruction reference, 30.3).
enum class InveptType : u8 { SingleContext = 1, AllContext = 2 };
enum class InvvpidType : u8 { IndividualAddress = 0, SingleContext = 1, AllContext = 2, SingleContextKeepGlobals = 3 };

// How cxvisor drops one VM's cached EPT translations after a mapping is removed or weakened
// (28.3.3 "Invalidating Cached Information"): single-context INVEPT (only that EPTP's
// entries) where the CPU has it, else all-context (every VM's: correct, slower). Unsupported when the
// CPU has neither (or no INVEPT at all): stale translations could not be removed, so no VM may run.
Result<InveptType> choose_invept(const EptVpidCaps& c, const char** what);
// VPIDs (28.1 "Virtual Processor Identifiers") tag the guest's linear translations per vCPU so a VM
// entry need not flush them. Without INVVPID they cannot be invalidated, so they are not used
// (returns false, and the backend leaves "enable VPID" off: every VM entry and exit flushes).
// With it, single-context invalidation is preferred, then all-context. VPID 0 is the host's: with
// "enable VPID" each vCPU's VPID field must be non-zero (26.2.1.1), VM entry fails otherwise.
struct VpidPlan {
    bool use_vpid = false;
    InvvpidType flush = InvvpidType::AllContext;
};
VpidPlan choose_vpid(bool vpid_control_allowed, const EptVpidCaps& c);

// The largest EPT leaf this CPU takes: the walker's max_leaf (tlb.hpp stage2_max_leaf).
constexpr u64 ept_max_leaf(const EptVpidCaps& c) { return c.pdpte_1g ? GiB : c.pde_2m ? 2 * MiB : 4 * KiB; }

// How many levels cxvisor's EPT has on this CPU, for a host paging with `host_levels` (4, or 5 with
// CR4.LA57; mmu.hpp host_paging): 5 where the host itself pages with 5 levels and the CPU walks
// 5-level EPT (bit 7), so a VM's guest-physical space is as wide as the host's; else 4 (bit 6); else
// 5 where that is the only walk the CPU has (the EPT depth does not depend on CR4: 28.2.2). Unsupported
// with *what when the CPU reports neither walk length.
Result<u32> ept_levels(const EptVpidCaps& c, u32 host_levels, const char** what);

// The EPTP for an EPT of `levels` levels (4 or 5) rooted at `root` (24.6.11): write-back paging
// structures where the CPU allows it (cxvisor's own RAM is write-back), else uncacheable;
// accessed/dirty flags only when asked for and offered (28.2.4). Unsupported with *what naming the
// missing capability (a walk length the CPU does not report among them).
Result<u64> ept_pointer(u64 root, const EptVpidCaps& c, u32 levels, bool want_accessed_dirty, const char** what);

// One VMX control: its bit and its name as the SDM's control tables give it.
struct VmxControl {
    u32 bit;
    const char* name;
};

// Which of the capability MSRs governs a control word (A.3.1-A.5): with IA32_VMX_BASIC bit 55 the
// TRUE_* MSR (which may allow some default1 controls to be 0: CR3-load/store exiting, for
// instance), else the plain one.
struct ControlCaps {
    u32 allowed0; // bits 31:0 of the MSR: a 1 here means the control must be 1
    u32 allowed1; // bits 63:32: a 0 here means the control must be 0
};
constexpr ControlCaps control_caps(u64 msr) { return {u32(msr), u32(msr >> 32)}; }

// The control word: every `required` control, the `optional` ones the CPU allows, and whatever the
// CPU insists on (allowed-0 settings). Unsupported with *what = the first required control the CPU
// cannot set (its SDM name); BadFormat if the MSR contradicts itself (a control that must be 1 and
// may not be 1).
Result<u32> adjust_controls(ControlCaps caps, const VmxControl* required, usize n_required, const VmxControl* optional,
                            usize n_optional, const char** what);

// Control bits cxvisor names (24.6.1 Table 24-5, 24.6.2 Tables 24-6 and 24-7, 24.7.1 Table 24-10,
// 24.8.1 Table 24-12).
namespace pin {
inline constexpr u32 EXTERNAL_INTERRUPT_EXITING = bit(0), NMI_EXITING = bit(3), VIRTUAL_NMIS = bit(5),
                     PREEMPTION_TIMER = bit(6);
}
namespace proc {
inline constexpr u32 INTERRUPT_WINDOW_EXITING = bit(2), USE_TSC_OFFSETTING = bit(3), HLT_EXITING = bit(7),
                     MWAIT_EXITING = bit(10), CR3_LOAD_EXITING = bit(15), CR3_STORE_EXITING = bit(16),
                     NMI_WINDOW_EXITING = bit(22), USE_IO_BITMAPS = bit(25), USE_MSR_BITMAPS = bit(28),
                     MONITOR_EXITING = bit(29), ACTIVATE_SECONDARY_CONTROLS = bit(31);
}
namespace proc2 {
inline constexpr u32 ENABLE_EPT = bit(1), ENABLE_RDTSCP = bit(3), ENABLE_VPID = bit(5), UNRESTRICTED_GUEST = bit(7),
                     ENABLE_INVPCID = bit(12), ENABLE_XSAVES = bit(20);
}
namespace exit_ctl {
inline constexpr u32 SAVE_DEBUG_CONTROLS = bit(2), HOST_ADDRESS_SPACE_SIZE = bit(9),
                     ACK_INTERRUPT_ON_EXIT = bit(15), SAVE_PAT = bit(18), LOAD_PAT = bit(19), SAVE_EFER = bit(20),
                     LOAD_EFER = bit(21);
}
namespace entry_ctl {
inline constexpr u32 LOAD_DEBUG_CONTROLS = bit(2), IA32E_MODE_GUEST = bit(9), LOAD_PAT = bit(14), LOAD_EFER = bit(15);
}

// The five control words of a cxvisor vCPU, as the CPU allows them (vmx_choose_controls), and what
// the CPU offers beyond them.
struct VmxControls {
    u32 pin = 0, proc = 0, proc2 = 0, exit = 0, entry = 0;
    bool vpid = false; // "enable VPID" is set (choose_vpid)
};
// What cxvisor's vCPUs need, and why (the trap table of the VMX backend):
// - pin: external-interrupt exiting (cxvisor keeps the CPU: its timer and kicks must reach it) and
//   NMI exiting (an NMI is cxvisor's); virtual NMIs where offered (NMI-window exits for injection).
// - primary: interrupt-window exiting (inject when the guest can take it), HLT exiting (a halted
//   vCPU blocks in cxvisor), MWAIT/MONITOR exiting (a guest may not stall the CPU), I/O bitmaps and
//   MSR bitmaps (ports and MSRs are emulated or passed one by one), secondary controls; TSC
//   offsetting where offered.
// - secondary: EPT, unrestricted guest (guests start in real mode at their reset vector or SIPI
//   page); RDTSCP, INVPCID and XSAVES only where offered (otherwise the guest gets #UD, and CPUID
//   must not advertise them); VPID when INVVPID can flush it (choose_vpid).
// - exit: 64-bit host, save/load IA32_PAT and IA32_EFER (guest and host differ). Interrupts are not
//   acknowledged on exit: cxvisor takes them through its IDT once its IF window opens, as on SVM.
// - entry: IA-32e mode guest must be settable (64-bit guests; the backend sets it per entry from
//   the guest's EFER.LMA), load IA32_PAT and IA32_EFER.
// Unsupported with *what naming the first missing control ("secondary processor-based control
// 'enable EPT'"); the CPU's own must-be-1 controls are included.
Result<VmxControls> vmx_choose_controls(const VmxMsrs& m, const char** what);

// CR0 and CR4 in VMX operation (23.8, A.7, A.8): bits set in FIXED0 must be 1, bits clear in FIXED1
// must be 0. fix_cr gives the value to load before VMXON (the host's CR0/CR4 with those rules
// applied); cr_violations the bits of `value` that break them (0: allowed). For a guest with
// "unrestricted guest", CR0.PE and CR0.PG are exempt (26.3.1.1): cr0_guest_fixed0 drops them.
constexpr u64 fix_cr(u64 value, u64 fixed0, u64 fixed1) { return (value | fixed0) & fixed1; }
constexpr u64 cr_violations(u64 value, u64 fixed0, u64 fixed1) { return (fixed0 & ~value) | (value & ~fixed1); }
inline constexpr u64 CR0_PE = bit(0), CR0_PG = bit(31);
constexpr u64 cr0_guest_fixed0(u64 fixed0, bool unrestricted) { return unrestricted ? fixed0 & ~(CR0_PE | CR0_PG) : fixed0; }

// IA32_FEATURE_CONTROL (23.7 "Enabling and Entering VMX Operation"): bit 0 lock, bit 1 VMX inside
// SMX, bit 2 VMX outside SMX. VMXON raises #GP unless the lock is set and bit 2 (outside SMX) is 1.
inline constexpr u64 FEATURE_CONTROL_LOCK = bit(0), FEATURE_CONTROL_VMX_IN_SMX = bit(1),
                     FEATURE_CONTROL_VMX_OUTSIDE_SMX = bit(2);

} // namespace arch::vmx
