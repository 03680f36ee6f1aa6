// Tlb: TLB maintenance for one address space (on aarch64: TLBI IPAS2E1IS by IPA under the VM's
// VMID, then TLBI VMALLE1IS, DSB ISH, ISB — written in arch code). Host tests use a recorder.
#pragma once
#include "addrspace/addr.hpp"
#include "base/types.hpp"
#include <concepts>

// invalidate_range(ipa, size): drop every cached translation (leaf and walk-cache entries) of
// [ipa, ipa + size) on all CPUs, and return only once that is complete. invalidate_all(): the same
// for the whole address space.
//
// The walker calls it after every change that removes or weakens a mapping (unmap, protect, the
// "break" step of a block split, unhooking an empty table) and before the freed frames can be
// reused.
//
// after_map(addr, size): [addr, addr + size) was unmapped and is mapped now (a fault backed lazy
// RAM, a copy-on-write page was remapped to its private copy after the break, a region was mapped).
// Whether that needs maintenance is the ISA's: on aarch64 nothing, because a TLB only ever caches
// translations that came from valid descriptors (Arm ARM DDI0487 K.a, D8 "Translation Lookaside
// Buffers", "TLB maintenance requirements"); on an ISA whose TLBs may keep an invalid entry (RISC-V
// without Svvptc: an HFENCE.GVMA of the range) it is a fence. Either way the new descriptors must be
// visible to the hardware walker before the guest uses them: arch code executes its barrier (aarch64:
// DSB ISHST) on the way back into the guest.
template <typename T>
concept Tlb = requires(T& t, u64 addr, u64 size) {
    t.invalidate_range(addr, size);
    t.invalidate_all();
    t.after_map(addr, size);
};

// What an AddrSpace needs beyond the walker's TLB maintenance. prepare_exec(pa, size): RAM at
// host-physical [pa, pa + size) is about to be mapped executable for the guest: make instruction
// fetches see its current contents (no instruction cache may still hold what the frames held
// before, another VM's code). Called before the stage-2 entry is written, so no vCPU can fetch
// through the new mapping before it completes (KVM does the same).
// fault_retry(addr): the vCPU of the calling CPU took a stage-2 fault at addr, and addr is mapped
// with the access it needs now (this CPU just mapped it, or another CPU did, or it was mapped
// before and this CPU's TLB kept an invalid entry): make this CPU's translation of addr current
// before the vCPU re-executes the access. The lazy half of after_map's rule: where a TLB may keep
// an invalid entry, a CPU that did is fenced here when it faults on it, so a new mapping needs
// no fence on every CPU (RISC-V: a local HFENCE.GVMA; aarch64: nothing).
template <typename T>
concept Stage2Maintenance = Tlb<T> && requires(T& t, HostPhysAddr pa, u64 size) {
    t.prepare_exec(pa, size);
    t.fault_retry(size);
};

// Optional: max_leaf() const -> u64, the largest stage-2 leaf the ISA wants written for this space
// (its page size: page descriptors only). Where a TLB's cost depends on leaf sizes (aarch64 on
// QEMU's TCG, arch_stage2.hpp) smaller leaves can be cheaper than blocks. Leaves only: RAM is
// still backed, zeroed and copied in 2 MiB granules. Without the member, any leaf size.
template <typename T> constexpr u64 stage2_max_leaf(const T& t) {
    if constexpr (requires { { t.max_leaf() } -> std::convertible_to<u64>; }) return t.max_leaf();
    else return ~u64(0);
}
