#include "virtio/mmio.hpp"
#include "kernel/log.hpp"

namespace virtio {

namespace {

// Register offsets of the version-2 layout (virtio v1.2, 4.2.2 "MMIO Device Register Layout").
enum Reg : u64 {
    RegMagicValue = 0x000,
    RegVersion = 0x004,
    RegDeviceId = 0x008,
    RegVendorId = 0x00c,
    RegDeviceFeatures = 0x010,
    RegDeviceFeaturesSel = 0x014,
    RegDriverFeatures = 0x020,
    RegDriverFeaturesSel = 0x024,
    RegQueueSel = 0x030,
    RegQueueNumMax = 0x034,
    RegQueueNum = 0x038,
    RegQueueReady = 0x044,
    RegQueueNotify = 0x050,
    RegInterruptStatus = 0x060,
    RegInterruptAck = 0x064,
    RegStatus = 0x070,
    RegQueueDescLow = 0x080,
    RegQueueDescHigh = 0x084,
    RegQueueDriverLow = 0x090,
    RegQueueDriverHigh = 0x094,
    RegQueueDeviceLow = 0x0a0,
    RegQueueDeviceHigh = 0x0a4,
    RegShmSel = 0x0ac,
    RegShmLenLow = 0x0b0,
    RegShmLenHigh = 0x0b4,
    RegShmBaseLow = 0x0b8,
    RegShmBaseHigh = 0x0bc,
    RegQueueReset = 0x0c0,
    RegConfigGeneration = 0x0fc,
    RegConfig = 0x100,
};

// Device-type feature bits: 0..23 and 50..63 (2.2 "Feature Bits"); 24..49 are the transport's and
// reserved ones, of which only those below are offered.
constexpr u64 kDeviceTypeBits = 0xFFFFFFull | ~((1ull << 50) - 1);
constexpr u64 kTransportBits = kFVersion1 | kFRingIndirectDesc | kFRingEventIdx;

// 4.2.2.2: config fields are accessed with their own width (1, 2, 4), naturally aligned; a 64-bit
// field as two 32-bit halves, or one 8-byte access that the transport splits so the device sees
// 1, 2 or 4-byte reads and writes only.
bool config_access_ok(u64 offset, unsigned width) {
    return (width == 1 || width == 2 || width == 4 || width == 8) && !(offset & (width - 1));
}

u16 max_size_of(const Device* d, u16 index) { return index < d->queue_count() ? d->queue_max_size(index) : 1; }

} // namespace

static_assert(kMaxQueues == 4, "MmioTransport's queue array initialiser lists four queues");

MmioTransport::MmioTransport(const char* name, GuestPhysAddr base, const char* vm_name, u32 vm_id, Device* device,
                             GuestMemory& memory, IrqLine irq)
    : MmioDevice(name, base, WindowSize), m_vm_name(vm_name), m_vm_id(vm_id), m_device(device), m_memory(memory),
      m_irq(irq), m_queue_count(device->queue_count() < kMaxQueues ? device->queue_count() : kMaxQueues),
      m_queues{SplitQueue(memory, max_size_of(device, 0)), SplitQueue(memory, max_size_of(device, 1)),
               SplitQueue(memory, max_size_of(device, 2)), SplitQueue(memory, max_size_of(device, 3))} {
    m_device->attach(*this);
}

MmioTransport::~MmioTransport() { delete m_device; }

u64 MmioTransport::offered_features() const {
    return (m_device->device_features() & kDeviceTypeBits) | kTransportBits;
}

void MmioTransport::update_irq() {
    // 4.2.2 InterruptStatus: the line is high while any bit is set (level-triggered).
    const bool level = m_int_status != 0;
    if (level == m_irq_level) return;
    m_irq_level = level;
    m_irq.set(level);
}

Result<u64> MmioTransport::read(u64 offset, unsigned width_bytes) {
    if (offset >= RegConfig) {
        if (!config_access_ok(offset, width_bytes)) return Error::InvalidArgument;
        SpinlockGuard guard(m_lock);
        const u32 at = u32(offset - RegConfig);
        if (width_bytes == 8)
            return u64(m_device->config_read(at, 4)) | u64(m_device->config_read(at + 4, 4)) << 32;
        // MmioDevice: the value zero-extended from its width, whatever the device left above it.
        const u64 mask = width_bytes == 4 ? 0xFFFFFFFFull : (1ull << (8 * width_bytes)) - 1;
        return u64(m_device->config_read(at, width_bytes)) & mask;
    }
    // 4.2.2.2: "The driver MUST only use 32 bit wide and aligned reads and writes to access the
    // control registers".
    if (width_bytes != 4 || (offset & 3)) return Error::InvalidArgument;
    SpinlockGuard guard(m_lock);
    return read_reg(offset);
}

Result<void> MmioTransport::write(u64 offset, unsigned width_bytes, u64 value) {
    if (offset >= RegConfig) {
        if (!config_access_ok(offset, width_bytes)) return Error::InvalidArgument;
        {
            SpinlockGuard guard(m_lock);
            const u32 at = u32(offset - RegConfig);
            if (width_bytes == 8) {
                m_device->config_write(at, 4, u32(value));
                m_device->config_write(at + 4, 4, u32(value >> 32));
            } else {
                m_device->config_write(at, width_bytes, u32(value));
            }
        }
        m_device->after_access();
        return {};
    }
    if (width_bytes != 4 || (offset & 3)) return Error::InvalidArgument;
    Result<void> r{};
    {
        SpinlockGuard guard(m_lock);
        r = write_reg(offset, u32(value));
    }
    m_device->after_access(); // what must not run under the lock (device.hpp)
    return r;
}

Result<u64> MmioTransport::read_reg(u64 offset) {
    const bool has_queue = m_queue_sel < m_queue_count; // QueueSel as written: never truncated
    const u16 sel = has_queue ? u16(m_queue_sel) : 0;
    switch (offset) {
    case RegMagicValue: return u64(MagicValue);
    case RegVersion: return u64(2); // 4.2.2: 0x2 (0x1 is the legacy interface of 4.2.4)
    case RegDeviceId: return u64(m_device->device_id());
    case RegVendorId: return u64(VendorId);
    case RegDeviceFeatures: {
        // 4.2.2 DeviceFeatures: bits 32 * DeviceFeaturesSel and up; selectors above 1 read 0.
        const u64 f = offered_features();
        return m_device_features_sel == 0 ? u64(u32(f)) : m_device_features_sel == 1 ? (f >> 32) : 0;
    }
    case RegQueueNumMax:
        // 4.2.3.2: 0 says the queue is not available.
        return has_queue ? u64(m_queues[sel].max_size()) : 0;
    case RegQueueReady: return has_queue && m_regs[sel].ready ? 1 : 0;
    case RegInterruptStatus: return u64(m_int_status);
    case RegStatus: return u64(m_status);
    case RegShmLenLow:
    case RegShmLenHigh:
    case RegShmBaseLow:
    case RegShmBaseHigh:
        // 4.2.2 SHMLenLow/High: "Reading from a non-existent region ... results in a length of
        // -1"; no device here has shared memory regions, so every SHMSel names none.
        return u64(0xFFFFFFFFu);
    case RegConfigGeneration: return u64(m_config_generation);
    default:
        // Write-only registers (the selectors, DriverFeatures, QueueNum, QueueNotify,
        // InterruptACK, the queue addresses), QueueReset (VIRTIO_F_RING_RESET is not offered)
        // and the offsets the layout leaves unused read as zero.
        return u64(0);
    }
}

Result<void> MmioTransport::write_reg(u64 offset, u32 value) {
    const bool has_queue = m_queue_sel < m_queue_count; // QueueSel as written: never truncated
    const u16 sel = has_queue ? u16(m_queue_sel) : 0;
    // 4.2.2.2: while QueueReady is 1 the driver must not write QueueNum or the queue addresses;
    // the device ignores such writes (and any for a queue that does not exist).
    QueueRegs* q = has_queue && !m_regs[sel].ready ? &m_regs[sel] : nullptr;
    switch (offset) {
    case RegDeviceFeaturesSel: m_device_features_sel = value; break;
    case RegDriverFeatures:
        // 3.1.1: features are accepted before FEATURES_OK; afterwards they are fixed.
        if (m_status & StatusFeaturesOk) break;
        if (m_driver_features_sel == 0) set_half(m_driver_features, false, value);
        else if (m_driver_features_sel == 1) set_half(m_driver_features, true, value);
        else if (value) m_driver_features_beyond = true; // bits the device never offered
        break;
    case RegDriverFeaturesSel: m_driver_features_sel = value; break;
    case RegQueueSel: m_queue_sel = value; break;
    case RegQueueNum:
        if (q) q->num = value;
        break;
    case RegQueueReady:
        if (has_queue) set_queue_ready(sel, value & 1);
        break;
    case RegQueueNotify:
        // 2.1.2: a device must not consume buffers before DRIVER_OK; one that needs a reset is
        // dead to the driver. Without VIRTIO_F_NOTIFICATION_DATA the value is the queue index.
        if (live() && value < m_queue_count && m_regs[value].ready && !m_queues[value].broken())
            m_device->notify(u16(value));
        break;
    case RegInterruptAck:
        m_int_status &= ~value;
        update_irq();
        break;
    case RegStatus: write_status(value); break;
    case RegQueueDescLow: if (q) set_half(q->desc, false, value); break;
    case RegQueueDescHigh: if (q) set_half(q->desc, true, value); break;
    case RegQueueDriverLow: if (q) set_half(q->driver, false, value); break;
    case RegQueueDriverHigh: if (q) set_half(q->driver, true, value); break;
    case RegQueueDeviceLow: if (q) set_half(q->device, false, value); break;
    case RegQueueDeviceHigh: if (q) set_half(q->device, true, value); break;
    case RegShmSel: m_shm_sel = value; break;
    default:
        // Read-only registers and unused offsets: writes are ignored.
        break;
    }
    return {};
}

void MmioTransport::set_queue_ready(u16 index, bool ready) {
    QueueRegs& r = m_regs[index];
    if (ready == r.ready) return;
    r.ready = ready;
    SplitQueue& q = m_queues[index];
    if (!ready) {
        // 4.2.2 QueueReady: writing 0 stops the queue; the device forgets its state.
        q.reset();
        return;
    }
    QueueConfig cfg;
    cfg.size = r.num <= 0xFFFF ? u16(r.num) : 0; // too large: BadSize
    cfg.desc = r.desc;
    cfg.driver = r.driver;
    cfg.device = r.device;
    cfg.event_idx = (m_driver_features & kFRingEventIdx) != 0;
    cfg.indirect_desc = (m_driver_features & kFRingIndirectDesc) != 0;
    if (q.activate(cfg).is_error()) queue_fault(index);
}

void MmioTransport::write_status(u32 value) {
    if (value == 0) { // 4.2.3.1: writing 0 resets the device
        device_reset();
        return;
    }
    // 2.1.2: the driver never clears a bit (only a reset does) and DEVICE_NEEDS_RESET is the
    // device's own: both are kept as they are whatever the driver writes.
    u32 next = (m_status | value) & ~StatusNeedsReset;
    next |= m_status & StatusNeedsReset;
    const u32 added = next & ~m_status;
    if (added & StatusFeaturesOk) {
        // 3.1.1 step 5/6 and 2.2.1: FEATURES_OK stays clear (the driver reads it back and fails)
        // when the driver accepted a feature that was not offered, or not VIRTIO_F_VERSION_1,
        // which this modern-only transport requires (6.1).
        const u64 offered = offered_features();
        if ((m_driver_features & ~offered) || !(m_driver_features & kFVersion1) || m_driver_features_beyond)
            next &= ~StatusFeaturesOk;
    }
    // DRIVER_OK only after FEATURES_OK (3.1.1 steps 6-8): a driver that skips the negotiation does
    // not get a live device.
    if ((added & StatusDriverOk) && !(next & StatusFeaturesOk)) next &= ~StatusDriverOk;
    m_status = next;
    if ((next & added & StatusDriverOk) && !(next & StatusNeedsReset)) m_device->driver_ok(m_driver_features);
}

void MmioTransport::device_reset() {
    // 4.2.3.1 / 2.4: back to the initial state: the device forgets what it had in flight, every
    // queue stops, features, selectors and interrupts are cleared. ConfigGeneration runs on.
    m_device->reset();
    for (u16 i = 0; i < kMaxQueues; ++i) {
        m_queues[i].reset();
        m_regs[i] = QueueRegs{};
    }
    m_status = 0;
    m_int_status = 0;
    m_device_features_sel = m_driver_features_sel = 0;
    m_driver_features = 0;
    m_driver_features_beyond = false;
    m_queue_sel = 0;
    m_shm_sel = 0;
    update_irq();
}

void MmioTransport::reset() {
    SpinlockGuard guard(m_lock);
    device_reset();
    m_fault_count = 0;
}

u32 MmioTransport::status() {
    SpinlockGuard guard(m_lock);
    return m_status;
}

void MmioTransport::used(u16 index) {
    if (!live() || !queue_exists(index)) return;
    auto r = m_queues[index].needs_notify();
    if (r.is_error()) {
        queue_fault(index);
        return;
    }
    if (!r.value()) return; // 2.7.7: the driver suppressed it
    m_int_status |= IntUsedBuffer; // 4.2.2 InterruptStatus bit 0: "Used Buffer Notification"
    update_irq();
}

void MmioTransport::queue_fault(u16 index) {
    if (m_status & StatusNeedsReset) return; // reported already; dead until the driver resets it
    const QueueFault f = index < kMaxQueues ? m_queues[index].fault() : QueueFault::None;
    ++m_fault_count;
    if (m_fault_count <= MaxFaultReports)
        // No QueueFault: the ring was well formed and the device type refused what a chain asked
        // for (a transmit chain with device-writable buffers, say); the device may have said more.
        kprint("cxvisor: vm %u (%s): virtio device %s: queue %u: %s; device needs reset\n", m_vm_id, m_vm_name,
               name(), index, f == QueueFault::None ? "malformed request refused by the device" : queue_fault_name(f));
    else if (m_fault_count == MaxFaultReports + 1)
        kprint("cxvisor: vm %u (%s): virtio device %s: further queue faults are not reported\n", m_vm_id, m_vm_name,
               name());
    // 2.1.2: "The device SHOULD set DEVICE_NEEDS_RESET when it enters an error state that a reset
    // is needed. If DRIVER_OK is set, after it sets DEVICE_NEEDS_RESET, the device MUST send a
    // device configuration change notification to the driver."
    m_status |= StatusNeedsReset;
    if (m_status & StatusDriverOk) {
        m_int_status |= IntConfigChange; // 4.2.2 InterruptStatus bit 1
        update_irq();
    }
}

void MmioTransport::config_changed() {
    // 2.5.1 / 4.2.2 ConfigGeneration: a new value tells the driver its reads may be torn.
    ++m_config_generation;
    if (!(m_status & StatusDriverOk)) return;
    m_int_status |= IntConfigChange;
    update_irq();
}

} // namespace virtio
