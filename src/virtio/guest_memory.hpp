// The only way virtio code touches a VM's memory. Every ring, descriptor and buffer access goes
// through here so that one check decides what a guest-supplied address may reach: the VM's RAM and
// nothing else (no holes, no device MMIO, no range that wraps 2^64). The real implementation wraps
// the VM's address space; host tests use a fake with explicit RAM ranges.
#pragma once
#include "base/result.hpp"

namespace virtio {

// Host-physical memory behind guest memory, for a device that moves data by DMA.
struct HostRun {
    u64 pa;    // host-physical (bus) address
    usize len; // contiguous bytes from pa
};

class GuestMemory {
public:
    // True when [gpa, gpa + len) lies entirely in the VM's RAM (len 0: gpa itself is RAM).
    virtual bool is_ram(u64 gpa, u64 len) const = 0;
    // Copy len bytes from / to guest-physical gpa. Error::OutOfRange unless is_ram(gpa, len); a
    // failed access copies nothing.
    virtual Result<void> read(u64 gpa, void* dst, usize len) = 0;
    virtual Result<void> write(u64 gpa, const void* src, usize len) = 0;
    // Where a DMA device may transfer at gpa instead of copying: the host-physical address of gpa
    // and how many bytes from there are contiguous (at most len, > 0; a run ends at a 4 KiB page
    // boundary of gpa at the earliest, or at gpa + len). The same check as read (device_writes
    // false) or write (true) comes first, so a device never reaches where they would refuse
    // (OutOfRange); the memory is made ready as they would (lazy RAM backed, a copy-on-write page
    // unshared before the device writes it). The frames stay the VM's while the calling device
    // holds its lock in a vCPU's exit (docs/virtio.md, "Why DMA into a guest's pages is safe").
    virtual Result<HostRun> host_run(u64 gpa, usize len, bool device_writes) = 0;

protected:
    ~GuestMemory() = default;
};

} // namespace virtio
