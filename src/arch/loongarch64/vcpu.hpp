// The loongarch64 vCPU backend: LVZ (guest CSRs, GSTAT.PGM + ERTN entry, exits, GPA tables) is the
// next step of the port (issue 11 part 2). Until it exists the class only satisfies the generic
// interface (vcpu/unwritten_backend.hpp), and vcpu_backend_missing() (arch_vcpu.hpp) makes
// vmm/main.cpp refuse every VM with one line that says why: no LVZ on this CPU, or LVZ found and
// the backend not written.
#pragma once
#include "arch.hpp"
#include "vcpu/unwritten_backend.hpp"

namespace arch {

[[noreturn]] void vcpu_backend_reached(const char* call); // vcpu.cpp: panics naming the call

using Vcpu = UnwrittenVcpu<vcpu_backend_reached>;
static_assert(ArchVcpu<Vcpu>, "loongarch64 Vcpu must implement the generic vCPU interface");

// Per-CPU virtualization set-up: nothing to do without a backend (vcpu.cpp says what LVZ has).
void virt_cpu_init();
inline const char* describe_sysreg(u64, char* buf, usize size) {
    if (size) buf[0] = 0;
    return buf;
}

} // namespace arch
