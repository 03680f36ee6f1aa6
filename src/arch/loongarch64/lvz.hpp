// The LoongArch virtualization extension (LVZ): whether this CPU has it, and what cxvisor says
// about it. CPUCFG word 2 bit 10 "LVZ" (LoongArch Reference Manual Vol. 1 v1.10, 2.2.10.5, table
// 2-9; the LVZ volume describes the extension itself). Pure: the reason text is host-tested
// (tests/unit/arch/la_lvz_test.cpp).
#pragma once
#include "base/types.hpp"

namespace arch {

inline constexpr u32 CPUCFG2_LVZ = 1u << 10;
// CPUCFG2.LVVER [13:11]: the LVZ version, meaningful when LVZ = 1.
inline constexpr u32 cpucfg2_lvz_version(u32 cfg2) { return (cfg2 >> 11) & 7; }

// Why no VM can run here (vmm/main.cpp prints "cxvisor: <reason>; VM <name> not started"), or
// null when the CPU has LVZ (the vCPU backend, vcpu.cpp, may still find a core's set-up unusable).
inline constexpr const char* vcpu_missing_reason(u32 cpucfg2) {
    return (cpucfg2 & CPUCFG2_LVZ) ? nullptr : "loongarch64: this CPU has no LVZ (CPUCFG2.LVZ = 0)";
}
// The boot line's sentence about it (host.cpp): one line, with what follows for VMs.
inline constexpr const char* lvz_boot_line(u32 cpucfg2) {
    return (cpucfg2 & CPUCFG2_LVZ) ? "LVZ found (CPUCFG2.LVZ = 1): VMs run under the LVZ vCPU backend"
                                   : "this CPU has no LVZ (CPUCFG2.LVZ = 0): it cannot host VMs; VMs are refused, the shell runs";
}

} // namespace arch
