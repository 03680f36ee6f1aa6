// PLACEHOLDER until the riscv64 G-stage format (helper H2, branch wip/rvvcpu) lands. There are no
// G-stage tables yet, so no VM can be built: stage2_cpu_config() says so on the console and
// returns a geometry the table engine refuses (InvalidArgument), so Vm::create fails cleanly and
// the VM is reported as not started. Nothing here is ever used to translate.
#pragma once
#include "addrspace/addr_space.hpp"
#include "arch.hpp"
#include "kernel/log.hpp"
#include "mmu_format.hpp"

namespace arch {

// A format only so that generic code compiles: the geometry below keeps any table from being
// created with it.
struct Stage2Format : SvPte<Stage2Format> {
    static constexpr u64 leaf_attrs(MemFlags) { return 0; }
    static constexpr MemFlags flags(u64) { return MemFlags::None; }
};
static_assert(PageTableFormat<Stage2Format>);

struct Stage2Config {
    TableGeometry geo;
    constexpr TableGeometry geometry() const { return geo; }
};
inline Stage2Config stage2_cpu_config() {
    kprint("cxvisor: riscv64: the vCPU backend is not implemented yet (no G-stage tables, no vCPU): VMs cannot "
           "be created on this ISA\n");
    return {{Stage2Format::leaf_level + 1, 0}}; // refused by PageTable::create
}
inline void publish_stage2_updates() { fence_all(); }

struct Stage2Tlb {
    u64 vmid = 0;
    void prepare_exec(HostPhysAddr, u64) { invalidate_icache_all(); }
    void invalidate_range(u64, u64) { not_implemented(); }
    void invalidate_all() { not_implemented(); }
    void after_map(u64, u64) { not_implemented(); }

private:
    static void not_implemented() { kprint("cxvisor: riscv64: the vCPU backend is not implemented yet (G-stage TLB)\n"); }
};
static_assert(Stage2Maintenance<Stage2Tlb>);

} // namespace arch
