// AMD SVM detection and enabling (AMD64 APM vol. 2 rev. 3.42, 15.4 "Enabling SVM", 15.30.1
// "VM_CR MSR"; CPUID 8000_0001h ECX[2] SVM, 8000_000Ah: EAX[7:0] SVM revision, EBX number of
// ASIDs, EDX features, APM vol. 3 rev. 3.36 appendix E.4.9). The vCPU backend that uses it (VMCB,
// VMRUN) is the next step of the port: until then no VM starts (arch_vcpu.hpp).
#pragma once
#include "base/types.hpp"

namespace arch {

struct SvmInfo {
    bool present = false;      // CPUID 8000_0001h ECX.SVM
    bool disabled = false;     // VM_CR.SVMDIS: the firmware locked SVM off (EFER.SVME would #GP)
    bool npt = false;          // 8000_000Ah EDX[0] nested paging
    bool nrips = false;        // EDX[3] next-RIP save
    bool flush_by_asid = false; // EDX[6]
    bool decode_assists = false; // EDX[7]
    bool vmcb_clean = false;   // EDX[5]
    u32 revision = 0;
    u32 asids = 0;
};
// What the calling CPU offers (reads CPUID and VM_CR only).
SvmInfo svm_probe();
// Sets EFER.SVME on the calling CPU when SVM is there and not disabled; false otherwise.
bool svm_enable_this_cpu();

} // namespace arch
