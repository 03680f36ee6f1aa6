#include "caps.hpp"
#include "../ept_format.hpp"

namespace arch::vmx {

Result<InveptType> choose_invept(const EptVpidCaps& c, const char** what) {
    if (c.invept && c.invept_single) return InveptType::SingleContext;
    if (c.invept && c.invept_all) return InveptType::AllContext;
    *what = "the CPU has no usable INVEPT (IA32_VMX_EPT_VPID_CAP bits 20, 25, 26): stale EPT translations could "
            "not be removed";
    return Error::Unsupported;
}

VpidPlan choose_vpid(bool vpid_control_allowed, const EptVpidCaps& c) {
    if (!vpid_control_allowed || !c.invvpid) return {};
    if (c.invvpid_single) return {true, InvvpidType::SingleContext};
    if (c.invvpid_all) return {true, InvvpidType::AllContext};
    return {};
}

Result<u32> ept_levels(const EptVpidCaps& c, u32 host_levels, const char** what) {
    if (host_levels == 5 && c.walk5) return 5u;
    if (c.walk4) return 4u;
    if (c.walk5) return 5u;
    *what = "the CPU has neither a 4-level nor a 5-level EPT walk (IA32_VMX_EPT_VPID_CAP bits 6, 7)";
    return Error::Unsupported;
}

Result<u64> ept_pointer(u64 root, const EptVpidCaps& c, u32 levels, bool want_accessed_dirty, const char** what) {
    if (!is_aligned(root, 4 * KiB) || (root & ~EptFormat::addr_mask)) {
        *what = "the EPT root is not a 4 KiB-aligned physical address";
        return Error::InvalidArgument;
    }
    if (levels != 4 && levels != 5) {
        *what = "an EPT has 4 or 5 levels";
        return Error::InvalidArgument;
    }
    if (levels == 4 && !c.walk4) {
        *what = "the CPU has no 4-level EPT walk (IA32_VMX_EPT_VPID_CAP bit 6)";
        return Error::Unsupported;
    }
    if (levels == 5 && !c.walk5) {
        *what = "the CPU has no 5-level EPT walk (IA32_VMX_EPT_VPID_CAP bit 7)";
        return Error::Unsupported;
    }
    if (!c.eptp_wb && !c.eptp_uc) {
        *what = "the CPU allows neither write-back nor uncacheable EPT paging structures (IA32_VMX_EPT_VPID_CAP bits 14, 8)";
        return Error::Unsupported;
    }
    if (want_accessed_dirty && !c.accessed_dirty) {
        *what = "the CPU has no EPT accessed and dirty flags (IA32_VMX_EPT_VPID_CAP bit 21)";
        return Error::Unsupported;
    }
    return eptp::encode(HostPhysAddr(root), c.eptp_wb ? eptp::MT_WB : eptp::MT_UC, levels, want_accessed_dirty);
}

Result<u32> adjust_controls(ControlCaps caps, const VmxControl* required, usize n_required, const VmxControl* optional,
                            usize n_optional, const char** what) {
    // A.3-A.5: a control may be 0 only if its allowed-0 bit is 0, and 1 only if its allowed-1 bit is 1.
    if (caps.allowed0 & ~caps.allowed1) {
        *what = "the capability MSR requires a control it does not allow";
        return Error::BadFormat;
    }
    u32 v = caps.allowed0;
    for (usize i = 0; i < n_required; ++i) {
        if (!(caps.allowed1 & required[i].bit)) {
            *what = required[i].name;
            return Error::Unsupported;
        }
        v |= required[i].bit;
    }
    for (usize i = 0; i < n_optional; ++i) v |= optional[i].bit & caps.allowed1;
    return v;
}

namespace {

// The required/optional lists of vmx_choose_controls, with the names the error reports.
constexpr VmxControl PIN_REQUIRED[] = {
    {pin::EXTERNAL_INTERRUPT_EXITING, "pin-based control 'external-interrupt exiting'"},
    {pin::NMI_EXITING, "pin-based control 'NMI exiting'"},
};
constexpr VmxControl PIN_OPTIONAL[] = {{pin::VIRTUAL_NMIS, "virtual NMIs"}};
constexpr VmxControl PROC_REQUIRED[] = {
    {proc::INTERRUPT_WINDOW_EXITING, "primary processor-based control 'interrupt-window exiting'"},
    {proc::HLT_EXITING, "primary processor-based control 'HLT exiting'"},
    {proc::MWAIT_EXITING, "primary processor-based control 'MWAIT exiting'"},
    {proc::USE_IO_BITMAPS, "primary processor-based control 'use I/O bitmaps'"},
    {proc::USE_MSR_BITMAPS, "primary processor-based control 'use MSR bitmaps'"},
    {proc::MONITOR_EXITING, "primary processor-based control 'MONITOR exiting'"},
    {proc::ACTIVATE_SECONDARY_CONTROLS, "primary processor-based control 'activate secondary controls'"},
};
constexpr VmxControl PROC_OPTIONAL[] = {{proc::USE_TSC_OFFSETTING, "use TSC offsetting"}};
constexpr VmxControl PROC2_REQUIRED[] = {
    {proc2::ENABLE_EPT, "secondary processor-based control 'enable EPT'"},
    {proc2::UNRESTRICTED_GUEST, "secondary processor-based control 'unrestricted guest'"},
};
constexpr VmxControl PROC2_OPTIONAL[] = {
    {proc2::ENABLE_RDTSCP, "enable RDTSCP"},
    {proc2::ENABLE_INVPCID, "enable INVPCID"},
    {proc2::ENABLE_XSAVES, "enable XSAVES/XRSTORS"},
};
constexpr VmxControl EXIT_REQUIRED[] = {
    {exit_ctl::HOST_ADDRESS_SPACE_SIZE, "VM-exit control 'host address-space size'"},
    {exit_ctl::SAVE_PAT, "VM-exit control 'save IA32_PAT'"},
    {exit_ctl::LOAD_PAT, "VM-exit control 'load IA32_PAT'"},
    {exit_ctl::SAVE_EFER, "VM-exit control 'save IA32_EFER'"},
    {exit_ctl::LOAD_EFER, "VM-exit control 'load IA32_EFER'"},
};
constexpr VmxControl ENTRY_REQUIRED[] = {
    {entry_ctl::LOAD_PAT, "VM-entry control 'load IA32_PAT'"},
    {entry_ctl::LOAD_EFER, "VM-entry control 'load IA32_EFER'"},
};
// Checked as allowed, not set here: the backend sets it per entry for a guest in long mode.
constexpr VmxControl ENTRY_SETTABLE[] = {{entry_ctl::IA32E_MODE_GUEST, "VM-entry control 'IA-32e mode guest'"}};

template <usize R, usize O>
Result<u32> adjust(u64 msr, const VmxControl (&req)[R], const VmxControl (&opt)[O], const char** what) {
    return adjust_controls(control_caps(msr), req, R, opt, O, what);
}
template <usize R> Result<u32> adjust(u64 msr, const VmxControl (&req)[R], const char** what) {
    return adjust_controls(control_caps(msr), req, R, nullptr, 0, what);
}

} // namespace

Result<VmxControls> vmx_choose_controls(const VmxMsrs& m, const char** what) {
    const VmxBasic basic = decode_basic(m.basic);
    // A.3.1/A.3.2/A.4/A.5: with bit 55 the TRUE MSRs hold the whole truth, without it the plain ones.
    const u64 pin_msr = basic.true_ctls ? m.true_pinbased : m.pinbased;
    const u64 proc_msr = basic.true_ctls ? m.true_procbased : m.procbased;
    const u64 exit_msr = basic.true_ctls ? m.true_exit : m.exit;
    const u64 entry_msr = basic.true_ctls ? m.true_entry : m.entry;
    VmxControls c;
    c.pin = TRY(adjust(pin_msr, PIN_REQUIRED, PIN_OPTIONAL, what));
    c.proc = TRY(adjust(proc_msr, PROC_REQUIRED, PROC_OPTIONAL, what));
    // A.3.3: IA32_VMX_PROCBASED_CTLS2 exists only with "activate secondary controls" allowed, which
    // the primary word just required; its allowed-0 half is always 0.
    c.proc2 = TRY(adjust(m.procbased2, PROC2_REQUIRED, PROC2_OPTIONAL, what));
    const EptVpidCaps ept = decode_ept_vpid(m.ept_vpid_cap);
    const VpidPlan vpid = choose_vpid(control_caps(m.procbased2).allowed1 & proc2::ENABLE_VPID, ept);
    if (vpid.use_vpid) c.proc2 |= proc2::ENABLE_VPID;
    c.vpid = vpid.use_vpid;
    c.exit = TRY(adjust(exit_msr, EXIT_REQUIRED, what));
    c.entry = TRY(adjust(entry_msr, ENTRY_REQUIRED, what));
    TRY(adjust(entry_msr, ENTRY_SETTABLE, what));
    // EPT itself must be usable: a walk length, a paging-structure memory type, and a way to
    // invalidate (the capability MSR exists because "enable EPT" is allowed, A.10).
    TRY(ept_pointer(0, ept, TRY(ept_levels(ept, 4, what)), false, what));
    TRY(choose_invept(ept, what));
    return c;
}

} // namespace arch::vmx
