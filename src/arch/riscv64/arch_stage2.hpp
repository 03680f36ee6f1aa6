// Binds the G-stage (guest-physical -> host-physical) translation for generic code:
// arch::Stage2Format (PTE encoding), arch::Stage2Tlb (fences under a VMID) and the table
// geometry of the G-stage mode chosen at boot. RISC-V Privileged Spec 20211203, 8.2.10 hgatp,
// 8.3.2 "Hypervisor Memory-Management Fence Instructions", 8.5 "Two-Stage Address Translation";
// RISC-V SBI Specification v2.0, ch. 8 "RFENCE Extension".
#pragma once
#include "abi/sbi.hpp"
#include "addrspace/addr_space.hpp"
#include "arch.hpp" // invalidate_icache_all, fence_all
#include "csr.hpp"
#include "kernel/log.hpp"
#include "firmware.hpp"
#include "stage2_format.hpp"

namespace arch {

using Stage2Format = GStageFormat;
using Stage2Config = GStageConfig;

// The G-stage mode of every VM, chosen once by stage2_probe() on the boot hart, and the VMID width,
// measured by stage2_cpu_probe() on each hart as it comes up; both before any VM exists, read-only
// afterwards.
inline GStageMode g_stage2_mode = GStageMode::Sv39x4;
inline u32 g_vmid_bits = 0;

// Reads back what the hart's hgatp keeps of each MODE and of an all-ones VMID (8.2.10: both WARL;
// VMIDLEN = how many written VMID bits stick). Runs while this hart runs no guest (hgatp is only
// used with V=1) and leaves hgatp as it was.
inline GStageProbe stage2_read_back(u32 va_bits, u64* vmid_ones) {
    GStageProbe p;
    p.va_bits = va_bits;
    const u64 saved = csr::read<csr::hgatp>();
    auto keeps = [](u64 mode) {
        csr::write<csr::hgatp>(mode << 60);
        return (csr::read<csr::hgatp>() >> 60) == mode;
    };
    p.keeps_sv57x4 = keeps(HGATP_MODE_SV57X4);
    p.keeps_sv48x4 = keeps(u64(GStageMode::Sv48x4));
    p.keeps_sv39x4 = keeps(u64(GStageMode::Sv39x4));
    csr::write<csr::hgatp>(u64(GStageMode::Sv39x4) << 60 | u64(0x3fff) << 44);
    *vmid_ones = (csr::read<csr::hgatp>() >> 44) & 0x3fff;
    csr::write<csr::hgatp>(saved);
    hfence_gvma_all(); // nothing may stay cached from the probe values
    return p;
}

// The boot hart, before any VM and before the boot line (host_discover): chooses the G-stage mode
// for every VM (choose_gstage_mode in stage2_format.hpp; va_bits as GStageProbe says). False when
// the hart keeps no G-stage mode cxvisor can use.
inline bool stage2_probe(u32 va_bits) {
    u64 vmid_ones = 0;
    const GStageProbe p = stage2_read_back(va_bits, &vmid_ones);
    const GStageChoice c = choose_gstage_mode(p);
    g_stage2_mode = c.mode;
    return c.ok;
}

// Each hart (virt_cpu_init): VMIDLEN, measured by writing all-ones (QEMU 7.2: 14). False when this
// hart does not keep the mode the boot hart chose, which every hart must: a vCPU may run on any.
inline bool stage2_cpu_probe() {
    u64 vmid = 0;
    const GStageProbe p = stage2_read_back(0, &vmid);
    u32 bits = 0;
    while (bits < 14 && (vmid & (u64(1) << bits))) ++bits;
    g_vmid_bits = bits;
    return g_stage2_mode == GStageMode::Sv48x4 ? p.keeps_sv48x4 : p.keeps_sv39x4;
}
inline Stage2Config stage2_cpu_config() { return gstage_config(g_stage2_mode); }
// Can the hardware tell this VM's translations apart from others by VMID? With VMIDLEN 0 (or a
// VM id that does not fit) it cannot: the vCPU flushes the G-stage and VS-stage TLB of its hart
// whenever it loads on a hart where another VM may have run (vcpu.cpp).
inline bool vmid_fits(u64 vmid) { return vmid != 0 && vmid < (u64(1) << g_vmid_bits); }

// The walker's stores to the G-stage tables must be visible before a guest walks them again. The
// fences below (HFENCE.GVMA, 8.3.2) order them for the harts they reach; this covers the
// re-entry path after a fault was fixed, whose fence already ran in after_map.
inline void publish_stage2_updates() { fence_all(); }

// TLB maintenance for one VM. RISC-V has no broadcast TLB invalidation: HFENCE.GVMA acts on the
// executing hart only (8.3.2), so the other harts are reached through the SBI RFENCE extension
// (SBI v2.0 ch. 8: remote_hfence_gvma_vmid / remote_hfence_gvma, hart_mask_base = -1 for all
// harts; OpenSBI returns once every target has executed the fence). The VMID is the VM's id
// where it fits VMIDLEN, else the fence covers every VMID.
struct Stage2Tlb {
    u64 vmid = 0;

