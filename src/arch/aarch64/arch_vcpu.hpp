// Binds arch::Vcpu for generic code.
#pragma once
#include "vcpu.hpp"

namespace arch {
// The backend is complete: every VM that passes its checks is built (vmm/main.cpp create_vms).
inline constexpr const char* vcpu_backend_missing() { return nullptr; }
} // namespace arch
