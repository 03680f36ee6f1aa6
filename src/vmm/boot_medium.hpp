// The VM package on a boot medium instead of in the boot image (abi/vm_package.hpp, "Where the
// package is"). On QEMU the medium is the fw_cfg file opt/cxvisor/package:
//     qemu-system-aarch64 ... -kernel cxvisor.bin -fw_cfg name=opt/cxvisor/package,file=vms.pkg
// where vms.pkg is what `cxv-vmconfig -o vms.pkg` writes without --image.
//
// Why: a package in the boot image lies in host RAM for cxvisor's whole life, and a VM's kernel
// is mapped from it copy-on-write, so the blocks the guest writes (most of a Linux kernel's) are
// copied, and a restart finds the original bytes. From a medium, only the resident part (records,
// device trees, RAM disks: usually well under 1 MiB) is read into RAM at boot; a kernel or ramdisk
// is read by DMA straight into the VM's own frames at the first touch of each 2 MiB block
// (AddrSpace::map_image_from), and again after a restart. Each byte of the image is then written
// once per VM life and nothing is copied on write. On QEMU this also spares the copy of the image
// that the -kernel loader keeps and writes into RAM: fw_cfg reads the file once into its own
// memory and serves every read from there.
#pragma once
#include "abi/vm_package.hpp"
#include "addrspace/image_medium.hpp"
#include "kernel/host_platform.hpp"

namespace boot_medium {

inline constexpr const char* kPackageFile = "opt/cxvisor/package";

struct Package {
    const vm_package::PackageHeader* header = nullptr; // in RAM: the resident part
    PhysRange resident{};  // where it was read to (to keep from the frame allocator)
    PhysRange registers{}; // the medium's register window (to map for later reads)
    ImageMedium* medium = nullptr; // kernel and ramdisk blobs past the resident part: Vm::set_package_medium
    bool present = false;  // a package file was found (even if it could not be used)
};

// Boot CPU, before the frame allocator and with translation off (the device is reached at its
// physical address). Looks for the package file on the machine's medium; when there is one,
// checks its header and reads its resident part to `at` (page-aligned), which must lie in one RAM
// bank and outside every range of `busy`. Prints one line either way when a file is found; a
// machine without a medium or without the file gets a Package with present false and no line.
Package load_package(const HostPlatform& plat, HostPhysAddr at, const PhysRange* busy, usize busy_count);

} // namespace boot_medium
