// Binds arch::Vcpu for generic code.
#pragma once
#include "vcpu.hpp"

namespace arch {
// Until the SVM backend exists every VM is refused with this reason (vmm/main.cpp create_vms).
inline constexpr const char* vcpu_backend_missing() { return VCPU_BACKEND_MISSING; }
} // namespace arch