    // Past a few hundred pages one fence of the whole VMID is cheaper than the range; SBI also
    // treats size = 2^XLEN-1 as "everything" (SBI v2.0, 8.1).
    void invalidate_range(u64 gpa, u64 size) {
        if (size > 512 * 4096) size = ~u64(0), gpa = 0;
        remote_fence(gpa, size);
    }
    void invalidate_all() { remote_fence(0, ~u64(0)); }
    // An invalid -> valid change is fenced lazily, on the hart that needs it. Without Svvptc a
    // hart may keep an invalid G-stage entry cached and fault again on the new mapping, but that
    // is all it can do with it: Priv 20211203, 4.2.1 "Supervisor Memory-Management Fence
    // Instruction" lets software fence "changing an invalid PTE to a valid leaf" lazily ("a
    // page-fault exception might occur, at which point software should execute SFENCE.VMA"), and
    // HFENCE.GVMA is the same fence for the G-stage (8.3.2; 8.5.3 "Memory-Management Fences"),
    // local to the hart that executes it. So a new mapping sends no RFENCE to every hart (it used
    // to: one SBI call per lazily backed page); the hart whose vCPU faults on the address, having
    // just mapped it or finding it mapped already (another hart mapped it, or its TLB kept the
    // invalid entry), fences it in fault_retry before the guest re-executes the access.
    void after_map(u64, u64) {}
    void fault_retry(u64 gpa) {
        fence_all(); // the table stores (this hart's, or another's it saw) before the walker reads them
        if (vmid_fits(vmid)) hfence_gvma(gpa >> 2, vmid);
        else hfence_gvma(gpa >> 2, 0); // VMID 0 is what every VM without its own VMID runs under
    }

    // Frames about to be mapped executable (Tlb::prepare_exec). RISC-V instruction fetches are
    // coherent with earlier stores only after FENCE.I on the fetching hart (Unprivileged Spec
    // 20191213, ch. 3 "Zifencei"); invalidate_icache_all adds SBI remote_fence_i for the other
    // harts. Runs before the G-stage entry is written, so no vCPU can fetch the frames before.
    void prepare_exec(HostPhysAddr, u64) { invalidate_icache_all(); }

private:
    void remote_fence(u64 gpa, u64 size) {
        fence_all(); // the table stores before the other harts' fences
        const bool by_vmid = vmid_fits(vmid);
        const sbi::Ret r = by_vmid ? sbi::call(sbi::EXT_RFENCE, cxv_abi::SBI_RFENCE_HFENCE_GVMA_VMID, 0, ~u64(0), gpa, size, vmid)
                                   : sbi::call(sbi::EXT_RFENCE, cxv_abi::SBI_RFENCE_HFENCE_GVMA, 0, ~u64(0), gpa, size);
        if (r.error != sbi::SUCCESS) firmware_failed(by_vmid ? "remote_hfence_gvma_vmid" : "remote_hfence_gvma", r.error);
    }
    // The host needs RFENCE to keep its guests' translations coherent; a firmware that refuses it
    // once VMs exist breaks that invariant.
    [[noreturn]] static void firmware_failed(const char* call, i64 error) {
        panic("cxvisor: SBI RFENCE %s failed (error %ld): stale guest translations cannot be ruled out", call, error);
    }
};
static_assert(Stage2Maintenance<Stage2Tlb>, "riscv64 G-stage maintenance must satisfy the generic contract");

} // namespace arch
