// Binds arch::Vcpu for generic code.
#pragma once
#include "lvz.hpp"
#include "vcpu.hpp"

namespace arch {
// Every VM is refused with this reason until the LVZ backend exists (vmm/main.cpp create_vms):
// CPUCFG2 says whether the CPU lacks LVZ or only the backend is missing.
inline const char* vcpu_backend_missing() { return vcpu_missing_reason(la::cpucfg(2)); }
} // namespace arch
