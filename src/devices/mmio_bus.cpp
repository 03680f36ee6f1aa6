#include "devices/mmio_bus.hpp"

namespace {
constexpr bool valid_width(unsigned w) { return w == 1 || w == 2 || w == 4 || w == 8; }
constexpr u64 width_mask(unsigned w) { return w == 8 ? ~0ull : (1ull << (8 * w)) - 1; }
} // namespace

Result<void> MmioBus::add(MmioDevice* dev) {
    if (!dev || dev->size() == 0 || dev->base().value() + dev->size() < dev->base().value())
        return Error::InvalidArgument;
    // Insertion point: first device starting above the new one. Only its neighbours can overlap.
    usize i = 0;
    while (i < m_devices.size() && m_devices[i]->base() < dev->base()) ++i;
    if (i > 0 && m_devices[i - 1]->end() > dev->base()) return Error::AlreadyMapped;
    if (i < m_devices.size() && dev->end() > m_devices[i]->base()) return Error::AlreadyMapped;
    TRY(m_devices.push_back(dev));
    for (usize j = m_devices.size() - 1; j > i; --j) m_devices[j] = m_devices[j - 1];
    m_devices[i] = dev;
    return {};
}

MmioDevice* MmioBus::find(GuestPhysAddr addr) const {
    // Binary search for the last device with base <= addr, then check addr is inside it.
    usize lo = 0, hi = m_devices.size();
    while (lo < hi) {
        usize mid = (lo + hi) / 2;
        if (m_devices[mid]->base() <= addr) lo = mid + 1; else hi = mid;
    }
    if (lo == 0) return nullptr;
    MmioDevice* dev = m_devices[lo - 1];
    return addr < dev->end() ? dev : nullptr;
}

Result<void> MmioBus::check_access(const MmioDevice& dev, GuestPhysAddr addr, unsigned width_bytes) {
    if (!valid_width(width_bytes)) return Error::InvalidArgument;
    // addr < end, so end - addr is the room left; no overflow possible.
    if (dev.end() - addr < width_bytes) return Error::OutOfRange;
    return {};
}

Result<MmioDevice*> MmioBus::route(GuestPhysAddr addr, unsigned width_bytes) const {
    if (!valid_width(width_bytes)) return Error::InvalidArgument;
    MmioDevice* dev = find(addr);
    if (!dev) return Error::NotFound;
    TRY(check_access(*dev, addr, width_bytes));
    return dev;
}

Result<u64> MmioBus::read(GuestPhysAddr addr, unsigned width_bytes) const {
    MmioDevice* dev = TRY(route(addr, width_bytes));
    return read(*dev, addr, width_bytes);
}

Result<void> MmioBus::write(GuestPhysAddr addr, unsigned width_bytes, u64 value) const {
    MmioDevice* dev = TRY(route(addr, width_bytes));
    return write(*dev, addr, width_bytes, value);
}

Result<u64> MmioBus::read(MmioDevice& dev, GuestPhysAddr addr, unsigned width_bytes) const {
    TRY(check_access(dev, addr, width_bytes));
    u64 v = TRY(dev.read(addr - dev.base(), width_bytes));
    return v & width_mask(width_bytes);
}

Result<void> MmioBus::write(MmioDevice& dev, GuestPhysAddr addr, unsigned width_bytes, u64 value) const {
    TRY(check_access(dev, addr, width_bytes));
    return dev.write(addr - dev.base(), width_bytes, value & width_mask(width_bytes));
}
