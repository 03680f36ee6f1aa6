#include "svm.hpp"
#include "cpu.hpp"

namespace arch {

SvmInfo svm_probe() {
    SvmInfo s;
    if (x86::cpuid(0x8000'0000).a < 0x8000'000A) return s;
    s.present = x86::cpuid(0x8000'0001).c & bit(2);
    if (!s.present) return s;
    s.disabled = x86::rdmsr(x86::MSR_VM_CR) & x86::VM_CR_SVMDIS;
    const x86::CpuidRegs f = x86::cpuid(0x8000'000A);
    s.revision = f.a & 0xFF;
    s.asids = f.b;
    s.npt = f.d & bit(0);
    s.nrips = f.d & bit(3);
    s.vmcb_clean = f.d & bit(5);
    s.flush_by_asid = f.d & bit(6);
    s.decode_assists = f.d & bit(7);
    return s;
}

// 15.4: EFER.SVME = 1 makes VMRUN, VMLOAD, VMSAVE, CLGI, STGI and SKINIT usable; with
// VM_CR.SVMDIS set the write would raise #GP, so it is not attempted.
bool svm_enable_this_cpu() {
    const SvmInfo s = svm_probe();
    if (!s.present || s.disabled) return false;
    x86::wrmsr(x86::MSR_EFER, x86::rdmsr(x86::MSR_EFER) | x86::EFER_SVME);
    return true;
}

} // namespace arch
