// Physical frame allocator: one bitmap over each RAM range the host DTB reports, minus what is in
// use at boot (cxvisor image + VM package, the DTB, reserved memory). Allocations are contiguous,
// aligned and zeroed (guest RAM must never show another VM's or cxvisor's old data), except
// frames_alloc_unzeroed's.
// Contract: callable from any CPU after frames_init(); internally locked.
#pragma once
#include "addrspace/addr.hpp"
#include "addrspace/frame_source.hpp"
#include "base/result.hpp"

inline constexpr u64 FRAME_SIZE = 4096;

// Boot CPU only, before any allocation. `used` ranges are never handed out.
Result<void> frames_init(const PhysRange* ram, usize ram_count, const PhysRange* used, usize used_count);
Result<HostPhysAddr> frames_alloc(usize count, usize align_bytes);
// The same frames without the zeroing, for cxvisor's own pools whose allocator hands out zeroed
// pieces itself (the heap): memory nobody touches is never written, which on a machine whose RAM
// is backed on first touch (QEMU, a VM under another hypervisor) is RAM never faulted in. Never
// for page tables, and for guest memory only where every byte is written before a guest can map
// it (KernelFrames::alloc_frames_unzeroed).
Result<HostPhysAddr> frames_alloc_unzeroed(usize count, usize align_bytes);
// Zeroes, or cleans, [pa, pa + len) of allocated frames for a guest that may run with its caches
// off (to the point of coherency, as frames_alloc leaves them).
void frames_zero(HostPhysAddr pa, usize len);
void frames_clean(HostPhysAddr pa, usize len);
// Takes exactly [pa, pa + count frames) out of the allocator (identity-mapped guest RAM).
// Busy if any frame there is in use (by cxvisor or another VM), OutOfRange if it is not RAM.
Result<void> frames_reserve(HostPhysAddr pa, usize count);
void frames_free(HostPhysAddr pa, usize count);
usize frames_free_count();
usize frames_total_count();

// The host window: reads host-physical memory that is not RAM cxvisor manages (a reserved
// carve-out, a passthrough device) through a temporary read-only mapping with the memory type the
// guest sees (`device`: Device-nGnRE, else Normal). Installed by the arch MMU code once EL2
// translation is on; until then, and in host unit-test builds, there is none and such memory is
// unreachable (Denied). Called on the accessing CPU with interrupts masked.
using HostWindowRead = Result<void> (*)(HostPhysAddr pa, void* dst, usize len, bool device);
void frames_set_host_window(HostWindowRead read);

// FrameSource::access_host for the kernel (see addrspace/frame_source.hpp): RAM in the frame
// allocator's ranges directly through the identity map (writes cleaned to the point of
// coherency), anything else read-only through the host window, or Denied.
Result<void> frames_access_host(HostPhysAddr pa, u8* buf, usize len, HostOp op, MemFlags type);

// The FrameSource the address-space code uses (identity-mapped hypervisor: VA == PA).
struct KernelFrames {
    Result<HostPhysAddr> alloc_frames(usize count, usize align) { return frames_alloc(count, align); }
    // Guest frames the caller fills entirely before a guest maps them (frame_source.hpp).
    Result<HostPhysAddr> alloc_frames_unzeroed(usize count, usize align) {
        return frames_alloc_unzeroed(count, align);
    }
    void zero_frames(HostPhysAddr pa, usize len) { frames_zero(pa, len); }
    void clean_frames(HostPhysAddr pa, usize len) { frames_clean(pa, len); }
    void free_frames(HostPhysAddr pa, usize count) { frames_free(pa, count); }
    // Page-table frames only: they come from frames_alloc, which hands out identity-mapped RAM.
    void* phys_to_virt(HostPhysAddr pa) { return reinterpret_cast<void*>(pa.value()); }
    Result<void> access_host(HostPhysAddr pa, u8* buf, usize len, HostOp op, MemFlags type) {
        return frames_access_host(pa, buf, len, op, type);
    }
};
inline KernelFrames g_kernel_frames;
