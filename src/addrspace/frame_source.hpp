// FrameSource: where page tables and guest RAM get their 4 KiB frames, and how the hypervisor
// reaches host-physical memory behind a guest mapping. The image binds it to the kernel frame
// allocator and the host window (kernel/frames.hpp); tests bind it to malloc'd memory.
#pragma once
#include "addrspace/addr.hpp"
#include "base/result.hpp"
#include <concepts>

// What access_host does with the bytes.
enum class HostOp : u8 {
    Read,  // host memory -> buffer
    Write, // buffer -> host memory
    Zero,  // host memory = 0 (the buffer is not used)
};

// Contract:
// - alloc_frames(count, align_bytes): `count` contiguous 4 KiB frames, ZEROED, aligned to
//   align_bytes (a power of two >= 4 KiB); Error::NoMemory when none is free.
// - alloc_frames_unzeroed(count, align_bytes): the same without the zeroing, for frames whose
//   every byte the caller writes (zero_frames, or an image copied in) before any guest can map
//   them: 2 MiB a copy-on-write block overwrites anyway are not zeroed first.
// - zero_frames(pa, len) / clean_frames(pa, len): for frames THIS SOURCE handed out: zeroes
//   [pa, pa + len), or makes bytes the hypervisor wrote there through phys_to_virt visible, to a
//   guest running with its caches off (cleaned to the point of coherency where caches are not).
// - free_frames(pa, count): returns frames. Any page-aligned sub-range of an allocation may be
//   freed on its own (AddrSpace frees 4 KiB pieces of a 2 MiB block after a split), so the
//   allocator must track frames individually (bitmap or buddy), not whole allocations.
// - phys_to_virt(pa): where the hypervisor reaches a frame THIS SOURCE handed out (page tables).
//   Never for any other host address: that is what access_host is for.
// - access_host(pa, buf, len, op, type): the one way guest memory is touched. [pa, pa + len) is
//   contiguous host-physical memory behind one stage-2 leaf; `type` is that leaf's MemFlags (only
//   MemFlags::Device matters: the memory type the guest sees). RAM the source manages is reached
//   directly (writes are cleaned to the point of coherency: a guest may run with its caches off).
//   Anything else (a reserved carve-out, a passthrough device) is only ever READ, through a
//   temporary mapping of the same memory type; from Device memory only naturally aligned 4-byte
//   words (what an instruction fetch needs; device registers may have read side effects, so no
//   wider or byte reads). Whatever cannot be served this way returns an error (Denied) and
//   touches nothing; it never faults. A failing call may have transferred a prefix.
// Callers hold whatever lock protects the address space; the source does its own locking. The
// calling CPU may not be interrupted by another access_host call (cxvisor runs with interrupts
// masked), as the temporary mapping is per CPU.
template <typename S>
concept FrameSource = requires(S& s, HostPhysAddr pa, usize n, u8* buf, HostOp op, MemFlags type) {
    { s.alloc_frames(n, n) } -> std::same_as<Result<HostPhysAddr>>;
    { s.alloc_frames_unzeroed(n, n) } -> std::same_as<Result<HostPhysAddr>>;
    { s.zero_frames(pa, n) } -> std::same_as<void>;
    { s.clean_frames(pa, n) } -> std::same_as<void>;
    { s.free_frames(pa, n) } -> std::same_as<void>;
    { s.phys_to_virt(pa) } -> std::same_as<void*>;
    { s.access_host(pa, buf, n, op, type) } -> std::same_as<Result<void>>;
};
