#pragma once
#include "kernel/host_platform.hpp"

namespace arch {
// Boot core: build cxvisor's identity map and turn paging on. Secondary cores: the same tables.
Result<void> mmu_init(const HostPlatform& p, const PhysRange* extra, usize extra_count);
void mmu_enable_secondary();
}
