// Guest memory for virtqueue tests: a few RAM ranges backed by host vectors, everything else (the
// holes between them, "device MMIO", the top of the address space) refused. It counts refused
// accesses and asserts that no accepted access ever lies outside a range. Like GuestRam, a range
// may be read-only (writes and device-writes refused). host_run gives the host address of the
// backing bytes as the "host-physical" one (the tests' DMA fakes copy there), in runs that end at
// each 4 KiB page of gpa like a stage-2 walk of page leaves; pages of one range are adjacent in
// host memory, so a DMA backend merges them.
#pragma once
#include "virtio/guest_memory.hpp"

#include <cstring>
#include <vector>

class FakeGuestMemory final : public virtio::GuestMemory {
public:
    void add_ram(u64 base, u64 size, bool writable = true) {
        m_ranges.push_back(Range{base, size, std::vector<u8>(size, 0), writable});
    }
    // RAM that is_ram() accepts but that has no backing: for buffers larger than a test can
    // allocate. The queue only checks buffers, so any read or write here is a test failure.
    void add_unbacked_ram(u64 base, u64 size) { m_ranges.push_back(Range{base, size, {}, true}); }

    bool is_ram(u64 gpa, u64 len) const override { return find(gpa, len) != nullptr; }

    Result<void> read(u64 gpa, void* dst, usize len) override {
        const Range* r = find(gpa, len);
        if (!r) {
            ++refused;
            return Error::OutOfRange;
        }
        if (!backed(*r, len)) return Error::Aborted;
        std::memcpy(dst, r->bytes.data() + (gpa - r->base), len);
        ++reads;
        read_bytes += len;
        return {};
    }
    Result<void> write(u64 gpa, const void* src, usize len) override {
        Range* r = const_cast<Range*>(find(gpa, len));
        if (!r || !r->writable) {
            ++refused;
            return Error::OutOfRange;
        }
        if (!backed(*r, len)) return Error::Aborted;
        std::memcpy(r->bytes.data() + (gpa - r->base), src, len);
        ++writes;
        return {};
    }
    Result<virtio::HostRun> host_run(u64 gpa, usize len, bool device_writes) override {
        const Range* r = find(gpa, len);
        if (!r || len == 0 || (device_writes && !r->writable)) {
            ++refused;
            return Error::OutOfRange;
        }
        if (!backed(*r, len)) return Error::Aborted;
        ++host_runs;
        const u64 in_page = 4096 - gpa % 4096;
        return virtio::HostRun{u64(reinterpret_cast<uintptr_t>(r->bytes.data() + (gpa - r->base))),
                               len < in_page ? len : usize(in_page)};
    }

    // Test-side access (not through the interface, not counted).
    u8* at(u64 gpa, u64 len) {
        Range* r = const_cast<Range*>(find(gpa, len));
        return r && !r->bytes.empty() ? r->bytes.data() + (gpa - r->base) : nullptr;
    }
    void put16(u64 gpa, u16 v) { put(gpa, v, 2); }
    void put32(u64 gpa, u32 v) { put(gpa, v, 4); }
    void put64(u64 gpa, u64 v) { put(gpa, v, 8); }
    u16 get16(u64 gpa) { return static_cast<u16>(get(gpa, 2)); }
    u32 get32(u64 gpa) { return static_cast<u32>(get(gpa, 4)); }

    unsigned refused = 0;
    unsigned reads = 0;
    u64 read_bytes = 0;
    unsigned writes = 0;
    unsigned host_runs = 0;
    unsigned unbacked = 0; // accesses to add_unbacked_ram ranges (must stay 0)

private:
    struct Range {
        u64 base;
        u64 size;
        std::vector<u8> bytes;
        bool writable;
    };
    bool backed(const Range& r, usize len) {
        if (len == 0 || !r.bytes.empty()) return true;
        ++unbacked;
        return false;
    }
    const Range* find(u64 gpa, u64 len) const {
        for (const Range& r : m_ranges) {
            const u64 size = r.size;
            if (gpa >= r.base && gpa - r.base <= size && len <= size - (gpa - r.base)) return &r;
        }
        return nullptr;
    }
    // Little-endian like the rings, whatever the host.
    void put(u64 gpa, u64 v, unsigned n) {
        u8* p = at(gpa, n);
        must_exist(p);
        for (unsigned i = 0; i < n; ++i) p[i] = static_cast<u8>(v >> (8 * i));
    }
    u64 get(u64 gpa, unsigned n) {
        u8* p = at(gpa, n);
        must_exist(p);
        u64 v = 0;
        for (unsigned i = 0; i < n; ++i) v |= static_cast<u64>(p[i]) << (8 * i);
        return v;
    }
    static void must_exist(const void* p) {
        if (!p) __builtin_trap(); // a test wrote outside its own fake RAM: a bug in the test
    }
    std::vector<Range> m_ranges;
};
