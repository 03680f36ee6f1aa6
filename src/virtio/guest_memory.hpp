// The only way virtio code touches a VM's memory. Every ring, descriptor and buffer access goes
// through here so that one check decides what a guest-supplied address may reach: the VM's RAM and
// nothing else (no holes, no device MMIO, no range that wraps 2^64). The real implementation wraps
// the VM's address space; host tests use a fake with explicit RAM ranges.
#pragma once
#include "base/result.hpp"

namespace virtio {

class GuestMemory {
public:
    // True when [gpa, gpa + len) lies entirely in the VM's RAM (len 0: gpa itself is RAM).
    virtual bool is_ram(u64 gpa, u64 len) const = 0;
    // Copy len bytes from / to guest-physical gpa. Error::OutOfRange unless is_ram(gpa, len); a
    // failed access copies nothing.
    virtual Result<void> read(u64 gpa, void* dst, usize len) = 0;
    virtual Result<void> write(u64 gpa, const void* src, usize len) = 0;

protected:
    ~GuestMemory() = default;
};

} // namespace virtio
