#include "virtio.hpp"
#include "rt.hpp"

namespace vio {

namespace {
// Normal-memory ring writes must be visible to the device before the register write that tells
// it (2.7.13: "memory barrier" before idx, and before the notification): the runtime's DMA
// fences (arch.hpp).
inline void wmb() { rt::dma_wmb(); }
inline void rmb() { rt::dma_rmb(); }
inline void mb() { rt::dma_mb(); }
size_t align_up(size_t v, size_t a) { return (v + a - 1) & ~(a - 1); }
} // namespace

uint32_t reg(uint64_t base, uint32_t offset) { return rt::read32(base + offset); }
void set_reg(uint64_t base, uint32_t offset, uint32_t value) { rt::write32(base + offset, value); }

ProbeResult probe(uint64_t base) {
    ProbeResult p{};
    p.magic = reg(base, MagicValue);
    p.version = reg(base, Version);
    p.device_id = reg(base, DeviceId);
    p.vendor_id = reg(base, VendorId);
    p.ok = p.magic == MAGIC && p.version == 2 && p.device_id != 0;
    return p;
}

uint64_t device_features(uint64_t base) {
    set_reg(base, DeviceFeaturesSel, 0);
    uint64_t lo = reg(base, DeviceFeatures);
    set_reg(base, DeviceFeaturesSel, 1);
    uint64_t hi = reg(base, DeviceFeatures);
    return lo | hi << 32;
}

void reset(uint64_t base) {
    set_reg(base, Status, 0);
    while (reg(base, Status) != 0) {
    }
}

bool negotiate(uint64_t base, uint64_t wanted, uint64_t* accepted, bool force) {
    reset(base);
    set_reg(base, Status, ACKNOWLEDGE);
    set_reg(base, Status, ACKNOWLEDGE | DRIVER);
    const uint64_t f = force ? wanted : (wanted & device_features(base));
    set_reg(base, DriverFeaturesSel, 0);
    set_reg(base, DriverFeatures, uint32_t(f));
    set_reg(base, DriverFeaturesSel, 1);
    set_reg(base, DriverFeatures, uint32_t(f >> 32));
    if (accepted) *accepted = f;
    set_reg(base, Status, ACKNOWLEDGE | DRIVER | FEATURES_OK);
    return (reg(base, Status) & FEATURES_OK) != 0;
}

void driver_ok(uint64_t base) { set_reg(base, Status, reg(base, Status) | DRIVER_OK); }

size_t queue_bytes(uint16_t size) {
    const size_t avail = align_up(16ull * size, 2) + 6 + 2ull * size;
    return align_up(align_up(avail, 4), 4) + 6 + 8ull * size;
}

bool Queue::setup(uint64_t dev, uint16_t idx, uint16_t n, void* mem) {
    base = dev;
    index = idx;
    size = n;
    set_reg(base, QueueSel, idx);
    if (reg(base, QueueReady) != 0 || reg(base, QueueNumMax) < n) return false;
    uint8_t* p = static_cast<uint8_t*>(mem);
    for (size_t i = 0; i < queue_bytes(n); ++i) p[i] = 0;
    desc = reinterpret_cast<volatile Desc*>(p);
    avail = reinterpret_cast<volatile uint16_t*>(p + 16ull * n);
    used = reinterpret_cast<volatile uint16_t*>(p + align_up(16ull * n + 6 + 2ull * n, 4));
    avail_idx = last_used = next_desc = 0;
    const uint64_t d = uint64_t(desc), a = uint64_t(avail), u = uint64_t(used);
    set_reg(base, QueueNum, n);
    set_reg(base, QueueDescLow, uint32_t(d));
    set_reg(base, QueueDescHigh, uint32_t(d >> 32));
    set_reg(base, QueueDriverLow, uint32_t(a));
    set_reg(base, QueueDriverHigh, uint32_t(a >> 32));
    set_reg(base, QueueDeviceLow, uint32_t(u));
    set_reg(base, QueueDeviceHigh, uint32_t(u >> 32));
    mb();
    set_reg(base, QueueReady, 1);
    return true;
}

uint16_t Queue::submit(const Buf* bufs, unsigned n) {
    const uint16_t head = next_desc;
    for (unsigned i = 0; i < n; ++i) {
        const uint16_t at = uint16_t((head + i) % size);
        desc[at].addr = bufs[i].addr;
        desc[at].len = bufs[i].len;
        desc[at].flags = uint16_t((bufs[i].writable ? DESC_WRITE : 0) | (i + 1 < n ? DESC_NEXT : 0));
        desc[at].next = uint16_t((at + 1) % size);
    }
    next_desc = uint16_t((head + n) % size);
    avail[2 + avail_idx % size] = head;
    wmb();
    ++avail_idx;
    avail[1] = avail_idx;
    return head;
}

void Queue::notify() {
    mb();
    set_reg(base, QueueNotify, index);
}

uint16_t Queue::used_idx() const { return used[1]; }

bool Queue::poll(uint32_t* id, uint32_t* len) {
    if (used[1] == last_used) return false;
    rmb();
    const volatile uint32_t* elem = reinterpret_cast<const volatile uint32_t*>(used + 2) + 2 * (last_used % size);
    if (id) *id = elem[0];
    if (len) *len = elem[1];
    ++last_used;
    return true;
}

bool Queue::wait(uint32_t* id, uint32_t* len, uint64_t timeout_us) {
    const uint64_t end = rt::counter() + timeout_us * rt::counter_freq() / 1000000;
    while (!poll(id, len))
        if (rt::counter() > end) return false;
    return true;
}

} // namespace vio
