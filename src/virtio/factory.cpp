#include "virtio/factory.hpp"
#include "kernel/log.hpp"
#include "virtio/blk.hpp"
#include "virtio/console.hpp"
#include <new>

namespace virtio {

using vm_package::EmuType;

namespace {

Result<Device*> not_built(const vm_package::EmuDevice& d, const DeviceEnv& env, const char* type) {
    kprint("cxvisor: vm %u (%s): device %.31s: %s is not built into this image\n", env.vm_id, env.vm_name, d.name,
           type);
    return Error::Unsupported;
}

Result<Device*> created(Device* dev, const vm_package::EmuDevice& d, const DeviceEnv& env) {
    if (dev) return dev;
    kprint("cxvisor: vm %u (%s): device %.31s: out of memory for the virtio device (heap)\n", env.vm_id, env.vm_name,
           d.name);
    return Error::NoMemory;
}

} // namespace

Result<Device*> create_device(const vm_package::EmuDevice& d, const DeviceEnv& env) {
    switch (EmuType(d.type)) {
    case EmuType::VirtioConsole:
        // No parameters (vm_package.hpp): package_check_vm has checked cfg_count is 0.
        return created(new (std::nothrow) ConsoleDevice(d.name, env.vm_name), d, env);
    case EmuType::VirtioBlk: // cfg words checked by package_check_vm; the backend's own checks there
        return create_block_device(d, env.package, env.package_size, env.vm_name, env.vm_id);
    case EmuType::VirtioNet: return not_built(d, env, "virtio-net");
    default: break;
    }
    kprint("cxvisor: vm %u (%s): device %.31s: type %u is not a virtio device\n", env.vm_id, env.vm_name, d.name,
           d.type);
    return Error::InvalidArgument;
}

} // namespace virtio
