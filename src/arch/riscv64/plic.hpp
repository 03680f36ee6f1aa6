// cxvisor's host driver for the RISC-V PLIC (RISC-V Platform-Level Interrupt Controller
// Specification 1.0.0) and the hart-local interrupts (sie/sip). Each hart takes external
// interrupts through its S-mode context; every PLIC source is enabled in at most one context, so
// exactly one hart claims it.
#pragma once
#include "abi/vm_package.hpp"
#include "base/result.hpp"

namespace arch {

struct PlicConfig {
    u64 base = 0;
    u32 ndev = 0;                              // sources 1..ndev
    u32 hart_count = 0;
    u64 hartid[vm_package::MAX_CPUS] = {};     // each hart's id ...
    u32 s_context[vm_package::MAX_CPUS] = {};  // ... and its S-mode context
};

// Boot hart, before any interrupt is enabled: every source disabled in every listed context,
// priorities 0, implemented priority bits probed.
Result<void> plic_init(const PlicConfig& cfg);

} // namespace arch
