// Physical frame allocator: one bitmap over each RAM range the host DTB reports, minus what is in
// use at boot (cxvisor image + VM package, the DTB, reserved memory). Allocations are contiguous,
// aligned and zeroed (guest RAM must never show another VM's or cxvisor's old data).
// Contract: callable from any CPU after frames_init(); internally locked.
#pragma once
#include "addrspace/addr.hpp"
#include "base/result.hpp"

inline constexpr u64 FRAME_SIZE = 4096;

// Boot CPU only, before any allocation. `used` ranges are never handed out.
Result<void> frames_init(const PhysRange* ram, usize ram_count, const PhysRange* used, usize used_count);
Result<HostPhysAddr> frames_alloc(usize count, usize align_bytes);
// Takes exactly [pa, pa + count frames) out of the allocator (identity-mapped guest RAM).
// Busy if any frame there is in use (by cxvisor or another VM), OutOfRange if it is not RAM.
Result<void> frames_reserve(HostPhysAddr pa, usize count);
void frames_free(HostPhysAddr pa, usize count);
usize frames_free_count();
usize frames_total_count();

// The FrameSource the address-space code uses (identity-mapped hypervisor: VA == PA).
struct KernelFrames {
    Result<HostPhysAddr> alloc_frames(usize count, usize align) { return frames_alloc(count, align); }
    void free_frames(HostPhysAddr pa, usize count) { frames_free(pa, count); }
    void* phys_to_virt(HostPhysAddr pa) { return reinterpret_cast<void*>(pa.value()); }
};
inline KernelFrames g_kernel_frames;
