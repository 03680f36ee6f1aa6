// Binds the stage-2 (guest-physical -> host-physical) translation for generic code:
// arch::Stage2Format (descriptor encoding), arch::Stage2Tlb (TLB maintenance under a VMID) and
// the table geometry chosen from this CPU's physical address size.
#pragma once
#include "addrspace/addr_space.hpp"
#include "stage2_format.hpp"
#include "sysreg.hpp"

namespace arch {
using namespace arch;

// The PARange this CPU reports (ID_AA64MMFR0_EL1[3:0]), capped at 48 bits.
inline u32 cpu_parange() {
    u32 pa = u32(bits(read_sysreg(id_aa64mmfr0_el1), 3, 0));
    return pa > 5 ? 5 : pa;
}
inline Stage2Config stage2_cpu_config() { return stage2_config(cpu_parange()); }
inline u64 stage2_vtcr() { return stage2_cpu_config().vtcr; }

// After new stage-2 entries were written (never cached, so no TLBI is needed), make the writes
// visible to the table walker before the guest runs again (D8.2.6: DSB after table updates;
// the ERET that enters the guest is the context synchronization).
inline void publish_stage2_updates() { dsb_ishst(); }


// Whether VMs' RAM is mapped with 4 KiB stage-2 pages instead of 2 MiB blocks: set by
// host_discover when the host device tree is QEMU's `virt` machine (root compatible
// "linux,dummy-virt"). QEMU's softmmu TLB (QEMU 7.2 accel/tcg/cputlb.c, target/arm/ptw.c) holds
// only 4 KiB entries; an entry whose stage-1 or stage-2 leaf is larger is recorded in one
// "large page" range per translation regime, and a guest TLBI by VA that falls inside that range
// flushes the whole regime. Every guest translation through a 2 MiB stage-2 block counts as large,
// so the range soon covers the whole VA space and each of Linux's TLBI VAE1IS / VAALE1IS (fixmap
// updates, ftrace and alternatives patching, every page it unmaps) empties the vCPU's TLB, each
// refill then walking both stages. With 4 KiB stage-2 pages only the guest's own blocks count,
// as on bare QEMU. Real hardware holds blocks in single TLB entries: blocks stay the default.
inline bool g_stage2_page_leaves = false;

// TLB maintenance for one VM (Arm ARM D8.14 "TLB maintenance instructions"). TLBI IPAS2E1IS acts
// on the VMID currently in VTTBR_EL2, so the VM's VMID is switched in for the operation (EL2 runs
// with interrupts masked, so nothing runs a guest on this CPU meanwhile). Stage-1 entries cached
// from the removed stage-2 entries are combined entries and need TLBI VMALLE1IS as well (D8.14.5).
struct Stage2Tlb {
    u64 vmid = 0;

    // Frames about to be mapped executable (Tlb::prepare_exec; DDI0487 K.a, the instruction cache
    // maintenance rules of chapter D7 and CTR_EL0.DIC/IDC). A frame was zeroed and cleaned to the
    // point of coherency (so also of unification) when it was allocated; what remains is the
    // instruction cache, which may hold lines of its previous contents where CTR_EL0.DIC == 0.
    // IC IALLUIS, not IC IVAU by address: 32768 lines per 2 MiB block would cost more than
    // refilling the cache. Runs before the stage-2 entry is written: no vCPU can fetch stale lines.
    void prepare_exec(HostPhysAddr, u64) {
        if (read_sysreg(ctr_el0) & bit(29)) return; // DIC: fetches are coherent with data
        dsb_ish();
        asm volatile("ic ialluis" ::: "memory");
        dsb_ish();
        isb();
    }

    template <typename Fn> void with_vmid(Fn&& fn) {
        u64 saved = read_sysreg(vttbr_el2);
        write_sysreg(vttbr_el2, vmid << 48);
        isb();
        fn();
        write_sysreg(vttbr_el2, saved);
        isb();
    }
    // The largest leaf worth writing (tlb.hpp stage2_max_leaf).
    u64 max_leaf() const { return g_stage2_page_leaves ? 4096 : ~u64(0); }
    void invalidate_range(u64 ipa, u64 size) {
        // From 512 pages (a 2 MiB block, e.g. one copied on write) a full VMID flush is cheaper
        // than walking the range one TLBI per page (as Linux's __flush_tlb_range decides).
        if (size >= 512 * 4096) return invalidate_all();
        with_vmid([&] {
            dsb_ishst(); // the descriptor writes must be visible to the walkers first
            for (u64 a = ipa; a < ipa + size; a += 4096) asm volatile("tlbi ipas2e1is, %0" ::"r"(a >> 12) : "memory");
            dsb_ish();
            asm volatile("tlbi vmalle1is" ::: "memory");
            dsb_ish();
            isb();
        });
    }
    // A mapping replaced an invalid descriptor: TLBs never cache invalid descriptors (DDI0487 K.a,
    // D8 "TLB maintenance requirements"), so nothing to invalidate (tlb.hpp).
    void after_map(u64, u64) {}
    // Nor can a CPU have kept one for a faulting address: the re-executed access walks the new
    // descriptor (made visible by publish_stage2_updates on the way back in).
    void fault_retry(u64) {}
    void invalidate_all() {
        with_vmid([] {
            dsb_ishst();
            asm volatile("tlbi vmalls12e1is" ::: "memory");
            dsb_ish();
            isb();
        });
    }
};
static_assert(Stage2Maintenance<Stage2Tlb>, "aarch64 stage-2 maintenance must satisfy the generic contract");

} // namespace arch
