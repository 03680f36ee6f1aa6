// Test doubles for the address-space tests: a FrameSource over one aligned host buffer (with a
// configurable failing allocation and leak accounting, and host-window ranges outside it) and a
// Tlb that records its calls.
#pragma once
#include <functional>
#include "addrspace/frame_source.hpp"
#include "addrspace/page_table.hpp"
#include "addrspace/tlb.hpp"
#include <gtest/gtest.h>
#include <cstdlib>
#include <cstring>
#include <tuple>
#include <vector>

class FakeFrames {
public:
    static constexpr u64 base = 0x4000'0000; // "physical" address of frame 0, 1 GiB aligned
    explicit FakeFrames(usize frames = 8192)
        : m_used(frames, false), m_mem(static_cast<u8*>(std::aligned_alloc(4096, frames * 4096))) {
        std::memset(m_mem, 0x5a, frames * 4096);
    }
    ~FakeFrames() { std::free(m_mem); }

    Result<HostPhysAddr> alloc_frames(usize count, usize align) {
        auto r = alloc_frames_unzeroed(count, align);
        if (r.is_ok()) zero_frames(r.value(), count * 4096);
        return r;
    }
    // Unzeroed frames hold what the last user left (0xa5 after a free, or the arena's first fill),
    // so a test sees any byte the caller forgot to write.
    Result<HostPhysAddr> alloc_frames_unzeroed(usize count, usize align) {
        if (++m_calls == m_fail_at) return Error::NoMemory;
        const usize step = align > 4096 ? align / 4096 : 1;
        for (usize i = 0; i + count <= m_used.size(); i += step) {
            usize n = 0;
            while (n < count && !m_used[i + n]) ++n;
            if (n < count) continue;
            for (n = 0; n < count; ++n) m_used[i + n] = true;
            m_in_use += count;
            return HostPhysAddr(base + i * 4096);
        }
        return Error::NoMemory;
    }
    void free_frames(HostPhysAddr pa, usize count) {
        const usize first = (pa.value() - base) / 4096;
        for (usize i = first; i < first + count; ++i) {
            if (i >= m_used.size() || !m_used[i]) ADD_FAILURE() << "bad free of frame " << i;
            else m_used[i] = false, std::memset(m_mem + i * 4096, 0xa5, 4096); // stale data must never reach a guest
        }
        m_in_use -= count;
    }
    void zero_frames(HostPhysAddr pa, usize len) {
        std::memset(phys_to_virt(pa), 0, len);
        m_zeroed += len;
    }
    void clean_frames(HostPhysAddr, usize len) { m_cleaned += len; }
    usize zeroed_bytes() const { return m_zeroed; } // by alloc_frames and zero_frames
    usize cleaned_bytes() const { return m_cleaned; }
    void* phys_to_virt(HostPhysAddr pa) { return m_mem + (pa.value() - base); }
    // The arena is the "RAM this source manages": reached directly. Anything else goes to a
    // window range (add_window) if one covers it, read-only, Device ones in aligned 4-byte words
    // only; what no range covers is refused, like memory the real window cannot map.
    Result<void> access_host(HostPhysAddr pa, u8* buf, usize len, HostOp op, MemFlags type) {
        const u64 a = pa.value();
        if (a >= base && a - base < arena_bytes() && len <= arena_bytes() - (a - base)) {
            u8* host = m_mem + (a - base);
            if (op == HostOp::Read) std::memcpy(buf, host, len);
            else if (op == HostOp::Write) std::memcpy(host, buf, len);
            else std::memset(host, 0, len);
            return {};
        }
        for (Window& w : m_windows) {
            if (a < w.base || a - w.base >= w.bytes.size() || len > w.bytes.size() - (a - w.base)) continue;
            if (op != HostOp::Read) return Error::Denied;
            if (has(type, MemFlags::Device) && ((a | len) & 3)) return Error::Denied;
            std::memcpy(buf, w.bytes.data() + (a - w.base), len);
            ++w.reads;
            return {};
        }
        ++m_refused;
        return Error::Denied;
    }
    // Host memory outside the arena that the window can reach, with its contents.
    std::vector<u8>& add_window(u64 at, usize size) {
        m_windows.push_back(Window{at, std::vector<u8>(size), 0});
        return m_windows.back().bytes;
    }
    usize window_reads() const {
        usize n = 0;
        for (const Window& w : m_windows) n += w.reads;
        return n;
    }
    usize refused() const { return m_refused; }

    usize in_use() const { return m_in_use; }
    void fail_nth(usize n) { m_fail_at = n ? m_calls + n : 0; } // n-th allocation from now fails; 0: none

private:
    struct Window {
        u64 base;
        std::vector<u8> bytes;
        usize reads;
    };
    usize arena_bytes() const { return m_used.size() * 4096; }

    std::vector<Window> m_windows;
    usize m_refused = 0;
    std::vector<bool> m_used;
    u8* m_mem;
    usize m_in_use = 0, m_calls = 0, m_fail_at = 0;
    usize m_zeroed = 0, m_cleaned = 0;
};
static_assert(FrameSource<FakeFrames>);

struct TlbCall {
    u64 addr, size; // size 0: invalidate_all
    bool operator==(const TlbCall&) const = default;
};
inline std::ostream& operator<<(std::ostream& os, const TlbCall& c) {
    return os << std::hex << "{0x" << c.addr << ", 0x" << c.size << "}";
}
struct RecordingTlb {
    std::vector<TlbCall> calls;
    std::vector<TlbCall> exec_prepared; // prepare_exec(pa, size) calls
    std::vector<TlbCall> mapped;        // after_map(addr, size) calls
    std::vector<u64> retried;           // fault_retry(addr) calls
    std::function<void(HostPhysAddr, u64)> on_prepare_exec; // optional: checks the state at the call
    void invalidate_range(u64 addr, u64 size) { calls.push_back({addr, size}); }
    void invalidate_all() { calls.push_back({0, 0}); }
    void after_map(u64 addr, u64 size) { mapped.push_back({addr, size}); }
    void fault_retry(u64 addr) { retried.push_back(addr); }
    void prepare_exec(HostPhysAddr pa, u64 size) {
        exec_prepared.push_back({pa.value(), size});
        if (on_prepare_exec) on_prepare_exec(pa, size);
    }
};
static_assert(Stage2Maintenance<RecordingTlb>);

// Every leaf of a table as (input, output, size, flags), for before/after comparisons.
using Leaves = std::vector<std::tuple<u64, u64, u64, u32>>;
template <typename Table> Leaves leaves_of(const Table& t) {
    Leaves out;
    t.for_each_leaf(0, t.limit(), [&](const auto& m) {
        out.emplace_back(m.in, m.pa.value(), m.size, u32(m.flags));
        return true;
    });
    return out;
}

constexpr MemFlags RW = MemFlags::Read | MemFlags::Write;
constexpr MemFlags RWX = RW | MemFlags::Exec;
