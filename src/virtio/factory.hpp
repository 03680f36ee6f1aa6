// Creates the virtio device type of an emulated device of a VM package (EmuType VirtioBlk,
// VirtioNet, VirtioConsole): the one place that knows every type. The VM builder (vm/vm.cpp) puts
// the result behind an MmioTransport.
#pragma once
#include "abi/vm_package.hpp"
#include "virtio/device.hpp"

namespace virtio {

struct DeviceEnv {
    const u8* package;  // the whole package (blobs a device's cfg words point into)
    u64 package_size;
    const char* vm_name;
    u32 vm_id;
    u32 index;          // the device's index among the VM's emulated devices
};

// A device of EmuDevice `d` (type VirtioBlk/Net/Console), cfg words checked; Error + one console
// line naming VM, device and reason when the cfg is wrong or the backend is unavailable. The
// caller owns the device (deleted through Device's virtual destructor).
Result<Device*> create_device(const vm_package::EmuDevice& d, const DeviceEnv& env);

} // namespace virtio
