// Binds GPA translation for generic code. Under LVZ a guest's physical addresses are translated by
// the host's own TLB, entries tagged with the guest's GID and refilled from a GPA table in the
// same LoongArch format (LVZ volume; platform notes: a GPA miss exits through TLB refill). That
// table, its GID-tagged refill and its maintenance (INVTLB by GID) are the LVZ backend's (issue
// 11 part 2): until it exists no VM is created (arch_vcpu.hpp), the format bound here is cxvisor's
// own (page_format.hpp) so the generic layers build, and a maintenance call that is reached
// anyway says so.
#pragma once
#include "addrspace/addr_space.hpp"
#include "arch.hpp"
#include "page_format.hpp"
#include "vcpu/unwritten_backend.hpp"

namespace arch {

using Stage2Format = HostLaFormat;

struct Stage2Config {
    constexpr TableGeometry geometry() const { return HostLaFormat::geometry(); }
};
inline Stage2Config stage2_cpu_config() { return {}; }
inline void publish_stage2_updates() { la::dbar(); }

[[noreturn]] void vcpu_backend_reached(const char* call); // vcpu.cpp

using Stage2Tlb = UnwrittenStage2Tlb<vcpu_backend_reached>;
static_assert(Stage2Maintenance<Stage2Tlb>, "loongarch64 GPA-table maintenance must satisfy the generic contract");

} // namespace arch
