// GICv3 host driver (Arm IHI 0069 "GIC Architecture Specification v3/v4").
#pragma once
#include "base/result.hpp"

namespace arch {

struct GicInfo {
    u64 dist_base;
    u64 redist_base; // first redistributor region
    u64 redist_size;
};

// Boot CPU, once, before irq_cpu_init on any CPU. Addresses come from the host DTB.
Result<void> gic_init(const GicInfo& info);
// Which SGI cxvisor uses to kick another CPU.
inline constexpr u32 SGI_KICK = 0;

} // namespace arch
