#include "probe.hpp"
#include "../cpu.hpp"
#include "kernel/log.hpp"

namespace arch {

VirtCpuid read_virt_cpuid() {
    VirtCpuid c;
    const x86::CpuidRegs l0 = x86::cpuid(0);
    c.vendor_ebx = l0.b, c.vendor_edx = l0.d, c.vendor_ecx = l0.c;
    if (l0.a >= 1) c.leaf1_ecx = x86::cpuid(1).c;
    c.max_ext_leaf = x86::cpuid(0x8000'0000).a;
    if (c.max_ext_leaf >= 0x8000'0001) c.ext1_ecx = x86::cpuid(0x8000'0001).c;
    if (c.max_ext_leaf >= 0x8000'000A) c.svm_edx = x86::cpuid(0x8000'000A).d;
    return c;
}

VirtMsrs read_virt_msrs(const VirtCpuid& c) {
    VirtMsrs m;
    // SDM vol. 4 Table 2-2: IA32_FEATURE_CONTROL exists "if CPUID.01H:ECX.[5] or [6] = 1"; VM_CR
    // with SVM (APM vol. 2, 15.30.1).
    if (c.leaf1_ecx & (bit(5) | bit(6))) m.feature_control = x86::rdmsr(vmx::MSR_FEATURE_CONTROL);
    if (c.max_ext_leaf >= 0x8000'0001 && (c.ext1_ecx & bit(2))) m.vm_cr = x86::rdmsr(x86::MSR_VM_CR);
    return m;
}

namespace {
VirtChoice g_virt; // written once on the boot CPU before the others start, read-only afterwards
} // namespace

const VirtChoice& virt_choose() {
    const VirtCpuid c = read_virt_cpuid();
    g_virt = choose_virt_backend(c, read_virt_msrs(c));
    return g_virt;
}
const VirtChoice& virt_chosen() { return g_virt; }

namespace vmx {

VmxMsrs read_msrs() {
    VmxMsrs m;
    m.basic = x86::rdmsr(MSR_VMX_BASIC);
    m.pinbased = x86::rdmsr(MSR_VMX_PINBASED_CTLS);
    m.procbased = x86::rdmsr(MSR_VMX_PROCBASED_CTLS);
    m.exit = x86::rdmsr(MSR_VMX_EXIT_CTLS);
    m.entry = x86::rdmsr(MSR_VMX_ENTRY_CTLS);
    m.misc = x86::rdmsr(MSR_VMX_MISC);
    m.cr0_fixed0 = x86::rdmsr(MSR_VMX_CR0_FIXED0);
    m.cr0_fixed1 = x86::rdmsr(MSR_VMX_CR0_FIXED1);
    m.cr4_fixed0 = x86::rdmsr(MSR_VMX_CR4_FIXED0);
    m.cr4_fixed1 = x86::rdmsr(MSR_VMX_CR4_FIXED1);
    // A.1 bit 55: the TRUE MSRs exist.
    if (decode_basic(m.basic).true_ctls) {
        m.true_pinbased = x86::rdmsr(MSR_VMX_TRUE_PINBASED_CTLS);
        m.true_procbased = x86::rdmsr(MSR_VMX_TRUE_PROCBASED_CTLS);
        m.true_exit = x86::rdmsr(MSR_VMX_TRUE_EXIT_CTLS);
        m.true_entry = x86::rdmsr(MSR_VMX_TRUE_ENTRY_CTLS);
    }
    // A.3.3: PROCBASED_CTLS2 exists when "activate secondary controls" may be 1; A.10:
    // EPT_VPID_CAP when "enable EPT" or "enable VPID" may be 1.
    if (control_caps(m.procbased).allowed1 & proc::ACTIVATE_SECONDARY_CONTROLS) {
        m.procbased2 = x86::rdmsr(MSR_VMX_PROCBASED_CTLS2);
        if (control_caps(m.procbased2).allowed1 & (proc2::ENABLE_EPT | proc2::ENABLE_VPID))
            m.ept_vpid_cap = x86::rdmsr(MSR_VMX_EPT_VPID_CAP);
    }
    return m;
}

} // namespace vmx

void vmx_boot_report() {
    const vmx::VmxMsrs m = vmx::read_msrs();
    const vmx::VmxBasic b = vmx::decode_basic(m.basic);
    const vmx::EptVpidCaps e = vmx::decode_ept_vpid(m.ept_vpid_cap);
    kprint("cxvisor: x86_64: VMX revision %u, VMCS %u bytes, EPT %s%s%s, INVEPT %s, VPID %s\n", b.revision,
           b.region_size, e.walk4 && e.walk5 ? "4/5-level" : e.walk5 ? "5-level" : e.walk4 ? "4-level" : "none", e.pde_2m ? " 2M" : "", e.pdpte_1g ? " 1G" : "",
           e.invept_single ? "single-context" : e.invept_all ? "all-context" : "no",
           e.invvpid ? "with INVVPID" : "no");
    const char* what = "";
    const auto c = vmx::vmx_choose_controls(m, &what);
    if (c.is_error())
        kprint("cxvisor: x86_64: this CPU's VMX lacks what cxvisor needs: %s\n", what);
}

} // namespace arch
