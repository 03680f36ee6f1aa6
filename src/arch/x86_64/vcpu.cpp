#include "vcpu.hpp"
#include "kernel/log.hpp"
#include "svm.hpp"
#include "kernel/percpu.hpp"

namespace arch {

void vcpu_backend_reached(const char* call) {
    panic("%s: Vcpu::%s reached, but no VM may be created without the backend (vmm/main.cpp)", VCPU_BACKEND_MISSING, call);
}

void virt_cpu_init() {
    if (!svm_enable_this_cpu() && svm_probe().present)
        kprint("cxvisor: x86_64: CPU %lu: SVM is disabled by the firmware (VM_CR.SVMDIS); EFER.SVME left clear\n",
               this_cpu().id);
}

} // namespace arch
