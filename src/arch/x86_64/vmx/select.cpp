#include "select.hpp"
#include "caps.hpp"

namespace arch {

namespace {

constexpr u32 LEAF1_ECX_VMX = bit(5);
constexpr u32 EXT1_ECX_SVM = bit(2);
constexpr u32 SVM_EDX_NP = bit(0);
constexpr u64 VM_CR_SVMDIS = bit(4);

void put_vendor(char* out, const VirtCpuid& c) {
    const u32 words[3] = {c.vendor_ebx, c.vendor_edx, c.vendor_ecx};
    for (int w = 0; w < 3; ++w)
        for (int i = 0; i < 4; ++i) out[w * 4 + i] = char((words[w] >> (8 * i)) & 0xFF);
    out[12] = 0;
}

} // namespace

VirtChoice choose_virt_backend(const VirtCpuid& c, const VirtMsrs& m) {
    VirtChoice out;
    put_vendor(out.vendor, c);
    const bool svm = c.max_ext_leaf >= 0x8000'0001 && (c.ext1_ecx & EXT1_ECX_SVM);
    const bool npt = c.max_ext_leaf >= 0x8000'000A && (c.svm_edx & SVM_EDX_NP);
    const bool vmx = c.leaf1_ecx & LEAF1_ECX_VMX;

    const char* svm_problem = nullptr;
    if (svm) {
        if (m.vm_cr & VM_CR_SVMDIS) svm_problem = "SVM is disabled by the firmware (VM_CR.SVMDIS)";
        else if (!npt) svm_problem = "SVM has no nested paging (CPUID 8000_000Ah EDX[0])";
        else {
            out.backend = VirtBackend::Svm;
            out.why = "CPUID 8000_0001h ECX.SVM with nested paging (8000_000Ah EDX[0]), VM_CR.SVMDIS clear";
            return out;
        }
    }
    const char* vmx_problem = nullptr;
    if (vmx) {
        const u64 fc = m.feature_control;
        if ((fc & vmx::FEATURE_CONTROL_LOCK) && !(fc & vmx::FEATURE_CONTROL_VMX_OUTSIDE_SMX)) {
            vmx_problem = "VMX is disabled by the firmware (IA32_FEATURE_CONTROL locked without VMX outside SMX)";
        } else if (fc & vmx::FEATURE_CONTROL_LOCK) {
            out.backend = VirtBackend::Vmx;
            out.why = "CPUID 1 ECX.VMX, IA32_FEATURE_CONTROL locked with VMX outside SMX";
            return out;
        } else {
            out.backend = VirtBackend::Vmx;
            out.lock_feature_control = true;
            out.why = "CPUID 1 ECX.VMX, IA32_FEATURE_CONTROL unlocked (cxvisor enables VMX outside SMX and locks it)";
            return out;
        }
    }
    out.why = svm_problem ? svm_problem
              : vmx_problem ? vmx_problem
                            : "neither SVM (CPUID 8000_0001h ECX[2]) nor VMX (CPUID 1 ECX[5]) is reported";
    return out;
}

} // namespace arch
