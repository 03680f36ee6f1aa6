// An emulated device behind a guest-physical MMIO window (the open set of devices: UART,
// virtio-mmio, IVC, ...). The VM layer routes stage-2 data aborts in the window here via MmioBus.
#pragma once
#include "addrspace/addr.hpp"
#include "base/result.hpp"

class MmioDevice {
public:
    const char* name() const { return m_name; }
    GuestPhysAddr base() const { return m_base; }
    u64 size() const { return m_size; }
    // First address past the window; add() guarantees base + size does not wrap.
    GuestPhysAddr end() const { return m_base + m_size; }

    // Contract for read()/write(): called by MmioBus from any vCPU on any physical CPU, possibly
    // concurrently, with no bus lock held: the device protects its own state. `offset` is relative
    // to base(), width_bytes is 1, 2, 4 or 8, and offset + width_bytes <= size() (the bus checks).
    // read() returns the value zero-extended in the low width_bytes bytes; write() gets `value`
    // already truncated to width_bytes. An Error means the guest did something the device rejects
    // (bad offset, width or alignment); the VM layer then injects an external abort into the guest.
    virtual Result<u64> read(u64 offset, unsigned width_bytes) = 0;
    virtual Result<void> write(u64 offset, unsigned width_bytes, u64 value) = 0;

protected:
    // `name` must outlive the device (usually a string literal or the VM config blob).
    MmioDevice(const char* name, GuestPhysAddr base, u64 size) : m_name(name), m_base(base), m_size(size) {}
    // Devices are never deleted through the base, so the destructor is protected and non-virtual.
    ~MmioDevice() = default;

private:
    const char* m_name;
    GuestPhysAddr m_base;
    u64 m_size;
};
