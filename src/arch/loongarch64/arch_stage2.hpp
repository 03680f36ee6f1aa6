// Binds GPA translation for generic code. Under LVZ a guest's physical addresses are translated by
// the host's own TLB, its entries tagged with the guest's GID, refilled by cxvisor's TLB refill
// handler (boot.S) from a GPA table in the LoongArch page-table format (page_format.hpp
// LvzGpaFormat): a guest access whose GPA has no TLB entry exits to the refill entry with the GPA
// in TLBRBADV (LVZ QEMU, ../shared/platform-notes.md), and the handler walks the running VM's table
// (CSR SAVE1, set by the vCPU around guest entry) instead of cxvisor's.
#pragma once
#include "addrspace/addr_space.hpp"
#include "arch.hpp"
#include "page_format.hpp"

namespace arch {

using Stage2Format = LvzGpaFormat;

struct Stage2Config {
    constexpr TableGeometry geometry() const { return LvzGpaFormat::geometry(); }
};
inline Stage2Config stage2_cpu_config() { return {}; }
// The table stores before the refill handler's LDDIR/LDPTE read them (DBAR 0: every access kind,
// LA Vol. 1 v1.10, 2.2.8.1).
inline void publish_stage2_updates() { la::dbar(); }

// GPA-table maintenance for one VM (vcpu.cpp). LoongArch TLB maintenance is local to the core that
// executes INVTLB (LA Vol. 1 v1.10, 4.2.5.5; there is no broadcast form), so:
// - invalidate_range/invalidate_all (a mapping removed or weakened) invalidate on this core and
//   bump the VM's TLB generation; every vCPU of the VM compares it with what its core last saw
//   before it enters the guest and invalidates there too (a vCPU running on another core at that
//   moment keeps its entries until its next exit: cxvisor removes or weakens GPA mappings only of
//   VMs whose vCPUs are stopped, or in ways the guest cannot observe in between).
// - an unmapped -> mapped change is handled lazily as on riscv64: a core that cached the invalid
//   entry (the refill handler fills V = 0 leaves too) faults again with Ecode 1/2, the generic
//   fault path finds the GPA mapped and calls fault_retry there, which invalidates locally. The
//   LVZ QEMU needs this too: a remap is not seen until INVTLB (its README).
// The invalidation itself is INVTLB op 0 (every entry of this core, host and guest alike): always
// correct; the per-GID forms (op 0x14..0x16 in Linux's invtlb_ops) are left until they can be
// tested on something that implements them (the LVZ QEMU decodes ops 0..6 only).
struct Stage2Tlb {
    u64 vmid = 0;
    void invalidate_range(u64, u64) { invalidate_all(); }
    void invalidate_all();
    void after_map(u64, u64) {}
    void fault_retry(u64) { invalidate_local(); }
    // Instruction fetches see earlier stores after IBAR (LA Vol. 1 v1.10, 2.2.8.2) on the fetching
    // core; the generation check in the vCPU's entry path runs IBAR on other cores.
    void prepare_exec(HostPhysAddr, u64) { la::ibar(); }
    static void invalidate_local() { asm volatile("dbar 0\n\tinvtlb 0, $zero, $zero" ::: "memory"); }
};
static_assert(Stage2Maintenance<Stage2Tlb>, "loongarch64 GPA-table maintenance must satisfy the generic contract");

} // namespace arch
