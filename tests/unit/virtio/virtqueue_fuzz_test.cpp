// Randomised rings: a driver that writes garbage into the descriptor table, indirect tables and
// the available ring, biased towards the edges that matter (indices around the queue size,
// addresses at the ends of RAM, in the hole, near 2^64). Whatever it writes, the queue must not
// crash, must not read outside RAM, and every chain it hands out must lie in RAM and respect the
// readable-then-writable order; a fault must be sticky.
#include "ring_builder.hpp"

#include <gtest/gtest.h>
#include <cstdio>
#include <random>

using namespace virtio;

namespace {

constexpr u64 kRamEnd = RingBuilder::kRamBase + RingBuilder::kSmallRam;
constexpr u64 kHoleBase = kRamEnd; // nothing mapped here
constexpr u64 kRam2Base = kHoleBase + 0x10'0000;
constexpr u64 kRam2Size = 0x1'0000;

struct Fuzzer {
    std::mt19937_64 rng;
    // Out of 16, how often a field gets an edge or garbage value instead of a plausible one: per
    // seed, so some rings are mostly well-formed (chains get popped) and some are wild.
    u64 wildness;
    explicit Fuzzer(u64 seed) : rng(seed), wildness(pick(8)) {}
    bool wild() { return pick(16) < wildness; }

    u64 pick(u64 n) { return std::uniform_int_distribution<u64>(0, n - 1)(rng); }
    u64 address() {
        if (!wild()) return RingBuilder::kBuffers + pick(0x8000);
        switch (pick(8)) {
        case 0: return RingBuilder::kBuffers + pick(0x8000);
        case 1: return kRamEnd - pick(64); // end of RAM
        case 2: return kHoleBase + pick(0x1000);
        case 3: return kRam2Base + kRam2Size - pick(32);
        case 4: return ~0ull - pick(64); // near 2^64
        case 5: return pick(0x4000'0000);
        case 6: return RingBuilder::kRamBase + 0x20000 + 16 * pick(64); // indirect table area
        default: return rng();
        }
    }
    u32 length() {
        if (!wild()) return static_cast<u32>(pick(256));
        switch (pick(5)) {
        case 0: return 0;
        case 1: return static_cast<u32>(pick(64));
        case 2: return static_cast<u32>(16 * pick(40));
        case 3: return 0xffff'ffffu - static_cast<u32>(pick(16));
        default: return static_cast<u32>(rng());
        }
    }
    u16 index(u16 size) {
        if (!wild()) return static_cast<u16>(pick(size));
        switch (pick(4)) {
        case 0: return static_cast<u16>(rng());
        case 1: return static_cast<u16>(size + pick(3) - 1);
        default: return static_cast<u16>(pick(size));
        }
    }
    u16 flags() {
        if (!wild()) return static_cast<u16>(pick(4)); // NEXT and WRITE
        return static_cast<u16>(pick(8) | (pick(4) == 0 ? rng() : 0));
    }
};

void scribble_table(RingBuilder& rb, Fuzzer& f, u64 table, u16 entries, u16 size) {
    for (u16 i = 0; i < entries; ++i) rb.desc_at(table, i, f.address(), f.length(), f.flags(), f.index(size));
}

TEST(VirtqueueFuzz, RandomRingsNeverEscapeRamOrCrash) {
    unsigned popped = 0, faulted = 0, kinds_seen = 0;
    for (u64 seed = 1; seed <= 1500; ++seed) {
        Fuzzer f(seed);
        const u16 size = static_cast<u16>(1u << f.pick(6)); // 1..32
        RingBuilder rb{size, RingBuilder::kSmallRam};
        rb.mem.add_ram(kRam2Base, kRam2Size);
        SplitQueue q{rb.mem, 32};
        ASSERT_TRUE(q.activate(rb.config(f.pick(2) == 0, f.pick(4) != 0)).is_ok());
        scribble_table(rb, f, RingBuilder::kDesc, size, size);
        scribble_table(rb, f, RingBuilder::kRamBase + 0x20000, 64, size);
        Chain chain;
        for (int round = 0; round < 8; ++round) {
            // New heads and a new avail idx: usually a plausible step, sometimes anything.
            const u16 step = f.wild() && f.wild() ? static_cast<u16>(f.rng()) : static_cast<u16>(f.pick(size + 1));
            for (u16 k = 0; k < step && k <= size; ++k) rb.offer(f.index(size));
            if (step > size) rb.set_avail_idx(static_cast<u16>(rb.avail_idx + step));
            if (f.pick(3) == 0) scribble_table(rb, f, RingBuilder::kDesc, size, size);
            for (int n = 0; n < 40; ++n) {
                auto r = q.pop(chain);
                if (r.is_error()) {
                    ASSERT_EQ(r.error(), Error::BadFormat);
                    ASSERT_TRUE(q.broken());
                    break;
                }
                if (!r.value()) break;
                ++popped;
                bool seen_writable = false;
                u64 total = 0;
                for (const Segment& s : chain.segments) {
                    ASSERT_TRUE(rb.mem.is_ram(s.gpa, s.len)) << std::hex << s.gpa << " " << s.len;
                    ASSERT_GT(s.len, 0u);
                    ASSERT_FALSE(seen_writable && !s.writable);
                    seen_writable |= s.writable;
                    total += s.len;
                }
                ASSERT_EQ(total, u64{chain.readable_len} + chain.writable_len);
                ASSERT_LT(chain.head, size);
                if (f.pick(2)) {
                    const u32 written = static_cast<u32>(f.pick(u64{chain.writable_len} + 1));
                    ASSERT_TRUE(q.push(chain, written).is_ok());
                }
                (void)q.needs_notify();
                (void)q.set_driver_notifications(f.pick(2) == 0);
            }
            if (q.broken()) {
                ++faulted;
                kinds_seen |= 1u << static_cast<unsigned>(q.fault());
                // Sticky: nothing more is read from the rings.
                const unsigned reads = rb.mem.reads;
                ASSERT_EQ(q.pop(chain).error(), Error::BadFormat);
                ASSERT_EQ(rb.mem.reads, reads);
                break;
            }
        }
        // Rings and tables were checked before use: nothing was ever attempted outside RAM.
        ASSERT_EQ(rb.mem.refused, 0u) << "seed " << seed;
    }
    // The generator must reach both outcomes, or it is not testing anything.
    std::printf("popped %u chains, %u queues faulted, fault kinds %#x\n", popped, faulted, kinds_seen);
    EXPECT_GT(popped, 500u);
    EXPECT_GT(faulted, 500u);
    EXPECT_GE(__builtin_popcount(kinds_seen), 10) << std::hex << kinds_seen;
}

} // namespace
