// ImageMedium: where an address-space image's bytes are when they are not in host memory (a boot
// medium: the VM package on QEMU's fw_cfg, vmm/boot_medium.hpp). AddrSpace::map_image_from
// reads a block's bytes from it into the VM's own frames at the block's first touch, and again
// after each reset(): nothing of the image stays in host memory between VM lives, and nothing is
// copied twice (compare images in host memory, which are borrowed and copied on write).
#pragma once
#include "addrspace/addr.hpp"
#include "base/result.hpp"

class ImageMedium {
public:
    // Copies `len` bytes at `offset` of the medium into host-physical memory [dst, dst + len)
    // (frames the caller owns and nobody else touches meanwhile), so that they are visible to a
    // guest running with its caches off when this returns. Any CPU; the medium serialises.
    // Errors: OutOfRange past the medium's end, DeviceError when the device reports a failure.
    virtual Result<void> read(u64 offset, HostPhysAddr dst, usize len) = 0;

protected:
    ~ImageMedium() = default;
};
