// A tiny virtio-mmio driver for bare-metal test guests (virtio spec v1.2, 4.2 "Virtio Over MMIO",
// version-2 registers; 2.7 split virtqueues). Polled: no interrupts needed (a VM with no_irq works).
//
// Usage: probe(base) -> negotiate(base, wanted features) -> Queue::setup for each queue ->
// driver_ok(base) -> Queue::submit a chain, notify, wait/poll for the used element.
// A Queue hands out descriptors round-robin (no free list): at most `size` descriptors may be
// outstanding. Everything is exposed (ring pointers, raw register access) so that hostile tests
// can write what a correct driver never would.
#pragma once
#include <stddef.h>
#include <stdint.h>

namespace vio {

// Register offsets (4.2.2).
enum Reg : uint32_t {
    MagicValue = 0x000, Version = 0x004, DeviceId = 0x008, VendorId = 0x00c, DeviceFeatures = 0x010,
    DeviceFeaturesSel = 0x014, DriverFeatures = 0x020, DriverFeaturesSel = 0x024, QueueSel = 0x030,
    QueueNumMax = 0x034, QueueNum = 0x038, QueueReady = 0x044, QueueNotify = 0x050, InterruptStatus = 0x060,
    InterruptAck = 0x064, Status = 0x070, QueueDescLow = 0x080, QueueDescHigh = 0x084, QueueDriverLow = 0x090,
    QueueDriverHigh = 0x094, QueueDeviceLow = 0x0a0, QueueDeviceHigh = 0x0a4, ConfigGeneration = 0x0fc,
    Config = 0x100,
};
// Status bits (2.1).
inline constexpr uint32_t ACKNOWLEDGE = 1, DRIVER = 2, DRIVER_OK = 4, FEATURES_OK = 8, NEEDS_RESET = 64,
                          FAILED = 128;
// Feature bits (6).
inline constexpr uint64_t F_INDIRECT_DESC = 1ull << 28, F_EVENT_IDX = 1ull << 29, F_VERSION_1 = 1ull << 32;
// Descriptor flags (2.7.5).
inline constexpr uint16_t DESC_NEXT = 1, DESC_WRITE = 2, DESC_INDIRECT = 4;
inline constexpr uint32_t MAGIC = 0x74726976;

uint32_t reg(uint64_t base, uint32_t offset);
void set_reg(uint64_t base, uint32_t offset, uint32_t value);

// Magic, version 2 and a device ID other than 0 (0: no device behind the window, 4.2.2).
struct ProbeResult {
    bool ok;
    uint32_t magic, version, device_id, vendor_id;
};
ProbeResult probe(uint64_t base);

uint64_t device_features(uint64_t base);
// 3.1.1 steps 1-6: reset, ACKNOWLEDGE, DRIVER, accept `wanted & offered` (or `wanted` as it is
// with force = true), FEATURES_OK. Returns true when the device kept FEATURES_OK; *accepted gets
// what was written.
bool negotiate(uint64_t base, uint64_t wanted, uint64_t* accepted = nullptr, bool force = false);
void driver_ok(uint64_t base);
void reset(uint64_t base); // Status = 0, then waits until it reads 0 (4.2.3.1)

struct Desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};
struct Buf {
    uint64_t addr;
    uint32_t len;
    bool writable;
};

// Bytes a queue of `size` entries needs at `mem` for Queue::setup (desc, avail, used; aligned).
size_t queue_bytes(uint16_t size);

struct Queue {
    uint64_t base = 0; // the device
    uint16_t index = 0, size = 0;
    volatile Desc* desc = nullptr;
    volatile uint16_t* avail = nullptr; // flags, idx, ring[size], used_event
    volatile uint16_t* used = nullptr;  // flags, idx, then {u32 id, u32 len}[size], avail_event
    uint16_t avail_idx = 0, last_used = 0, next_desc = 0;

    // Lays the rings out in `mem` (4 KiB aligned, queue_bytes(size) bytes, guest RAM), zeroes them
    // and programs queue `index` (QueueSel, QueueNum, addresses, QueueReady = 1). false: the device
    // has no such queue or a smaller QueueNumMax.
    bool setup(uint64_t base, uint16_t index, uint16_t size, void* mem);
    // Puts a chain of n buffers in the descriptor table and the available ring; returns its head.
    uint16_t submit(const Buf* bufs, unsigned n);
    void notify();
    // A used element: true and its id/len, or false when none is new.
    bool poll(uint32_t* id, uint32_t* len);
    // poll() until one arrives or timeout_us passes.
    bool wait(uint32_t* id, uint32_t* len, uint64_t timeout_us);
    uint16_t used_idx() const;
};

} // namespace vio
