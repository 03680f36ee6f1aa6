// Binds nested paging for generic code: arch::Stage2Format is the long-mode format as nested page
// tables (page_format.hpp NptFormat; AMD64 APM vol. 2 rev. 3.42, 15.25 "Nested Paging") under SVM,
// EPT under VMX (stage2_format.hpp: chosen at boot with the backend).
//
// Under VMX the same generation scheme drives INVEPT instead of TLB_CONTROL (Intel SDM vol. 3C
// 326019-067, 28.3.3.1 "Operations that Invalidate Cached Mappings"): EPT-derived translations are
// tagged by the EPTP, so only a removed or weakened mapping (and a vCPU arriving from another CPU)
// needs a flush, vmx/vcpu_core.hpp run().
//
// TLB maintenance (15.16 "TLB Control", 15.25.11 "TLB Management"): the CPU tags guest
// translations with the VMCB's ASID and invalidates them only through the VMCB's TLB_CONTROL at
// VMRUN (or INVLPGA). cxvisor keeps it simple and correct without FlushByAsid, which QEMU does not
// emulate: a vCPU's VMRUN flushes every ASID (TLB_CONTROL = 1) when another VMCB ran on that CPU
// since, when the vCPU comes from another CPU, or when its VM's nested tables lost a mapping since
// its last flush (the per-VM generation below). Stores to the tables are ordered before the next
// VMRUN by MFENCE.
#pragma once
#include "addrspace/addr_space.hpp"
#include "arch.hpp"
#include "page_format.hpp"
#include "stage2_format.hpp"

namespace arch {

using Stage2Format = X86Stage2Format;

// The nested tables' depth (stage2_format.hpp g_stage2_levels): 5-level where the host pages with
// LA57 (NPT) or the EPTP walks 5 levels (EPT), else 4.
struct Stage2Config {
    X86Paging paging;
    constexpr TableGeometry geometry() const { return paging.geometry(); }
};
inline Stage2Config stage2_cpu_config() { return {X86Paging{g_stage2_levels}}; }
// x86 stores are seen by the table walker in program order (APM vol. 2, 7.2 "Multiprocessor
// Memory Access Ordering"); MFENCE for the stores before the guest runs again.
inline void publish_stage2_updates() { x86::mfence(); }

// Per VM (by VMID = VM slot, below NPT_GEN_SLOTS): bumped when a mapping is removed or weakened.
inline constexpr u32 NPT_GEN_SLOTS = 64;
extern u64 g_npt_generation[NPT_GEN_SLOTS];
// Makes every CPU that may be running a vCPU of any VM leave the guest (a kick IPI: the INTR
// intercept ends its run), so its next VMRUN flushes (vcpu.cpp).
void npt_kick_others();

struct Stage2Tlb {
    u64 vmid = 0;
    // A removed or weakened mapping: every vCPU of the VM flushes at its next VMRUN, and the CPUs
    // running guests are made to exit now so that "next" is soon.
    void invalidate_range(u64, u64) { invalidate_all(); }
    void invalidate_all() {
        x86::mfence();
        __atomic_fetch_add(&g_npt_generation[vmid % NPT_GEN_SLOTS], 1, __ATOMIC_RELEASE);
        npt_kick_others();
    }
    // A new mapping needs no flush: TLBs hold only present translations (APM vol. 2, 5.5
    // "Translation-Lookaside Buffer (TLB)"), so the access that faulted walks the tables again;
    // the MFENCE in publish_stage2_updates orders the stores before the next VMRUN.
    void after_map(u64, u64) {}
    void fault_retry(u64) { x86::mfence(); }
    // Instruction fetches snoop stores on x86 (7.6.2 "Self-Modifying Code"): nothing to do.
    void prepare_exec(HostPhysAddr, u64) {}
    // EPT leaves no larger than the CPU takes (tlb.hpp stage2_max_leaf); NPT: any its format allows.
    u64 max_leaf() const { return g_stage2_max_leaf; }
};
static_assert(Stage2Maintenance<Stage2Tlb>, "x86_64 nested-paging maintenance must satisfy the generic contract");

} // namespace arch
