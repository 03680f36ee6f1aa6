// FrameSource: where page tables and guest RAM get their 4 KiB frames. The image binds it to the
// kernel frame allocator (phys_to_virt is the identity there); tests bind it to malloc'd memory.
#pragma once
#include "addrspace/addr.hpp"
#include "base/result.hpp"
#include <concepts>

// Contract:
// - alloc_frames(count, align_bytes): `count` contiguous 4 KiB frames, ZEROED, aligned to
//   align_bytes (a power of two >= 4 KiB); Error::NoMemory when none is free.
// - free_frames(pa, count): returns frames. Any page-aligned sub-range of an allocation may be
//   freed on its own (AddrSpace frees 4 KiB pieces of a 2 MiB block after a split), so the
//   allocator must track frames individually (bitmap or buddy), not whole allocations.
// - phys_to_virt(pa): where the hypervisor reaches that frame.
// Callers hold whatever lock protects the address space; the source does its own locking.
template <typename S>
concept FrameSource = requires(S& s, HostPhysAddr pa, usize n) {
    { s.alloc_frames(n, n) } -> std::same_as<Result<HostPhysAddr>>;
    { s.free_frames(pa, n) } -> std::same_as<void>;
    { s.phys_to_virt(pa) } -> std::same_as<void*>;
};
