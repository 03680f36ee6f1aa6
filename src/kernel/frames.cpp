#include "kernel/frames.hpp"
#include "arch.hpp"
#include "base/string.hpp"
#include "kernel/log.hpp"
#include "kernel/spinlock.hpp"

namespace {

// One bitmap per RAM range; bit set = frame in use. The bitmaps live in RAM taken from the range
// itself (the first frames of the largest range), so their size follows the machine.
struct Zone {
    u64 base = 0;
    u64 frames = 0;
    u64* bitmap = nullptr;
    u64 free = 0;
};

constexpr usize MAX_ZONES = 8;
Zone g_zones[MAX_ZONES];
usize g_zone_count;
Spinlock g_lock;

bool test(const Zone& z, u64 i) { return z.bitmap[i / 64] & (1ull << (i % 64)); }
void set_range(Zone& z, u64 first, u64 n, bool used) {
    for (u64 i = first; i < first + n; ++i) {
        u64 m = 1ull << (i % 64);
        if (used) z.bitmap[i / 64] |= m; else z.bitmap[i / 64] &= ~m;
    }
}

void mark_used(u64 base, u64 size) {
    for (usize k = 0; k < g_zone_count; ++k) {
        Zone& z = g_zones[k];
        u64 zb = z.base, ze = z.base + z.frames * FRAME_SIZE;
        u64 b = align_down(base, FRAME_SIZE), e = align_up(base + size, FRAME_SIZE);
        if (e <= zb || b >= ze) continue;
        if (b < zb) b = zb;
        if (e > ze) e = ze;
        for (u64 i = (b - zb) / FRAME_SIZE; i < (e - zb) / FRAME_SIZE; ++i) {
            if (!test(z, i)) {
                set_range(z, i, 1, true);
                --z.free;
            }
        }
    }
}

// Where `bytes` of bitmap can go: inside one RAM range and clear of every used range. The top of
// the largest range first, then the top of each range and the space just below each used range:
// on a small machine the loader may have put the DTB in the last page of RAM.
Result<u64> place_bitmap(const PhysRange* ram, usize ram_count, usize largest, const PhysRange* used,
                         usize used_count, u64 bytes) {
    auto fits = [&](u64 end) { // [end - bytes, end), end page-aligned
        if (end < bytes) return false;
        bool in_ram = false;
        for (usize i = 0; i < ram_count; ++i)
            in_ram |= end - bytes >= ram[i].base.value() && end <= ram[i].end().value();
        for (usize u = 0; u < used_count; ++u)
            if (used[u].overlaps(HostPhysAddr(end - bytes), bytes)) return false;
        return in_ram;
    };
    if (u64 end = align_down(ram[largest].end().value(), FRAME_SIZE); fits(end)) return end - bytes;
    for (usize i = 0; i < ram_count; ++i)
        if (u64 end = align_down(ram[i].end().value(), FRAME_SIZE); fits(end)) return end - bytes;
    for (usize u = 0; u < used_count; ++u)
        if (u64 end = align_down(used[u].base.value(), FRAME_SIZE); fits(end)) return end - bytes;
    return Error::NoMemory;
}

} // namespace

Result<void> frames_init(const PhysRange* ram, usize ram_count, const PhysRange* used, usize used_count) {
    if (ram_count == 0 || ram_count > MAX_ZONES) return Error::InvalidArgument;
    usize largest = 0;
    u64 bitmap_bytes = 0;
    for (usize i = 0; i < ram_count; ++i) {
        bitmap_bytes += align_up(ram[i].size / FRAME_SIZE + 1, 64) / 8;
        if (ram[i].size > ram[largest].size) largest = i;
    }
    bitmap_bytes = align_up(bitmap_bytes, FRAME_SIZE);
    u64 store = TRY(place_bitmap(ram, ram_count, largest, used, used_count, bitmap_bytes));
    auto* cursor = reinterpret_cast<u64*>(store);
    memset(cursor, 0, bitmap_bytes);
    g_zone_count = ram_count;
    for (usize i = 0; i < ram_count; ++i) {
        Zone& z = g_zones[i];
        z.base = align_up(ram[i].base.value(), FRAME_SIZE);
        z.frames = (ram[i].end().value() - z.base) / FRAME_SIZE;
        z.bitmap = cursor;
        z.free = z.frames;
        cursor += align_up(z.frames, 64) / 64;
    }
    mark_used(store, bitmap_bytes);
    for (usize u = 0; u < used_count; ++u) mark_used(used[u].base.value(), used[u].size);
    return {};
}

Result<HostPhysAddr> frames_alloc(usize count, usize align_bytes) {
    HostPhysAddr found = TRY(frames_alloc_unzeroed(count, align_bytes));
    // Zero outside the lock: 2 MiB blocks take a while, and the frames are ours now. Then clean the
    // zeroes to the point of coherency: a guest that runs with its caches off (every guest at
    // reset) reads RAM directly and must not see what was there before through stale lines.
    frames_zero(found, count * FRAME_SIZE);
    return found;
}

