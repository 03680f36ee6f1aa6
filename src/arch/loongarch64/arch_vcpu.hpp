// Binds arch::Vcpu for generic code.
#pragma once
#include "lvz.hpp"
#include "vcpu.hpp"

namespace arch {
// Why no VM can run on this machine (vmm/main.cpp create_vms refuses every VM with it), or null:
// the CPU has no LVZ (CPUCFG2), or a core's LVZ set-up failed (vcpu.cpp virt_cpu_init).
const char* vcpu_backend_missing();
} // namespace arch
