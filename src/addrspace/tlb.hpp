// Tlb: TLB maintenance for one address space (on aarch64: TLBI IPAS2E1IS by IPA under the VM's
// VMID, then TLBI VMALLE1IS, DSB ISH, ISB — written in arch code). Host tests use a recorder.
#pragma once
#include "addrspace/addr.hpp"
#include "base/types.hpp"

// invalidate_range(ipa, size): drop every cached translation (leaf and walk-cache entries) of
// [ipa, ipa + size) on all CPUs, and return only once that is complete. invalidate_all(): the same
// for the whole address space.
//
// The walker calls it after every change that removes or weakens a mapping (unmap, protect, the
// "break" step of a block split, unhooking an empty table) and before the freed frames can be
// reused; it never calls it when it only adds mappings: a TLB only ever caches translations that
// came from valid descriptors (Arm ARM DDI0487 D8 "Translation Lookaside Buffers", "TLB maintenance
// requirements"), so replacing an invalid descriptor by a valid one needs no invalidation. It does need to be visible to
// the hardware walker: arch code executes DSB ISHST before the guest can use a new mapping (e.g. on
// the way back into the guest after a stage-2 fault).
template <typename T>
concept Tlb = requires(T& t, u64 addr, u64 size) {
    t.invalidate_range(addr, size);
    t.invalidate_all();
};

// What an AddrSpace needs beyond the walker's TLB maintenance. prepare_exec(pa, size): RAM at
// host-physical [pa, pa + size) is about to be mapped executable for the guest: make instruction
// fetches see its current contents (no instruction cache may still hold what the frames held
// before, another VM's code). Called before the stage-2 entry is written, so no vCPU can fetch
// through the new mapping before it completes (KVM does the same).
template <typename T>
concept Stage2Maintenance = Tlb<T> && requires(T& t, HostPhysAddr pa, u64 size) { t.prepare_exec(pa, size); };
