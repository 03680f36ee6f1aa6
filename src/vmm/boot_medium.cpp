#include "vmm/boot_medium.hpp"
#include "arch.hpp"
#include "drivers/fw_cfg.hpp"
#include "kernel/frames.hpp"
#include "kernel/log.hpp"
#include "vmm/package.hpp"

namespace boot_medium {
namespace {

fw_cfg::File g_file;
alignas(16) u8 g_header[sizeof(vm_package::PackageHeader)];

} // namespace

Package load_package(const HostPlatform& plat, HostPhysAddr at, const PhysRange* busy, usize busy_count) {
    Package out;
    if (!plat.fdt) return out; // no device tree (x86: Multiboot), no fw_cfg that cxvisor drives
    const fw_cfg::Probe probe = fw_cfg::probe(*plat.fdt);
    auto file = fw_cfg::open(probe, kPackageFile);
    if (file.is_error()) {
        // Without fw_cfg or without the file there is simply no package here; a fw_cfg cxvisor
        // cannot use is worth a line only if someone meant to boot from it, which it cannot tell.
        if (file.error() == Error::DeviceError)
            kprint("cxvisor: fw_cfg: reading its file directory failed; no VM package read from it\n");
        if (file.error() == Error::Unsupported)
            kprint("cxvisor: fw_cfg at %lx has no DMA interface or is not DMA-coherent; no VM package read from it\n",
                   probe.mmio.base.value());
        return out;
    }
    out.present = true;
    out.registers = {HostPhysAddr(align_down(probe.mmio.base.value(), FRAME_SIZE)), FRAME_SIZE};
    const u64 size = file.value().size();
    if (size < sizeof g_header ||
        file.value().read_at_boot(0, HostPhysAddr(u64(g_header)), sizeof g_header).is_error()) {
        kprint("cxvisor: the VM package in fw_cfg file %s cannot be read (%lu bytes); no VMs started\n", kPackageFile,
               size);
        return out;
    }
    const char* why = nullptr;
    auto h = package_open(g_header, size, arch::PACKAGE_ISA, &why);
    if (h.is_error()) {
        kprint("cxvisor: the VM package in fw_cfg file %s is corrupt: %s; no VMs started\n", kPackageFile, why);
        return out;
    }
    const u64 resident = h.value()->resident_size;
    const PhysRange dst{at, align_up(resident, FRAME_SIZE)};
    bool in_ram = false;
    for (u32 i = 0; i < plat.ram_count; ++i) in_ram |= plat.ram[i].contains(dst.base, dst.size);
    bool clash = false;
    for (usize i = 0; i < busy_count; ++i) clash |= busy[i].size && busy[i].overlaps(dst.base, dst.size);
    if (!in_ram || clash) {
        kprint("cxvisor: the VM package in fw_cfg file %s needs %lu KiB of RAM at %lx, after cxvisor's image, but "
               "%s; no VMs started\n",
               kPackageFile, dst.size / KiB, at.value(),
               !in_ram ? "that is not RAM (give the machine more, QEMU -m)"
                       : "the firmware's data (device tree, reserved memory) lies there");
        return out;
    }
    if (auto r = file.value().read_at_boot(0, at, resident); r.is_error()) {
        kprint("cxvisor: reading the VM package from fw_cfg file %s failed (%s); no VMs started\n", kPackageFile,
               error_name(r.error()));
        return out;
    }
    // Checked again where it now lies: what the checks of each record read is this copy.
    auto in_memory = package_open(reinterpret_cast<const void*>(at.value()), size, arch::PACKAGE_ISA, &why);
    if (in_memory.is_error()) {
        kprint("cxvisor: the VM package in fw_cfg file %s changed while read: %s; no VMs started\n", kPackageFile, why);
        return out;
    }
    g_file = file.value();
    out.medium = &g_file;
    out.header = in_memory.value();
    out.resident = dst;
    kprint("cxvisor: VM package from fw_cfg file %s: %lu KiB, %lu KiB of it in RAM; kernels are read into each "
           "VM's RAM as it touches them\n",
           kPackageFile, size / KiB, resident / KiB);
    return out;
}

} // namespace boot_medium
