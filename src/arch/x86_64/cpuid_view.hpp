// CPUID as cxvisor's x86 guests see it (docs/porting.md "x86_64: CPUID"): the host's answer
// with what cxvisor does not virtualize taken out and the hypervisor leaves added. Pure: the vCPU
// passes the host's registers in; the host unit tests check the view (tests/unit/arch).
#pragma once
#include "cpu.hpp"
#include "xsave.hpp"

namespace arch {

// `host`: CPUID(leaf, subleaf) on the host; vcpu_id: the vCPU's index (its APIC id); tsc_khz: the
// TSC's rate, published in leaf 0x4000_0010; vcpu_count: the VM's vCPUs (APIC ids
// 0..vcpu_count-1), published in leaf 0x4000_0001; xs: the XSAVE state offered and the guest's
// XCR0 and CR4.OSXSAVE now (leaves 1 and 0Dh; the default offers none).
x86::CpuidRegs guest_cpuid(u32 leaf, u32 subleaf, x86::CpuidRegs host, u32 vcpu_id, u64 tsc_khz, u32 vcpu_count = 1,
                           const xsave::GuestXsave& xs = {});

} // namespace arch
