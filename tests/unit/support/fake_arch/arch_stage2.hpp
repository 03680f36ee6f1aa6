// Fake stage-2 binding: the real aarch64 descriptor format (pure constexpr, no registers), a
// geometry from a settable PARange, and a TLB that records its calls.
#pragma once
#include "addrspace/addr_space.hpp"
#include "arch.hpp"
#include "arch/aarch64/stage2_format.hpp"

namespace arch {

inline Stage2Config stage2_cpu_config() { return stage2_config(fake::parange); }
void publish_stage2_updates();

struct Stage2Tlb {
    u64 vmid = 0;
    void invalidate_range(u64 ipa, u64 size) { fake::tlb_calls.push_back({vmid, ipa, size}); }
    void invalidate_all() { fake::tlb_calls.push_back({vmid, 0, 0}); }
    void prepare_exec(HostPhysAddr, u64) {} // no instruction cache on the host fake
    void after_map(u64, u64) {}             // the fake's TLB, like aarch64's, never caches invalid entries
    void fault_retry(u64 ipa) { fake::fault_retries.push_back({vmid, ipa, 0}); }
};
static_assert(Stage2Maintenance<Stage2Tlb>);

} // namespace arch
