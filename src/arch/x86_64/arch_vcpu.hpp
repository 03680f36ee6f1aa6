// Binds arch::Vcpu for generic code: the SVM backend (vcpu.hpp). A CPU without SVM and nested
// paging runs no VM: vmm/main.cpp refuses every VM with the reason below.
#pragma once
#include "vcpu.hpp"

namespace arch {
// Null when this machine's CPUs run guests (SVM present, enabled, with nested paging; svm.cpp).
const char* vcpu_backend_missing();
} // namespace arch
