#include "virtio/factory.hpp"
#include "kernel/log.hpp"
#include "virtio/blk.hpp"
#include "virtio/console.hpp"
#include "virtio/net.hpp"
#include "virtio/net_config.hpp"
#include <new>

namespace virtio {

using vm_package::EmuType;

namespace {

Result<Device*> created(Device* dev, const vm_package::EmuDevice& d, const DeviceEnv& env) {
    if (dev) return dev;
    kprint("cxvisor: vm %u (%s): device %.31s: out of memory for the virtio device (heap)\n", env.vm_id, env.vm_name,
           d.name);
    return Error::NoMemory;
}

// A virtio-net device on the switch of its network (vm_package.hpp: cfg[0] MAC, cfg[1] network).
// package_check_vm checked the words already; checked again here because the switch index must
// never come from an unchecked word.
Result<Device*> create_net(const vm_package::EmuDevice& d, const DeviceEnv& env) {
    if (const char* why = net_cfg_problem(d)) {
        kprint("cxvisor: vm %u (%s): device %.31s: virtio-net: %s\n", env.vm_id, env.vm_name, d.name, why);
        return Error::BadFormat;
    }
    auto r = NetDevice::create(d.cfg[0], network_switch(u32(d.cfg[1])), env.vm_id);
    if (r.is_ok()) return static_cast<Device*>(r.value());
    if (r.error() == Error::Busy)
        kprint("cxvisor: vm %u (%s): device %.31s: virtual switch of network %lu is full (%zu ports)\n", env.vm_id,
               env.vm_name, d.name, d.cfg[1], VSwitch::kMaxPorts);
    else
        kprint("cxvisor: vm %u (%s): device %.31s: virtio-net: %s\n", env.vm_id, env.vm_name, d.name,
               error_name(r.error()));
    return r.error();
}

} // namespace

Result<Device*> create_device(const vm_package::EmuDevice& d, const DeviceEnv& env) {
    switch (EmuType(d.type)) {
    case EmuType::VirtioConsole:
        // No parameters (vm_package.hpp): package_check_vm has checked cfg_count is 0.
        return created(new (std::nothrow) ConsoleDevice(d.name, env.vm_name), d, env);
    case EmuType::VirtioBlk: // cfg words checked by package_check_vm; the backend's own checks there
        return create_block_device(d, env.package, env.package_size, env.vm_name, env.vm_id);
    case EmuType::VirtioNet: return create_net(d, env);
    default: break;
    }
    kprint("cxvisor: vm %u (%s): device %.31s: type %u is not a virtio device\n", env.vm_id, env.vm_name, d.name,
           d.type);
    return Error::InvalidArgument;
}

} // namespace virtio