void frames_zero(HostPhysAddr pa, usize len) { arch::zero_and_clean(reinterpret_cast<void*>(pa.value()), len); }
void frames_clean(HostPhysAddr pa, usize len) { arch::clean_dcache_range(reinterpret_cast<void*>(pa.value()), len); }

Result<HostPhysAddr> frames_alloc_unzeroed(usize count, usize align_bytes) {
    if (count == 0) return Error::InvalidArgument;
    if (align_bytes < FRAME_SIZE) align_bytes = FRAME_SIZE;
    HostPhysAddr found;
    bool ok = false;
    {
        SpinlockGuard guard(g_lock);
        for (usize k = 0; k < g_zone_count && !ok; ++k) {
            Zone& z = g_zones[k];
            if (z.free < count) continue;
            u64 step = align_bytes / FRAME_SIZE;
            u64 first = (align_up(z.base, align_bytes) - z.base) / FRAME_SIZE;
            for (u64 i = first; i + count <= z.frames; i += step) {
                // Skip quickly over fully used bitmap words when searching single frames.
                u64 j = 0;
                while (j < count && !test(z, i + j)) ++j;
                if (j == count) {
                    set_range(z, i, count, true);
                    z.free -= count;
                    found = HostPhysAddr(z.base + i * FRAME_SIZE);
                    ok = true;
                    break;
                }
            }
        }
    }
    if (!ok) return Error::NoMemory;
    return found;
}

namespace {
HostWindowRead g_window; // set once at boot (mmu_init), before any VM exists

// [pa, pa + len) lies in one RAM range of the allocator: memory the EL2 identity map covers
// read-write (the zones are fixed after frames_init, so no lock is needed).
bool manages(u64 pa, u64 len) {
    for (usize k = 0; k < g_zone_count; ++k) {
        const Zone& z = g_zones[k];
        const u64 end = z.base + z.frames * FRAME_SIZE;
        if (pa >= z.base && pa < end && len <= end - pa) return true;
    }
    return false;
}
} // namespace

void frames_set_host_window(HostWindowRead read) { g_window = read; }

Result<void> frames_access_host(HostPhysAddr pa, u8* buf, usize len, HostOp op, MemFlags type) {
    if (len == 0) return {};
    if (pa.value() + len < pa.value()) return Error::OutOfRange;
    if (manages(pa.value(), len)) {
        // Guest leaves only ever point at frames given to that VM (allocated, or identical RAM
        // taken with frames_reserve): never at cxvisor's read-only image, which the EL2 map would
        // refuse to write. RAM is Normal memory whatever type the guest's stage 2 gives it.
        void* host = reinterpret_cast<void*>(pa.value());
        if (op == HostOp::Read) {
            memcpy(buf, host, len);
            return {};
        }
        if (op == HostOp::Write) {
            memcpy(host, buf, len);
            arch::clean_dcache_range(host, len); // the guest may run with its caches off
        } else {
            arch::zero_and_clean(host, len); // whole blocks by DC ZVA where aligned
        }
        return {};
    }
    // Not ours: cxvisor never writes memory it does not manage (a carve-out may be ROM, a device
    // register write has effects), and reads go through the window or nowhere.
    if (op != HostOp::Read || !g_window) return Error::Denied;
    return g_window(pa, buf, len, has(type, MemFlags::Device));
}

Result<void> frames_reserve(HostPhysAddr pa, usize count) {
    SpinlockGuard guard(g_lock);
    for (usize k = 0; k < g_zone_count; ++k) {
        Zone& z = g_zones[k];
        if (pa.value() < z.base || pa.value() + count * FRAME_SIZE > z.base + z.frames * FRAME_SIZE) continue;
        u64 first = (pa.value() - z.base) / FRAME_SIZE;
        for (u64 i = first; i < first + count; ++i)
            if (test(z, i)) return Error::Busy;
        set_range(z, first, count, true);
        z.free -= count;
        return {};
    }
    return Error::OutOfRange;
}

void frames_free(HostPhysAddr pa, usize count) {
    SpinlockGuard guard(g_lock);
    for (usize k = 0; k < g_zone_count; ++k) {
        Zone& z = g_zones[k];
        if (pa.value() < z.base || pa.value() >= z.base + z.frames * FRAME_SIZE) continue;
        u64 first = (pa.value() - z.base) / FRAME_SIZE;
        if (count > z.frames - first) // would read and clear bits of the next zone's bitmap
            panic("frames_free: %lx + %zu frames runs past the end of its RAM range", pa.value(), count);
        for (u64 i = first; i < first + count; ++i) {
            if (!test(z, i)) panic("frames_free: frame %lx is not allocated", z.base + i * FRAME_SIZE);
        }
        set_range(z, first, count, false);
        z.free += count;
        return;
    }
    panic("frames_free: %lx is not RAM", pa.value());
}

usize frames_free_count() {
    usize n = 0;
    for (usize k = 0; k < g_zone_count; ++k) n += g_zones[k].free;
    return n;
}

usize frames_total_count() {
    usize n = 0;
    for (usize k = 0; k < g_zone_count; ++k) n += g_zones[k].frames;
    return n;
}
