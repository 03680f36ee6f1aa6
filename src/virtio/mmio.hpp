// virtio-mmio transport, version 2 ("modern") register layout (virtio spec v1.2, OASIS 2022,
// 4.2 "Virtio Over MMIO"; 4.2.2 "MMIO Device Register Layout").
//
// One MmioTransport per virtio device of a VM: it owns the registers, the feature negotiation
// (2.2), the device status (2.1), up to kMaxQueues split virtqueues (2.7) and the interrupt, and
// hands the device type (block, network, console: a virtio::Device) only the Transport seam of
// device.hpp. The interrupt is level-triggered: InterruptStatus != 0 holds the IrqLine high
// (4.2.2 "InterruptStatus"; the generated DTB says level-high).
//
// Guest errors never panic. A malformed queue (any Error::BadFormat from SplitQueue) is reported
// once with the VM, device, queue and queue_fault_name, sets DEVICE_NEEDS_RESET in Status and
// raises a configuration-change interrupt (2.1.1, 4.2.2.1); the device is then dead to the guest
// until it writes 0 to Status. Register accesses the spec forbids (4.2.2.2: control registers
// are 32-bit aligned words) are rejected with an Error, which makes the VM layer inject an
// external abort; writes the spec says the device must ignore (queue registers of a ready queue,
// features after FEATURES_OK, clearing status bits) are ignored.
//
// Locking: one Spinlock per transport (lock()) serialises every register access, every Device
// call and every device-initiated queue operation (device.hpp). The Transport callbacks used(),
// queue_fault() and config_changed() are called by the device with that lock held.
#pragma once
#include "devices/mmio_device.hpp"
#include "kernel/spinlock.hpp"
#include "vintc/irq_line.hpp"
#include "virtio/device.hpp"

namespace virtio {

class MmioTransport final : public MmioDevice, public Transport {
public:
    static constexpr u64 WindowSize = 0x1000; // one stage-2 page; config space 0x100..0xFFF
    static constexpr u32 MagicValue = 0x74726976; // "virt" (4.2.2)
    static constexpr u32 VendorId = 0x00565843;   // "CXV": cxvisor's own devices
    // Status bits (2.1 "Device Status Field").
    static constexpr u32 StatusAcknowledge = 1, StatusDriver = 2, StatusDriverOk = 4, StatusFeaturesOk = 8,
                         StatusNeedsReset = 64, StatusFailed = 128;
    // InterruptStatus bits (4.2.2).
    static constexpr u32 IntUsedBuffer = 1, IntConfigChange = 2;
    // Reports of queue faults per VM life, then one "not reported" line: a guest that breaks and
    // resets a queue in a loop cannot flood the console.
    static constexpr u32 MaxFaultReports = 8;

    // `name` must outlive the transport (the package's device name); `vm_name` too. Takes
    // ownership of `device` (deleted with the transport) and attaches it. Called by the VM builder.
    MmioTransport(const char* name, GuestPhysAddr base, const char* vm_name, u32 vm_id, Device* device,
                  GuestMemory& memory, IrqLine irq);
    ~MmioTransport();
    MmioTransport(const MmioTransport&) = delete;
    MmioTransport& operator=(const MmioTransport&) = delete;

    // MmioDevice (any vCPU, any CPU; takes lock()).
    Result<u64> read(u64 offset, unsigned width_bytes) override;
    Result<void> write(u64 offset, unsigned width_bytes, u64 value) override;

    // The VM starts a new life or stops: the device reset of 4.2.3.1 (Status 0), the interrupt line
    // low, and fault reports counted afresh. Any CPU, no lock held.
    void reset();

    Device& device() { return *m_device; }
    // For `vm show`: the status register and how many queue faults this life has seen.
    u32 status();
    u32 faults() const { return m_fault_count; }

    // Transport (device.hpp).
    SplitQueue& queue(u16 index) override { return m_queues[index < kMaxQueues ? index : 0]; }
    GuestMemory& memory() override { return m_memory; }
    u64 features() const override { return m_driver_features; }
    bool live() const override { return (m_status & StatusDriverOk) && !(m_status & StatusNeedsReset); }
    void used(u16 index) override;
    void queue_fault(u16 index) override;
    void config_changed() override;
    Spinlock& lock() override { return m_lock; }
    const char* vm_name() const override { return m_vm_name; }
    const char* device_name() const override { return name(); }

private:
    // Per queue: what the driver wrote while QueueReady was 0 (4.2.2: QueueNum, QueueDesc*,
    // QueueDriver*, QueueDevice*), latched into the SplitQueue on QueueReady = 1.
    struct QueueRegs {
        u32 num = 0; // as written: a value above 0xFFFF is a bad size, not truncated
        u64 desc = 0, driver = 0, device = 0;
        bool ready = false; // what QueueReady reads
    };

    Result<u64> read_reg(u64 offset);
    Result<void> write_reg(u64 offset, u32 value);
    void write_status(u32 value);
    void set_queue_ready(u16 index, bool ready);
    void device_reset();       // 4.2.3.1 "Device Initialization" reset; caller holds m_lock
    void update_irq();         // drives the line from InterruptStatus; caller holds m_lock
    u64 offered_features() const;
    bool queue_exists(u32 index) const { return index < m_queue_count; }
    static void set_half(u64& v, bool high, u32 half) {
        v = high ? (v & 0xFFFFFFFFull) | (u64(half) << 32) : (v & ~0xFFFFFFFFull) | half;
    }

    Spinlock m_lock;
    const char* m_vm_name;
    u32 m_vm_id;
    Device* m_device;
    GuestMemory& m_memory;
    IrqLine m_irq;
    bool m_irq_level = false;
    u16 m_queue_count;
    SplitQueue m_queues[kMaxQueues];
    QueueRegs m_regs[kMaxQueues];

    u32 m_status = 0;
    u32 m_int_status = 0;
    u32 m_config_generation = 0;
    u32 m_device_features_sel = 0, m_driver_features_sel = 0;
    u64 m_driver_features = 0;
    bool m_driver_features_beyond = false; // the driver set bits above 63 (never offered)
    u32 m_queue_sel = 0;
    u32 m_shm_sel = 0;
    u32 m_fault_count = 0; // queue faults this life (reported up to MaxFaultReports)
};

} // namespace virtio
