// Which x86 virtualization backend this CPU gets: SVM, VMX, or none, and why. A pure function of
// what CPUID reports and of the two firmware-controlled MSRs that can switch the extensions off, so
// the host unit tests decide real CPUs' values (tests/unit/arch/x86_vmx_select_test.cpp) and the
// boot line says the same (host.cpp). Sources: AMD64 APM vol. 2 rev. 3.42, 15.4 "Enabling SVM"
// (CPUID 8000_0001h ECX[2]; VM_CR.SVMDIS, 15.30.1) and 15.25 (nested paging, CPUID 8000_000Ah
// EDX[0]); Intel SDM vol. 3C, Order Number 326019-067, 23.6 "Discovering Support for VMX" (CPUID 1
// ECX[5]) and 23.7 "Enabling and Entering VMX Operation" (IA32_FEATURE_CONTROL).
#pragma once
#include "base/types.hpp"

namespace arch {

// What the choice reads. The vendor is leaf 0's EBX, EDX, ECX (the 12 characters in that order).
struct VirtCpuid {
    u32 vendor_ebx = 0, vendor_edx = 0, vendor_ecx = 0;
    u32 leaf1_ecx = 0;    // CPUID 1 ECX: bit 5 VMX
    u32 max_ext_leaf = 0; // CPUID 8000_0000h EAX: the extended leaves below are meaningful up to it
    u32 ext1_ecx = 0;     // CPUID 8000_0001h ECX: bit 2 SVM
    u32 svm_edx = 0;      // CPUID 8000_000Ah EDX: bit 0 nested paging
};
// The MSRs exist only where CPUID says so (reading them elsewhere raises #GP): the caller reads
// IA32_FEATURE_CONTROL (0x3A) only with CPUID 1 ECX.VMX and VM_CR (0xC001_0114) only with
// 8000_0001h ECX.SVM, and passes 0 otherwise.
struct VirtMsrs {
    u64 feature_control = 0;
    u64 vm_cr = 0;
};

enum class VirtBackend : u8 { None, Svm, Vmx };
constexpr const char* virt_backend_name(VirtBackend b) {
    return b == VirtBackend::Svm ? "SVM" : b == VirtBackend::Vmx ? "VMX" : "none";
}

struct VirtChoice {
    VirtBackend backend = VirtBackend::None;
    // VMX only: IA32_FEATURE_CONTROL is unlocked, so the backend must set "VMX outside SMX" and the
    // lock bit itself before VMXON (23.7), on every CPU.
    bool lock_feature_control = false;
    const char* why = "";  // one clause for the boot line: the CPUID bits and MSRs behind the choice
    char vendor[13] = {};  // the CPUID vendor string, for the same line
};

// SVM when CPUID reports it with nested paging and VM_CR does not disable it; else VMX when CPUID
// reports it and IA32_FEATURE_CONTROL does not lock it off (real CPUs have one or the other; SVM
// is preferred for a model that claims both, because it is the backend that runs under QEMU's
// TCG); else none, with the reason of the extension that is there but unusable, or "neither".
VirtChoice choose_virt_backend(const VirtCpuid& c, const VirtMsrs& m);

} // namespace arch
