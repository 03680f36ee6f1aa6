// The seam between a virtio transport and a virtio device type (virtio spec v1.2, 2 "Basic
// Facilities of a Virtio Device" and 5 "Device Types").
//
// A transport (virtio-mmio today, src/virtio/mmio*) owns the registers, the feature negotiation,
// the queues and the interrupt; a Device implements one device type (block, network, console) and
// sees only this interface. The split lets every device be host-tested against a fake transport,
// and lets another transport (PCI, or another ISA's bus) reuse the devices unchanged.
//
// Locking: the transport serialises all calls into its Device with one lock per device instance
// (a Spinlock; EL2 runs with interrupts masked, so it is also safe against the console input
// handler). A device that must act on its own initiative (a frame arriving from another VM,
// console input) takes that lock through Transport::lock() first. Never hold two devices' locks
// at once: to move data between two devices (the virtual switch), copy it out under the first
// lock, release it, then deliver under the second.
#pragma once
#include "base/result.hpp"
#include "kernel/spinlock.hpp"
#include "virtio/virtqueue.hpp"

class ConsolePort; // devices/console_port.hpp: a console the operator can type into

namespace virtio {

// Device IDs (5 "Device Types").
inline constexpr u32 kDeviceIdNet = 1;
inline constexpr u32 kDeviceIdBlock = 2;
inline constexpr u32 kDeviceIdConsole = 3;

// Reserved feature bits (6 "Reserved Feature Bits") the transport offers on behalf of every device.
inline constexpr u64 kFRingIndirectDesc = 1ull << 28;
inline constexpr u64 kFRingEventIdx = 1ull << 29;
inline constexpr u64 kFVersion1 = 1ull << 32;

// The most queues one device may have (a console with one port: 2; net without multiqueue: 2 or 3).
inline constexpr u16 kMaxQueues = 4;

class Transport {
public:
    // The queue `index` (< Device::queue_count()); ready() tells whether the driver enabled it.
    virtual SplitQueue& queue(u16 index) = 0;
    // The VM's RAM, the only memory a device may touch on the guest's behalf.
    virtual GuestMemory& memory() = 0;
    // The features the driver accepted (valid once the driver set FEATURES_OK).
    virtual u64 features() const = 0;
    // Whether the driver has set DRIVER_OK and the device is not broken: only then may a device
    // use its queues on its own initiative.
    virtual bool live() const = 0;
    // After one or more push() on queue `index`: raises the used-buffer interrupt if the queue's
    // notification suppression allows (2.7.7).
    virtual void used(u16 index) = 0;
    // A queue operation on `index` returned Error::BadFormat: the transport reports the fault
    // (VM, device, queue, queue_fault_name) once, sets DEVICE_NEEDS_RESET and raises a
    // configuration-change interrupt (4.2.2.1). The device must stop using its queues until reset().
    virtual void queue_fault(u16 index) = 0;
    // The device configuration space changed (e.g. a network link came up): bumps
    // ConfigGeneration and raises the configuration-change interrupt (4.2.2.1).
    virtual void config_changed() = 0;
    // The per-device lock the transport holds around every Device call (see the file comment).
    virtual Spinlock& lock() = 0;
    // The owning VM's name and this device's name from the config, for messages.
    virtual const char* vm_name() const = 0;
    virtual const char* device_name() const = 0;

protected:
    ~Transport() = default;
};

class Device {
public:
    virtual u32 device_id() const = 0;
    // Device-type feature bits offered (bits 0..23 and 50+; the transport adds VERSION_1,
    // RING_INDIRECT_DESC and RING_EVENT_IDX and masks reserved bits it does not implement).
    virtual u64 device_features() const = 0;
    virtual u16 queue_count() const = 0;
    virtual u16 queue_max_size(u16 index) const = 0;
    // Device configuration space (the transport's Config window, 4.2.2 offset 0x100): reads of
    // `width` (1, 2, 4 bytes; 8 as two 4-byte reads by the transport) at `offset` return the
    // little-endian value; offsets beyond the device's config read 0, writes to read-only fields
    // are ignored. Errors are not possible here: the transport counts odd accesses.
    virtual u32 config_read(u32 offset, unsigned width) = 0;
    virtual void config_write(u32 offset, unsigned width, u32 value) { (void)offset, (void)width, (void)value; }
    // The driver set DRIVER_OK with `features` accepted: the device may start (e.g. join the switch).
    virtual void driver_ok(u64 features) { (void)features; }
    // Device reset (Status written 0, the VM restarted or stopped): forget everything in flight.
    // The transport resets the queues itself.
    virtual void reset() = 0;
    // A new life of the VM begins (boot, start, restart after a reset), after reset(): state that
    // lasts one VM life rather than one driver session starts over (a RAM disk's private writes,
    // which a driver's own reset at probe time must not drop).
    virtual void new_life() {}
    // QueueNotify for queue `index` (an available-buffer notification): process what is available.
    virtual void notify(u16 index) = 0;
    // Called by the transport after each register access of the driver, with no lock held: work
    // that must not run under the device lock (the console wakes the console input, whose lock
    // orders before the device's). Any CPU.
    virtual void after_access() {}
    // A device that is a console the operator can switch to (virtio-console): its port; else null.
    virtual ConsolePort* console_port() { return nullptr; }
    // The transport this device is attached to (set once, before any other call).
    void attach(Transport& t) { m_transport = &t; }
    virtual ~Device() = default; // the VM deletes its devices through this interface

protected:
    Transport& transport() { return *m_transport; }

private:
    Transport* m_transport = nullptr;
};

} // namespace virtio
