#include "vm/guest_ram.hpp"

using namespace vm_package;

GuestRam::GuestRam(const MemRegion* regions, u32 count, GuestRamAccess access) : m_access(access) {
    for (u32 i = 0; i < count && m_count < MAX_REGIONS; ++i) {
        const MemRegion& r = regions[i];
        const MapType t = MapType(r.map_type);
        // RAM as package_check_vm sees it: allocated or identical, not marked DEVICE. Reserved
        // carve-outs are host memory cxvisor does not manage (it never writes them).
        if ((t != MapType::Alloc && t != MapType::Identical) || (r.flags & 8) || r.size == 0) continue;
        m_ram[m_count++] = Range{r.gpa, r.size, (r.flags & 2) != 0};
    }
}

bool GuestRam::covered(u64 gpa, u64 len, bool write) const {
    if (len > ~0ull - gpa) return false; // wraps 2^64
    // len 0 asks whether gpa itself is RAM: look at one byte.
    const u64 end = gpa + (len ? len : 1);
    if (end < gpa) return false;
    for (u64 at = gpa; at < end;) {
        const Range* hit = nullptr;
        for (u32 i = 0; i < m_count; ++i)
            if (at >= m_ram[i].base && at - m_ram[i].base < m_ram[i].size) hit = &m_ram[i];
        if (!hit || (write && !hit->writable)) return false;
        const u64 region_end = hit->base + hit->size; // package_check_vm: does not wrap
        if (region_end >= end) return true;
        at = region_end; // continues in an adjacent region, or fails there
    }
    return true;
}

bool GuestRam::is_ram(u64 gpa, u64 len) const { return covered(gpa, len, false); }

Result<void> GuestRam::read(u64 gpa, void* dst, usize len) {
    if (!covered(gpa, len, false)) return Error::OutOfRange;
    if (len == 0) return {};
    return m_access.read(m_access.ctx, gpa, dst, len);
}

Result<void> GuestRam::write(u64 gpa, const void* src, usize len) {
    if (!covered(gpa, len, true)) return Error::OutOfRange;
    if (len == 0) return {};
    return m_access.write(m_access.ctx, gpa, src, len);
}

Result<virtio::HostRun> GuestRam::host_run(u64 gpa, usize len, bool device_writes) {
    if (len == 0 || !covered(gpa, len, device_writes)) return Error::OutOfRange;
    return m_access.host_run(m_access.ctx, gpa, len, device_writes);
}
