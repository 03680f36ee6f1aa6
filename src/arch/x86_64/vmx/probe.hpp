// Reading what select.hpp and caps.hpp decide on, on the running CPU (CPUID and RDMSR only; each
// MSR is read only where CPUID or another capability MSR says it exists, as the SDM requires).
// Image only: the host tests feed the pure functions recorded values instead.
#pragma once
#include "caps.hpp"
#include "select.hpp"

namespace arch {

VirtCpuid read_virt_cpuid();
VirtMsrs read_virt_msrs(const VirtCpuid& c);
// The boot CPU's choice, made once by host_boot (choose_virt_backend over the two reads above)
// and kept: the vCPU layer asks virt_chosen() which backend runs guests here, and must refuse VMs
// (vcpu_backend_missing) when it is not the one it implements: VMRUN on a VMX CPU, or VMLAUNCH on
// an AMD one, would be #UD in cxvisor.
const VirtChoice& virt_choose();
const VirtChoice& virt_chosen();
// Boot line(s) for the chosen backend when it is VMX: the VMCS revision and EPT/VPID features, and
// whether this CPU's controls meet the VMX backend's needs (vmx_choose_controls), naming the missing
// control otherwise. Call only when choose_virt_backend chose VMX (the VMX MSRs exist then).
void vmx_boot_report();

namespace vmx {
// IA32_VMX_* as this CPU has them (caps.hpp VmxMsrs: absent ones stay 0).
VmxMsrs read_msrs();
} // namespace vmx

} // namespace arch
