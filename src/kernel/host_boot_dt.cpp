// arch::host_boot for every ISA whose loader hands over a device tree (aarch64, riscv64): the DTB
// at `boot_arg` is the machine's description (kernel/host_platform.hpp), read by the ISA's
// host_discover; the DTB stays in RAM untouched (boot_data) and gives the host command line
// (/chosen/bootargs). An ISA described otherwise (x86_64: Multiboot and ACPI) sets
// CXV_ARCH_BOOTS_WITHOUT_DTB in its sources.cmake and implements host_boot itself.
#include "kernel/host_platform.hpp"
#include "kernel/frames.hpp"
#include <new>

namespace arch {

Result<void> host_boot(u64 dtb, HostPlatform& out, const char** what) {
    auto fdt = Fdt::create(reinterpret_cast<const void*>(dtb), 2 * MiB);
    if (fdt.is_error()) {
        *what = "no valid device tree";
        return fdt.error();
    }
    alignas(Fdt) static char storage[sizeof(Fdt)]; // for the life of cxvisor (HostPlatform::fdt)
    const Fdt* kept = new (storage) Fdt(fdt.value());
    TRY(host_discover(*kept, out, what));
    out.fdt = kept;
    out.boot_data = {HostPhysAddr(dtb), align_up(kept->totalsize(), FRAME_SIZE)};
    out.cmdline = cmdline_from_fdt(*kept);
    return {};
}

} // namespace arch
