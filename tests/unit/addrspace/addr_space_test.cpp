// AddrSpace over the aarch64 stage-2 format with fake frames and a recording TLB.
#include "addrspace/addr_space.hpp"
#include "arch/aarch64/stage2_format.hpp"
#include "fakes.hpp"
#include <algorithm>

using Space = AddrSpace<arch::Stage2Format, FakeFrames, RecordingTlb>;
constexpr u64 K4 = 4 * KiB, M2 = 2 * MiB;
static Space make(FakeFrames& f) {
    return Space::create(f, RecordingTlb{}, arch::stage2_config(0b0100).geometry()).release_value();
}
static GuestPhysAddr gpa(u64 v) { return GuestPhysAddr(v); }
static u64 leaf_size(const Space& s, u64 a) { return s.page_table().query(a).value().size; }

TEST(AddrSpace, LazyFaultsMapBlocksInsideTheRegionAndPagesAtItsEdges) {
    FakeFrames frames;
    Space s = make(frames);
    // [0x4010_0000, 0x4070_0000): only the 2 MiB windows at 0x4020_0000 and 0x4040_0000 are whole.
    ASSERT_TRUE(s.map_alloc(gpa(0x4010'0000), 6 * MiB, RW, false).is_ok());
    EXPECT_EQ(frames.in_use(), 1u);
    EXPECT_EQ(s.translate(gpa(0x4010'0000)).error(), Error::NotMapped);
    EXPECT_TRUE(s.handle_fault(gpa(0x4010'5123), MemFlags::Read).value());
    EXPECT_EQ(leaf_size(s, 0x4010'5000), K4);
    EXPECT_TRUE(s.handle_fault(gpa(0x4030'0008), MemFlags::Write).value());
    EXPECT_EQ(leaf_size(s, 0x4020'0000), M2);
    EXPECT_TRUE(s.page_table().query(0x4020'0000).value().pa.is_aligned(M2));
    EXPECT_TRUE(s.handle_fault(gpa(0x406f'f800), MemFlags::Write).value());
    EXPECT_EQ(leaf_size(s, 0x406f'f000), K4);
    EXPECT_FALSE(s.handle_fault(gpa(0x4070'0000), MemFlags::Read).value()); // no region: MMIO or abort
    EXPECT_TRUE(s.handle_fault(gpa(0x4030'0000), MemFlags::Write).value());   // already mapped: retry
    EXPECT_EQ(frames.in_use(), 1u + 512 + 2 + 4); // RAM + L1, L2, two L3 tables
    u64 word = 1;
    ASSERT_TRUE(s.read(gpa(0x4030'0000), &word, 8).is_ok());
    EXPECT_EQ(word, 0u); // fresh RAM is zeroed
    EXPECT_TRUE(s.tlb().calls.empty()); // additions never need TLB invalidation
    // ...but each is announced to the ISA (tlb.hpp after_map: an ISA whose TLBs may keep invalid
    // entries fences there), once per new leaf range; the retry on a mapped address adds none.
    const std::vector<TlbCall> mapped{{0x4010'5000, K4}, {0x4020'0000, M2}, {0x406f'f000, K4}};
    EXPECT_EQ(s.tlb().mapped, mapped);
    // Every fault answered "re-run the access" makes the faulting CPU's translation current
    // (tlb.hpp fault_retry), the retry on an address already mapped too: that is where a CPU whose
    // TLB kept the invalid entry (RISC-V) is fenced, instead of fencing every CPU at each mapping.
    // The fault with no region is not retried.
    const std::vector<u64> retried{0x4010'5123, 0x4030'0008, 0x406f'f800, 0x4030'0000};
    EXPECT_EQ(s.tlb().retried, retried);
}

// A permission fault on mapped RAM is the guest's, not a stale TLB entry: no retry, no fence.
TEST(AddrSpace, PermissionFaultIsNotRetried) {
    FakeFrames frames;
    Space s = make(frames);
    ASSERT_TRUE(s.map_alloc(gpa(0x4000'0000), 2 * MiB, RW, false).is_ok());
    EXPECT_TRUE(s.handle_fault(gpa(0x4000'0010), MemFlags::Read).value());
    EXPECT_FALSE(s.handle_fault(gpa(0x4000'0010), MemFlags::Exec).value());
    EXPECT_EQ(s.tlb().retried, std::vector<u64>{0x4000'0010});
}

TEST(AddrSpace, PermissionsDecideFaults) {
    FakeFrames frames;
    Space s = make(frames);
    ASSERT_TRUE(s.map_alloc(gpa(0x8000'0000), M2, MemFlags::Read, false).is_ok());
    EXPECT_FALSE(s.handle_fault(gpa(0x8000'0000), MemFlags::Write).value()); // write to read-only RAM: genuine
    EXPECT_TRUE(s.handle_fault(gpa(0x8000'0000), MemFlags::Read).value());
    EXPECT_FALSE(s.handle_fault(gpa(0x8000'0000), MemFlags::Write).value()); // still a permission fault
    // A fetch from readable but non-executable RAM is a genuine fault, mapped or not: treating it as
    // a read would re-run the fetch into the same fault forever.
    EXPECT_FALSE(s.handle_fault(gpa(0x8000'0000), MemFlags::Exec).value());
    EXPECT_FALSE(s.handle_fault(gpa(0x8010'0000), MemFlags::Exec).value());
    ASSERT_TRUE(s.protect(gpa(0x8000'0000), M2, RW).is_ok());
    EXPECT_TRUE(s.handle_fault(gpa(0x8000'0000), MemFlags::Write).value());
    // protect also covers lazy pages populated later.
    ASSERT_TRUE(s.map_alloc(gpa(0x9000'0000), M2, RW, false).is_ok());
    ASSERT_TRUE(s.protect(gpa(0x9000'0000), M2, MemFlags::Read).is_ok());
    EXPECT_FALSE(s.handle_fault(gpa(0x9000'0000), MemFlags::Write).value());
    EXPECT_EQ(s.protect(gpa(0x9010'0000), M2, RW).error(), Error::NotMapped); // runs past the region
}

TEST(AddrSpace, ReadWriteCrossPagesAndReadsDoNotAllocate) {
    FakeFrames frames;
    Space s = make(frames);
    ASSERT_TRUE(s.map_alloc(gpa(0x4000'1000), 3 * K4, RW, false).is_ok()); // pages only
    const char msg[] = "crosses a page boundary";
    ASSERT_TRUE(s.write(gpa(0x4000'1ff8), msg, sizeof msg).is_ok());
    char back[sizeof msg] = {};
    ASSERT_TRUE(s.read(gpa(0x4000'1ff8), back, sizeof back).is_ok());
    EXPECT_STREQ(back, msg);
    // The two halves landed at the ends of two separately allocated frames.
    EXPECT_EQ(std::memcmp(frames.phys_to_virt(s.translate(gpa(0x4000'1ff8)).value().pa), msg, 8), 0);
    EXPECT_STREQ(static_cast<char*>(frames.phys_to_virt(s.translate(gpa(0x4000'2000)).value().pa)), msg + 8);
    const usize used = frames.in_use();
    u8 zeros[64];
    std::memset(zeros, 0x55, sizeof zeros);
    ASSERT_TRUE(s.read(gpa(0x4000'3fe0), zeros, sizeof zeros).is_error()); // runs past the region
    ASSERT_TRUE(s.read(gpa(0x4000'3f00), zeros, sizeof zeros).is_ok());    // never touched
    for (u8 b : zeros) EXPECT_EQ(b, 0);
    EXPECT_EQ(frames.in_use(), used);
    EXPECT_EQ(s.read(gpa(0x5000'0000), zeros, 1).error(), Error::NotMapped);
}

TEST(AddrSpace, LinearMappingsTranslateAndAreNeverFreed) {
    FakeFrames frames;
    const HostPhysAddr image = frames.alloc_frames(1024, M2).value(); // guest image already in RAM
    const usize before = frames.in_use();
    {
        Space s = make(frames);
        ASSERT_TRUE(s.map_linear(gpa(0x4000'0000), image, 4 * MiB, RWX).is_ok());
        ASSERT_TRUE(s.map_linear(gpa(0x0900'0000), HostPhysAddr(0x0900'0000), K4, RW | MemFlags::Device).is_ok());
        auto t = s.translate(gpa(0x4012'3456)).value();
        EXPECT_EQ(t.pa, image + 0x12'3456);
        EXPECT_EQ(t.flags, RWX);
        EXPECT_EQ(s.translate(gpa(0x0900'0010)).value().flags, RW | MemFlags::Device);
        EXPECT_EQ(leaf_size(s, 0x4020'0000), M2);
        u8 b;
        EXPECT_EQ(s.read(gpa(0x0900'0000), &b, 1).error(), Error::Denied); // no memcpy on MMIO
        EXPECT_EQ(s.map_linear(gpa(0x403f'f000), image, 2 * K4, RW).error(), Error::AlreadyMapped);
        // Both announced (tlb.hpp after_map); the refused one is not.
        const std::vector<TlbCall> mapped{{0x4000'0000, 4 * MiB}, {0x0900'0000, K4}};
        EXPECT_EQ(s.tlb().mapped, mapped);
        EXPECT_FALSE(s.handle_fault(gpa(0x0900'0000), MemFlags::Write).is_error());
        EXPECT_TRUE(s.tlb().calls.empty());
    }
    EXPECT_EQ(frames.in_use(), before);
}

TEST(AddrSpace, UnmapAndProtectCutRegionsAndInvalidate) {
    FakeFrames frames;
    Space s = make(frames);
    ASSERT_TRUE(s.map_linear(gpa(0x4000'0000), HostPhysAddr(0x1'0000'0000), 4 * MiB, RW).is_ok());
    ASSERT_TRUE(s.protect(gpa(0x4020'0000), K4, MemFlags::Read).is_ok());
    EXPECT_EQ(s.tlb().calls, (std::vector<TlbCall>{{0x4020'0000, M2}, {0x4020'0000, K4}}));
    EXPECT_EQ(s.regions().size(), 3u);
    s.tlb().calls.clear();
    ASSERT_TRUE(s.unmap(gpa(0x4000'0000), 3 * M2 / 2).is_ok()); // 3 MiB: ends inside the second block
    EXPECT_EQ(s.translate(gpa(0x402f'f000)).error(), Error::NotMapped);
    EXPECT_EQ(s.translate(gpa(0x4030'0000)).value().pa.value(), 0x1'0030'0000u);
    EXPECT_EQ(s.regions().size(), 1u);
    EXPECT_EQ(s.regions()[0].host.value(), 0x1'0030'0000u);
    EXPECT_FALSE(s.tlb().calls.empty());
    for (const TlbCall& c : s.tlb().calls) EXPECT_LT(c.addr, 0x4030'0000u); // nothing past the range
    EXPECT_EQ(s.unmap(gpa(0x4000'0000), K4).error(), Error::NotMapped);
}

TEST(AddrSpace, UnmapFreesOnlyTheOwnedPart) {
    FakeFrames frames;
    Space s = make(frames);
    ASSERT_TRUE(s.map_alloc(gpa(0x4000'0000), 4 * MiB, RW, true).is_ok());
    const usize used = frames.in_use(); // root, L1, L2 + 1024 frames of RAM
    EXPECT_EQ(used, 3u + 1024);
    ASSERT_TRUE(s.unmap(gpa(0x4020'0000), K4).is_ok()); // splits the second block: + L3
    EXPECT_EQ(frames.in_use(), used + 1 - 1);
    ASSERT_TRUE(s.unmap(gpa(0x4000'0000), M2).is_ok());
    EXPECT_EQ(frames.in_use(), used - 512);
    EXPECT_EQ(s.regions().size(), 1u);
    EXPECT_FALSE(s.handle_fault(gpa(0x4000'0000), MemFlags::Read).value());
}

TEST(AddrSpace, PopulateNoMemoryAtEveryPointRollsBack) {
    FakeFrames frames;
    Space s = make(frames);
    ASSERT_TRUE(s.map_alloc(gpa(0x1000'0000), M2, RW, true).is_ok());
    const Leaves before = leaves_of(s.page_table());
    const usize used = frames.in_use();
    // Allocations: page, L2, L3 (0x401f_e000); page (0x401f_f000); 2 MiB (0x4020_0000); page, L3
    // (0x4040_0000); page (0x4040_1000). A failed 2 MiB allocation falls back to pages (n = 5).
    usize failures = 0;
    for (usize n = 1; n <= 10; ++n) {
        frames.fail_nth(n);
        auto r = s.map_alloc(gpa(0x401f'e000), M2 + 4 * K4, RWX, true);
        if (r.is_ok()) {
            EXPECT_EQ(leaf_size(s, 0x4020'0000), n == 5 ? K4 : M2);
            EXPECT_TRUE(s.unmap(gpa(0x401f'e000), M2 + 4 * K4).is_ok());
        } else {
            ++failures;
            EXPECT_EQ(r.error(), Error::NoMemory);
        }
        EXPECT_EQ(leaves_of(s.page_table()), before);
        EXPECT_EQ(frames.in_use(), used);
        EXPECT_EQ(s.regions().size(), 1u);
    }
    EXPECT_EQ(failures, 7u);
}

TEST(AddrSpace, ResetFreesRamAndKeepsRegions) {
    FakeFrames frames;
    Space s = make(frames);
    ASSERT_TRUE(s.map_linear(gpa(0x0900'0000), HostPhysAddr(0x0900'0000), K4, RW | MemFlags::Device).is_ok());
    ASSERT_TRUE(s.map_alloc(gpa(0x4000'0000), 4 * MiB, RWX, false).is_ok());
    ASSERT_TRUE(s.map_alloc(gpa(0x8000'0000), M2, RW, true).is_ok());
    const usize fresh = frames.in_use();
    const u64 secret = 0x5ec7e7;
    ASSERT_TRUE(s.write(gpa(0x4000'0100), &secret, 8).is_ok());
    ASSERT_TRUE(s.write(gpa(0x8000'0100), &secret, 8).is_ok());
    ASSERT_TRUE(s.reset().is_ok());
    EXPECT_EQ(s.tlb().calls.front(), (TlbCall{0, 0}));
    EXPECT_EQ(s.regions().size(), 3u);
    EXPECT_EQ(frames.in_use(), fresh);
    EXPECT_EQ(s.translate(gpa(0x4000'0000)).error(), Error::NotMapped); // lazy again
    EXPECT_TRUE(s.translate(gpa(0x0900'0000)).is_ok());
    u64 v = 1;
    ASSERT_TRUE(s.read(gpa(0x8000'0100), &v, 8).is_ok());
    EXPECT_EQ(v, 0u); // no old data survives a restart
}

TEST(AddrSpace, DestructionFreesEverythingItAllocated) {
    FakeFrames frames;
    {
        Space s = make(frames);
        ASSERT_TRUE(s.map_alloc(gpa(0x4000'0000), 8 * MiB, RW, true).is_ok());
        ASSERT_TRUE(s.map_alloc(gpa(0x5000'1000), 64 * K4, RW, false).is_ok());
        ASSERT_TRUE(s.write(gpa(0x5000'1000), "x", 1).is_ok());
        ASSERT_TRUE(s.protect(gpa(0x4010'0000), K4, MemFlags::Read).is_ok()); // split + cut regions
        Space moved(static_cast<Space&&>(s));
        EXPECT_EQ(moved.regions().size(), 4u);
    }
    EXPECT_EQ(frames.in_use(), 0u);
}

// --- the one checked path to guest memory: RAM directly, other host memory through the window ---

// A reserved carve-out (or a passthrough device) the window cannot reach: every hypervisor
// access fails with an error and nothing is touched. Before the host window, read() took the
// host address as a pointer (phys_to_virt): on cxvisor an EL2 fault and a panic, here a wild
// pointer outside the fake's arena.
TEST(AddrSpace, AccessToMemoryTheWindowRefusesFailsCleanly) {
    FakeFrames frames;
    Space s = make(frames);
    ASSERT_TRUE(s.map_linear(gpa(0x0400'0000), HostPhysAddr(0x0400'0000), M2, MemFlags::Read | MemFlags::Exec).is_ok());
    ASSERT_TRUE(s.map_linear(gpa(0x0a00'0000), HostPhysAddr(0x0a00'0000), K4, RW | MemFlags::Device).is_ok());
    u32 insn = 0x5a5a5a5a;
    EXPECT_EQ(s.read(gpa(0x0400'1000), &insn, 4).error(), Error::Denied);
    EXPECT_EQ(s.read(gpa(0x0a00'0000), &insn, 4).error(), Error::Denied);
    EXPECT_EQ(insn, 0x5a5a5a5au);
    // Loading an image there (a config the package validator would refuse) fails the same way.
    const char image[] = "kernel";
    EXPECT_EQ(s.write(gpa(0x0400'0000), image, sizeof image).error(), Error::Denied);
    EXPECT_EQ(frames.refused(), 3u);
}

// Reads of a reachable carve-out come through the window with the region's memory type; writes
// never do (cxvisor does not write memory it does not manage, e.g. flash).
TEST(AddrSpace, CarveOutsAreReadThroughTheWindowAndNeverWritten) {
    FakeFrames frames;
    std::vector<u8>& flash = frames.add_window(0x0400'0000, 2 * M2);
    for (usize i = 0; i < flash.size(); ++i) flash[i] = u8(i * 13 + 5);
    Space s = make(frames);
    ASSERT_TRUE(s.map_linear(gpa(0x0400'0000), HostPhysAddr(0x0400'0000), M2, MemFlags::Read | MemFlags::Exec).is_ok());
    ASSERT_TRUE(s.map_linear(gpa(0x0420'0000), HostPhysAddr(0x0420'0000), M2,
                             MemFlags::Read | MemFlags::Exec | MemFlags::Device).is_ok());
    // Normal: any length and alignment, across pages.
    u8 back[24];
    ASSERT_TRUE(s.read(gpa(0x0400'0ff5), back, sizeof back).is_ok());
    EXPECT_EQ(std::memcmp(back, flash.data() + 0xff5, sizeof back), 0);
    // Device: naturally aligned 4-byte words only (what an instruction fetch reads).
    u32 insn = 0;
    ASSERT_TRUE(s.read(gpa(0x0420'0104), &insn, 4).is_ok());
    u32 want;
    std::memcpy(&want, flash.data() + M2 + 0x104, 4);
    EXPECT_EQ(insn, want);
    EXPECT_EQ(s.read(gpa(0x0420'0106), &insn, 4).error(), Error::Denied);
    EXPECT_EQ(s.read(gpa(0x0420'0104), back, 1).error(), Error::Denied);
    EXPECT_EQ(frames.window_reads(), 2u);
    const std::vector<u8> before = flash;
    EXPECT_EQ(s.write(gpa(0x0400'0000), "x", 1).error(), Error::Denied);
    EXPECT_EQ(s.zero(gpa(0x0400'0000), K4).error(), Error::Denied);
    EXPECT_EQ(flash, before);
}

// zero(): what Vm::boot clears identity RAM with. Mapped RAM (also 2 MiB blocks, also across a
// region boundary) is cleared; never-touched lazy RAM is left unallocated (it reads as zero).
TEST(AddrSpace, ZeroClearsMappedRamAndLeavesLazyRamAlone) {
    FakeFrames frames;
    const HostPhysAddr ident = frames.alloc_frames(512, M2).value(); // identical RAM
    std::memset(frames.phys_to_virt(ident), 0xee, M2);
    Space s = make(frames);
    ASSERT_TRUE(s.map_linear(gpa(0x7000'0000), ident, M2, RW).is_ok());
    ASSERT_TRUE(s.map_alloc(gpa(0x7020'0000), 2 * M2, RW, false).is_ok());
    ASSERT_TRUE(s.write(gpa(0x7020'0000), "dirty", 5).is_ok()); // populates the first block only
    const usize used = frames.in_use();
    ASSERT_TRUE(s.zero(gpa(0x7000'0000), 3 * M2).is_ok());
    EXPECT_EQ(s.translate(gpa(0x7040'0000)).error(), Error::NotMapped);
    EXPECT_EQ(frames.in_use(), used);
    const u8* host = static_cast<const u8*>(frames.phys_to_virt(ident));
    EXPECT_TRUE(std::all_of(host, host + M2, [](u8 b) { return b == 0; }));
    char five[5] = {1, 1, 1, 1, 1};
    ASSERT_TRUE(s.read(gpa(0x7020'0000), five, 5).is_ok());
    EXPECT_TRUE(std::all_of(five, five + 5, [](char c) { return c == 0; }));
    EXPECT_EQ(s.zero(gpa(0x6fff'f000), 2 * K4).error(), Error::NotMapped); // starts outside
    EXPECT_EQ(frames.refused(), 0u);
}

// Executable RAM has its instruction cache made coherent before the stage-2 entry exists: a vCPU on
// another CPU must not be able to fetch stale lines through the new mapping in between. (The hook
// used to run after the fault was resolved, with the entry already visible.)
TEST(AddrSpace, ExecutableRamIsPreparedBeforeItIsMapped) {
    FakeFrames frames;
    Space s = make(frames);
    ASSERT_TRUE(s.map_alloc(gpa(0x4000'0000), 4 * MiB, RW | MemFlags::Exec, false).is_ok());
    ASSERT_TRUE(s.map_alloc(gpa(0x5000'0000), 2 * MiB, RW, false).is_ok());
    bool mapped_at_call = true;
    s.tlb().on_prepare_exec = [&](HostPhysAddr, u64) { mapped_at_call = s.translate(gpa(0x4020'0000)).is_ok(); };
    ASSERT_TRUE(s.handle_fault(gpa(0x4020'0010), MemFlags::Exec).value());
    EXPECT_FALSE(mapped_at_call);
    ASSERT_EQ(s.tlb().exec_prepared.size(), 1u);
    EXPECT_EQ(s.tlb().exec_prepared[0], (TlbCall{s.page_table().query(0x4020'0000).value().pa.value(), M2}));
    s.tlb().on_prepare_exec = nullptr;
    ASSERT_TRUE(s.handle_fault(gpa(0x5000'0000), MemFlags::Write).value()); // not executable: nothing to do
    EXPECT_EQ(s.tlb().exec_prepared.size(), 1u);
}

// ---- images: guest RAM that starts as host memory, copy-on-write --------------------------------

namespace {
// Host memory the space does not own: a 2 MiB-aligned run of the fake's frames, taken by the test
// (so a space that freed one of them would make FakeFrames report a bad free at the end).
struct HostImage {
    FakeFrames& frames;
    HostPhysAddr pa;
    usize count;
    HostImage(FakeFrames& f, usize n) : frames(f), pa(f.alloc_frames(n, M2).release_value()), count(n) {
        for (usize i = 0; i < n * K4; ++i) bytes()[i] = u8(i * 7 + 1);
    }
    ~HostImage() { frames.free_frames(pa, count); }
    u8* bytes() { return static_cast<u8*>(frames.phys_to_virt(pa)); }
    bool pristine() {
        for (usize i = 0; i < count * K4; ++i)
            if (bytes()[i] != u8(i * 7 + 1)) return false;
        return true;
    }
};
u8 image_byte(u64 off) { return u8(off * 7 + 1); }
// 4 MiB of lazy RWX RAM at 0x4000_0000 whose upper 2 MiB start as `img` (at least 512 frames).
Space with_image(FakeFrames& frames, const HostImage& img) {
    Space s = make(frames);
    EXPECT_TRUE(s.map_alloc(gpa(0x4000'0000), 4 * MiB, RWX, false).is_ok());
    EXPECT_TRUE(s.map_image(gpa(0x4020'0000), img.pa, M2).is_ok());
    return s;
}
} // namespace

TEST(AddrSpaceImage, TouchMapsTheImageReadOnlyAndTheFirstWriteCopiesOnePage) {
    FakeFrames frames;
    HostImage img(frames, 1024); // 4 MiB
    {
        Space s = make(frames);
        ASSERT_TRUE(s.map_alloc(gpa(0x8000'0000), 8 * MiB, RWX, false).is_ok());
        // The whole block at 0x8020_0000 and three pages of the next one.
        ASSERT_TRUE(s.map_image(gpa(0x8020'0000), img.pa, M2 + 3 * K4).is_ok());
        EXPECT_TRUE(s.handle_fault(gpa(0x8000'0000), MemFlags::Read).value()); // plain RAM next to it
        const usize before = frames.in_use();
        EXPECT_TRUE(s.handle_fault(gpa(0x8030'0008), MemFlags::Exec).value());
        auto m = s.page_table().query(0x8030'0000).value();
        EXPECT_EQ(m.size, M2);                 // one block over the image's own frames
        EXPECT_EQ(m.pa.value(), img.pa.value());
        EXPECT_EQ(u32(m.flags), u32(MemFlags::Read | MemFlags::Exec)); // never writable
        EXPECT_EQ(frames.in_use(), before); // no RAM, no table
        u8 b = 0;
        ASSERT_TRUE(s.read(gpa(0x8030'0010), &b, 1).is_ok());
        EXPECT_EQ(b, image_byte(0x10'0010));

        s.tlb().calls.clear();
        EXPECT_TRUE(s.handle_fault(gpa(0x8030'0008), MemFlags::Write).value());
        auto p = s.page_table().query(0x8030'0000).value();
        EXPECT_EQ(p.size, M2); // the whole block becomes private at once
        EXPECT_FALSE(p.pa >= img.pa && p.pa < img.pa + 1024 * K4);
        EXPECT_EQ(u32(p.flags), u32(RWX));
        // Break-before-make: the borrowed block's invalidation comes before the private block.
        EXPECT_EQ(s.tlb().calls, (std::vector<TlbCall>{{0x8020'0000, M2}}));
        ASSERT_TRUE(s.read(gpa(0x8030'0000), &b, 1).is_ok());
        EXPECT_EQ(b, image_byte(0x10'0000)); // the copy holds the image's bytes
        ASSERT_TRUE(s.read(gpa(0x8020'0000), &b, 1).is_ok());
        EXPECT_EQ(b, image_byte(0));
        const u8 x = 0xee;
        ASSERT_TRUE(s.write(gpa(0x8030'0000), &x, 1).is_ok());
        ASSERT_TRUE(s.read(gpa(0x8030'0000), &b, 1).is_ok());
        EXPECT_EQ(b, 0xee);
        EXPECT_TRUE(img.pristine());

        // A block the image covers in part is private RAM: image bytes, then zeroes.
        EXPECT_TRUE(s.handle_fault(gpa(0x8050'0000), MemFlags::Write).value());
        auto t = s.page_table().query(0x8040'0000).value();
        EXPECT_EQ(t.size, M2);
        EXPECT_EQ(u32(t.flags), u32(RWX));
        u8 tail[2];
        ASSERT_TRUE(s.read(gpa(0x8040'2fff), tail, 2).is_ok());
        EXPECT_EQ(tail[0], image_byte(M2 + 3 * K4 - 1));
        EXPECT_EQ(tail[1], 0);

        // A restart finds the original bytes; private copies go back to the allocator.
        ASSERT_TRUE(s.reset().is_ok());
        // Host writes (image loading, hypercall results) never reach the image either.
        const u8 y[3] = {1, 2, 3};
        ASSERT_TRUE(s.write(gpa(0x8020'0ffe), y, 3).is_ok()); // across a page boundary
        ASSERT_TRUE(s.zero(gpa(0x8020'3000), K4).is_ok());
        EXPECT_TRUE(img.pristine());
        u8 back[3];
        ASSERT_TRUE(s.read(gpa(0x8020'0ffe), back, 3).is_ok());
        EXPECT_EQ(back[2], 3);
        ASSERT_TRUE(s.read(gpa(0x8020'3800), &b, 1).is_ok());
        EXPECT_EQ(b, 0);
        ASSERT_TRUE(s.reset().is_ok());
        ASSERT_TRUE(s.read(gpa(0x8030'0000), &b, 1).is_ok());
        EXPECT_EQ(b, image_byte(0x10'0000));
        ASSERT_TRUE(s.read(gpa(0x8020'1000), &b, 1).is_ok());
        EXPECT_EQ(b, image_byte(0x1000));
        EXPECT_TRUE(img.pristine());
    }
    EXPECT_EQ(frames.in_use(), 1024u); // only the test's image: every private copy and table freed
}

TEST(AddrSpaceImage, WithoutA2MiBRunFreeOnlyTheWrittenPageIsCopied) {
    FakeFrames frames;
    HostImage img(frames, 512);
    Space s = with_image(frames, img);
    EXPECT_TRUE(s.handle_fault(gpa(0x4020'0000), MemFlags::Read).value());
    s.tlb().calls.clear();
    frames.fail_nth(1); // the 2 MiB allocation
    EXPECT_TRUE(s.handle_fault(gpa(0x4030'0008), MemFlags::Write).value());
    auto p = s.page_table().query(0x4030'0000).value();
    EXPECT_EQ(p.size, K4);
    EXPECT_FALSE(p.pa >= img.pa && p.pa < img.pa + 512 * K4);
    EXPECT_EQ(u32(p.flags), u32(RWX));
    auto n = s.page_table().query(0x4030'1000).value(); // the neighbours stay borrowed
    EXPECT_EQ(n.pa.value(), img.pa.value() + 0x10'1000);
    EXPECT_EQ(u32(n.flags), u32(MemFlags::Read | MemFlags::Exec));
    // The split's break-before-make of the block, then the page's own.
    EXPECT_EQ(s.tlb().calls, (std::vector<TlbCall>{{0x4020'0000, M2}, {0x4030'0000, K4}}));
    u8 b = 0;
    ASSERT_TRUE(s.read(gpa(0x4030'0001), &b, 1).is_ok());
    EXPECT_EQ(b, image_byte(0x10'0001));
    // No RAM at all: nothing changes but the split; the guest retries later.
    frames.fail_nth(1);
    EXPECT_EQ(s.handle_fault(gpa(0x4020'0000), MemFlags::Write).error(), Error::NoMemory);
    EXPECT_EQ(s.page_table().query(0x4020'0000).value().pa.value(), img.pa.value());
    EXPECT_TRUE(img.pristine());
}

TEST(AddrSpaceImage, TwoSpacesOnOneImageNeverSeeEachOthersWrites) {
    FakeFrames frames;
    HostImage img(frames, 512);
    Space a = make(frames), b = make(frames);
    for (Space* s : {&a, &b}) {
        ASSERT_TRUE(s->map_alloc(gpa(0x4000'0000), 4 * MiB, RWX, false).is_ok());
        ASSERT_TRUE(s->map_image(gpa(0x4020'0000), img.pa, M2).is_ok());
        EXPECT_TRUE(s->handle_fault(gpa(0x4020'0000), MemFlags::Read).value());
    }
    EXPECT_EQ(a.translate(gpa(0x4020'0000)).value().pa.value(), b.translate(gpa(0x4020'0000)).value().pa.value());
    EXPECT_TRUE(a.handle_fault(gpa(0x4020'0000), MemFlags::Write).value());
    const u64 v = 0x1122334455667788;
    ASSERT_TRUE(a.write(gpa(0x4020'0000), &v, 8).is_ok());
    u64 got = 0;
    ASSERT_TRUE(b.read(gpa(0x4020'0000), &got, 8).is_ok());
    u64 want;
    std::memcpy(&want, img.bytes(), 8);
    EXPECT_EQ(got, want);
    EXPECT_NE(want, v);
    EXPECT_TRUE(img.pristine());
}

TEST(AddrSpaceImage, MisuseIsRefused) {
    FakeFrames frames;
    HostImage img(frames, 16);
    Space s = make(frames);
    ASSERT_TRUE(s.map_alloc(gpa(0x4000'0000), M2, RWX, false).is_ok());
    ASSERT_TRUE(s.map_alloc(gpa(0x5000'0000), M2, MemFlags::Read, false).is_ok());
    EXPECT_EQ(s.map_image(gpa(0x4800'0000), img.pa, K4).error(), Error::NotMapped);     // no RAM there
    EXPECT_EQ(s.map_image(gpa(0x401f'f000), img.pa, 2 * K4).error(), Error::NotMapped); // runs past the region
    EXPECT_EQ(s.map_image(gpa(0x4000'0000), img.pa + 8, K4).error(), Error::InvalidArgument);
    ASSERT_TRUE(s.map_image(gpa(0x4000'0000), img.pa, 4 * K4).is_ok());
    EXPECT_EQ(s.map_image(gpa(0x4000'3000), img.pa, K4).error(), Error::AlreadyMapped);
    EXPECT_TRUE(s.handle_fault(gpa(0x4001'0000), MemFlags::Read).value()); // the rest of the block: private
    EXPECT_EQ(s.map_image(gpa(0x4001'0000), img.pa, K4).error(), Error::Busy);   // already backed
    EXPECT_EQ(s.protect(gpa(0x4000'0000), K4, MemFlags::Read).error(), Error::Busy);
    EXPECT_EQ(s.unmap(gpa(0x4000'0000), M2).error(), Error::Busy);
    // In a region without W, a write to the image stays a genuine permission fault.
    ASSERT_TRUE(s.map_image(gpa(0x5000'0000), img.pa, K4).is_ok());
    EXPECT_TRUE(s.handle_fault(gpa(0x5000'0000), MemFlags::Read).value());
    EXPECT_FALSE(s.handle_fault(gpa(0x5000'0000), MemFlags::Write).value());
    EXPECT_TRUE(img.pristine());
}

// A block copied on write is written once: the image's bytes straight into frames that were not
// zeroed first (the copy covers every byte), then cleaned for a guest with its caches off. The
// frames it gets held stale bytes (FakeFrames fills unzeroed frames), so a byte left out shows.
// Until the copy, the block is the package's, not RAM the VM holds (owned_bytes, `vm show`).
TEST(AddrSpaceImage, ABlockCopiedOnWriteIsWrittenOnceNotZeroedFirstAndOnlyThenOwned) {
    FakeFrames frames;
    HostImage img(frames, 512);
    Space s = with_image(frames, img);
    EXPECT_TRUE(s.handle_fault(gpa(0x4020'0000), MemFlags::Read).value());
    EXPECT_EQ(s.owned_bytes(), 0u); // the package's frames, mapped read-only: not the VM's RAM
    const usize zeroed = frames.zeroed_bytes(), cleaned = frames.cleaned_bytes();
    EXPECT_TRUE(s.handle_fault(gpa(0x4030'0008), MemFlags::Write).value());
    EXPECT_EQ(s.owned_bytes(), M2); // its private copy
    EXPECT_EQ(s.page_table().query(0x4020'0000).value().size, M2);
    EXPECT_LT(frames.zeroed_bytes() - zeroed, M2); // a table's frame at most, not the block
    EXPECT_EQ(frames.cleaned_bytes(), cleaned + M2);
    std::vector<u8> copy(M2);
    ASSERT_TRUE(s.read(gpa(0x4020'0000), copy.data(), M2).is_ok());
    for (usize i = 0; i < M2; ++i) ASSERT_EQ(copy[i], image_byte(i)) << i;
    // One page copied (no 2 MiB run free): every byte of it the image's.
    ASSERT_TRUE(s.reset().is_ok());
    EXPECT_TRUE(s.handle_fault(gpa(0x4020'0000), MemFlags::Read).value());
    frames.fail_nth(1);
    EXPECT_TRUE(s.handle_fault(gpa(0x4020'5000), MemFlags::Write).value());
    ASSERT_TRUE(s.read(gpa(0x4020'5000), copy.data(), K4).is_ok());
    for (usize i = 0; i < K4; ++i) ASSERT_EQ(copy[i], image_byte(0x5000 + i)) << i;
    EXPECT_TRUE(img.pristine());
}

// A block an image covers in part gets the image's bytes and zeroes, each byte written once.
TEST(AddrSpaceImage, APartlyCoveredBlockGetsImageBytesThenZeroesEachWrittenOnce) {
    FakeFrames frames;
    HostImage img(frames, 512);
    Space s = make(frames);
    ASSERT_TRUE(s.map_alloc(gpa(0x4000'0000), 4 * MiB, RWX, false).is_ok());
    // The image's first three pages at 0x4000_1000: zeroes, image, zeroes in one block.
    ASSERT_TRUE(s.map_image(gpa(0x4000'1000), img.pa, 3 * K4).is_ok());
    const usize zeroed = frames.zeroed_bytes();
    EXPECT_TRUE(s.handle_fault(gpa(0x4010'0000), MemFlags::Write).value());
    EXPECT_EQ(s.page_table().query(0x4000'0000).value().size, M2);
    EXPECT_GE(frames.zeroed_bytes() - zeroed, M2 - 3 * K4); // the rest of the block, and tables
    EXPECT_LT(frames.zeroed_bytes() - zeroed, M2);
    std::vector<u8> got(M2);
    ASSERT_TRUE(s.read(gpa(0x4000'0000), got.data(), M2).is_ok());
    for (usize i = 0; i < M2; ++i) {
        const bool in_image = i >= K4 && i < 4 * K4;
        ASSERT_EQ(got[i], in_image ? image_byte(i - K4) : 0) << i;
    }
}

// ---- images on a medium: read into the VM's own frames at first touch, again after reset --------

namespace {
// A medium of `size` bytes, byte i = medium_byte(i), that writes through the fake's frames and
// records each read; `fail` makes the next read fail.
u8 medium_byte(u64 off) { return u8(off * 13 + 5); }
struct FakeMedium final : ImageMedium {
    FakeFrames& frames;
    u64 size;
    std::vector<std::pair<u64, usize>> reads; // (offset, len)
    bool fail = false;
    FakeMedium(FakeFrames& f, u64 n) : frames(f), size(n) {}
    Result<void> read(u64 offset, HostPhysAddr dst, usize len) override {
        if (fail) return Error::DeviceError;
        if (offset > size || len > size - offset) return Error::OutOfRange;
        reads.emplace_back(offset, len);
        u8* to = static_cast<u8*>(frames.phys_to_virt(dst));
        for (usize i = 0; i < len; ++i) to[i] = medium_byte(offset + i);
        return {};
    }
};
} // namespace

TEST(AddrSpaceMediumImage, FirstTouchReadsEachBlockOnceIntoOwnedFramesAndAResetReadsItAgain) {
    FakeFrames frames;
    FakeMedium medium(frames, 8 * MiB);
    {
        Space s = make(frames);
        ASSERT_TRUE(s.map_alloc(gpa(0x4000'0000), 8 * MiB, RWX, false).is_ok());
        // 2 MiB + 100 bytes of the medium from offset 0x1000, at the second block.
        ASSERT_TRUE(s.map_image_from(gpa(0x4020'0000), medium, 0x1000, M2 + 100).is_ok());
        EXPECT_TRUE(medium.reads.empty()); // nothing read before a touch
        const usize zeroed = frames.zeroed_bytes();
        EXPECT_TRUE(s.handle_fault(gpa(0x4030'0008), MemFlags::Exec).value());
        ASSERT_EQ(medium.reads.size(), 1u);
        EXPECT_EQ(medium.reads[0], (std::pair<u64, usize>{0x1000, M2})); // the whole block, once
        EXPECT_LT(frames.zeroed_bytes() - zeroed, M2); // not zeroed first
        auto m = s.page_table().query(0x4020'0000).value();
        EXPECT_EQ(m.size, M2);
        EXPECT_EQ(u32(m.flags), u32(RWX)); // the VM's own frames: writable at once
        EXPECT_EQ(s.owned_bytes(), M2);
        // A write needs no copy.
        EXPECT_TRUE(s.handle_fault(gpa(0x4030'0008), MemFlags::Write).value());
        EXPECT_EQ(s.page_table().query(0x4020'0000).value().pa, m.pa);
        EXPECT_EQ(medium.reads.size(), 1u);
        std::vector<u8> got(M2);
        ASSERT_TRUE(s.read(gpa(0x4020'0000), got.data(), M2).is_ok());
        for (usize i = 0; i < M2; ++i) ASSERT_EQ(got[i], medium_byte(0x1000 + i)) << i;
        // The block holding the last 100 bytes: those, then zeroes (the rest of the page and block).
        u8 tail[2];
        ASSERT_TRUE(s.read(gpa(0x4040'0000 + 99), tail, 2).is_ok()); // a host read backs it like a touch
        EXPECT_EQ(tail[0], medium_byte(0x1000 + M2 + 99));
        EXPECT_EQ(tail[1], 0);
        ASSERT_EQ(medium.reads.size(), 2u);
        EXPECT_EQ(medium.reads[1], (std::pair<u64, usize>{0x1000 + M2, 100}));
        const u8 x = 0xee;
        ASSERT_TRUE(s.write(gpa(0x4020'0010), &x, 1).is_ok());
        // A restart shows the medium's bytes again: read anew, not kept.
        ASSERT_TRUE(s.reset().is_ok());
        EXPECT_EQ(s.owned_bytes(), 0u);
        u8 b = 0;
        ASSERT_TRUE(s.read(gpa(0x4020'0010), &b, 1).is_ok());
        EXPECT_EQ(b, medium_byte(0x1010));
        EXPECT_EQ(medium.reads.size(), 3u);
    }
    EXPECT_EQ(frames.in_use(), 0u); // every frame read into went back
}

TEST(AddrSpaceMediumImage, APageGranuleIsReadWhenNo2MiBRunIsFreeAndAFailedReadMapsNothing) {
    FakeFrames frames;
    FakeMedium medium(frames, 4 * MiB);
    {
        Space s = make(frames);
        ASSERT_TRUE(s.map_alloc(gpa(0x4000'0000), 4 * MiB, RWX, false).is_ok());
        ASSERT_TRUE(s.map_image_from(gpa(0x4000'0000), medium, 0, M2).is_ok());
        frames.fail_nth(1); // the 2 MiB allocation
        EXPECT_TRUE(s.handle_fault(gpa(0x4000'5008), MemFlags::Read).value());
        auto m = s.page_table().query(0x4000'5000).value();
        EXPECT_EQ(m.size, K4);
        EXPECT_EQ(u32(m.flags), u32(RWX));
        ASSERT_EQ(medium.reads.back(), (std::pair<u64, usize>{0x5000, K4}));
        u8 b = 0;
        ASSERT_TRUE(s.read(gpa(0x4000'5008), &b, 1).is_ok());
        EXPECT_EQ(b, medium_byte(0x5008));
        // The medium fails: the touch fails with its error, nothing is mapped, nothing is kept.
        const usize in_use = frames.in_use();
        medium.fail = true;
        auto r = s.handle_fault(gpa(0x4010'0000), MemFlags::Read);
        ASSERT_TRUE(r.is_error());
        EXPECT_EQ(r.error(), Error::DeviceError);
        EXPECT_TRUE(s.translate(gpa(0x4010'0000)).is_error());
        EXPECT_EQ(frames.in_use(), in_use);
        medium.fail = false;
        EXPECT_TRUE(s.handle_fault(gpa(0x4010'0000), MemFlags::Read).value());
        ASSERT_TRUE(s.read(gpa(0x4010'0000), &b, 1).is_ok());
        EXPECT_EQ(b, medium_byte(0x10'0000));
        // Images are checked as map_image's: no overlap, inside one Alloc region, not touched yet.
        EXPECT_EQ(s.map_image_from(gpa(0x4000'0000), medium, 0, K4).error(), Error::AlreadyMapped);
        EXPECT_EQ(s.map_image_from(gpa(0x4030'0000), medium, 0, M2).error(), Error::NotMapped);
        EXPECT_EQ(s.map_image_from(gpa(0x4020'0000), medium, 0, 0).error(), Error::InvalidArgument);
        EXPECT_TRUE(s.handle_fault(gpa(0x4020'0000), MemFlags::Read).value());
        EXPECT_EQ(s.map_image_from(gpa(0x4020'0000), medium, 0, K4).error(), Error::Busy);
    }
    EXPECT_EQ(frames.in_use(), 0u);
}

namespace {
// ---- an ISA that asks for page leaves only (tlb.hpp stage2_max_leaf; aarch64 on QEMU) -----------

struct PageLeafTlb : RecordingTlb {
    u64 max_leaf() const { return K4; }
};
static_assert(Stage2Maintenance<PageLeafTlb>);
using PageSpace = AddrSpace<arch::Stage2Format, FakeFrames, PageLeafTlb>;
PageSpace make_paged(FakeFrames& f) {
    return PageSpace::create(f, PageLeafTlb{}, arch::stage2_config(0b0100).geometry()).release_value();
}
// Leaves of [a, a + size) and whether each is borrowed from `img`.
struct LeafCount {
    usize leaves = 0, borrowed = 0, larger_than_page = 0;
};
LeafCount count_leaves(const PageSpace& s, u64 a, u64 size, HostPhysAddr img, usize img_frames) {
    LeafCount c;
    s.page_table().for_each_leaf(a, size, [&](const auto& m) {
        ++c.leaves;
        c.borrowed += m.pa >= img && m.pa < img + img_frames * K4;
        c.larger_than_page += m.size > K4;
        return true;
    });
    return c;
}
} // namespace

TEST(AddrSpacePageLeaves, LazyRamStillComesIn2MiBGranulesMappedAsPages) {
    FakeFrames frames;
    {
        PageSpace s = make_paged(frames);
        ASSERT_TRUE(s.map_alloc(gpa(0x4000'0000), 4 * MiB, RW, false).is_ok());
        const usize before = frames.in_use();
        EXPECT_TRUE(s.handle_fault(gpa(0x4020'5008), MemFlags::Write).value());
        // One fault backs the whole block: 512 frames, one 2 MiB-aligned run, plus its tables.
        EXPECT_EQ(frames.in_use(), before + 512 + 3); // RAM, L1, L2 and L3 tables under the level-0 root
        const LeafCount c = count_leaves(s, 0x4020'0000, M2, HostPhysAddr(0), 0);
        EXPECT_EQ(c.leaves, 512u);
        EXPECT_EQ(c.larger_than_page, 0u);
        EXPECT_TRUE(s.page_table().query(0x4020'0000).value().pa.is_aligned(M2));
        EXPECT_EQ(s.translate(gpa(0x403f'f000)).value().pa.value(), s.translate(gpa(0x4020'0000)).value().pa.value() + M2 - K4);
        EXPECT_TRUE(s.handle_fault(gpa(0x403f'f000), MemFlags::Read).value()); // already there: retry
        EXPECT_EQ(frames.in_use(), before + 512 + 3);
    }
    EXPECT_EQ(frames.in_use(), 0u);
}

// The first write to any page of a borrowed kernel block copies the whole block, as with a block
// leaf: Linux writes most of its Image's pages, and a fault per page would cost 512 exits a block.
TEST(AddrSpacePageLeaves, TheFirstWriteToABorrowedBlockCopiesAllOfItsPages) {
    FakeFrames frames;
    HostImage img(frames, 512);
    {
        PageSpace s = make_paged(frames);
        ASSERT_TRUE(s.map_alloc(gpa(0x4000'0000), 4 * MiB, RWX, false).is_ok());
        ASSERT_TRUE(s.map_image(gpa(0x4020'0000), img.pa, M2).is_ok());
        EXPECT_TRUE(s.handle_fault(gpa(0x4020'0000), MemFlags::Exec).value());
        LeafCount c = count_leaves(s, 0x4020'0000, M2, img.pa, 512);
        EXPECT_EQ(c.leaves, 512u); // the image's own frames, read-only, as pages
        EXPECT_EQ(c.borrowed, 512u);
        EXPECT_EQ(c.larger_than_page, 0u);
        s.tlb().calls.clear();
        EXPECT_TRUE(s.handle_fault(gpa(0x4030'0008), MemFlags::Write).value());
        c = count_leaves(s, 0x4020'0000, M2, img.pa, 512);
        EXPECT_EQ(c.leaves, 512u);
        EXPECT_EQ(c.borrowed, 0u); // every page private after one fault
        EXPECT_EQ(c.larger_than_page, 0u);
        for (u64 a : {0x4020'0000ull, 0x4030'0000ull, 0x403f'f000ull}) {
            EXPECT_EQ(u32(s.page_table().query(a).value().flags), u32(RWX)) << std::hex << a;
            u8 b = 0;
            ASSERT_TRUE(s.read(gpa(a + 1), &b, 1).is_ok());
            EXPECT_EQ(b, image_byte(a - 0x4020'0000 + 1)); // the copy holds the image's bytes
        }
        // Break-before-make: the block's range is invalidated before the private pages are
        // written, at once, never page by page (the tables the unmap emptied are unhooked with
        // invalidations of their own, wider ranges).
        ASSERT_FALSE(s.tlb().calls.empty());
        EXPECT_EQ(s.tlb().calls[0], (TlbCall{0x4020'0000, M2}));
        for (const TlbCall& call : s.tlb().calls) EXPECT_GE(call.size, M2);
        EXPECT_TRUE(s.handle_fault(gpa(0x4020'0000), MemFlags::Write).value()); // private already: retry only
        EXPECT_TRUE(img.pristine());
        // Without a free 2 MiB run only the written page is copied; its neighbours stay borrowed.
        ASSERT_TRUE(s.reset().is_ok());
        EXPECT_TRUE(s.handle_fault(gpa(0x4020'0000), MemFlags::Read).value());
        frames.fail_nth(1);
        EXPECT_TRUE(s.handle_fault(gpa(0x4021'0000), MemFlags::Write).value());
        c = count_leaves(s, 0x4020'0000, M2, img.pa, 512);
        EXPECT_EQ(c.borrowed, 511u);
        // The next write in that block copies one page again: the block is no longer all borrowed.
        EXPECT_TRUE(s.handle_fault(gpa(0x4022'0000), MemFlags::Write).value());
        EXPECT_EQ(count_leaves(s, 0x4020'0000, M2, img.pa, 512).borrowed, 510u);
        EXPECT_TRUE(img.pristine());
    }
    EXPECT_EQ(frames.in_use(), 512u); // only the test's image
}

// ---- host_run: where a DMA device may transfer (virtio-blk's host disk) --------------------------

TEST(AddrSpaceHostRun, LazyRamIsBackedAndARunEndsWithItsLeaf) {
    FakeFrames frames;
    Space s = make(frames);
    // [0x4010_0000, 0x4070_0000): blocks in the middle, pages at the edges (as in the fault test).
    ASSERT_TRUE(s.map_alloc(gpa(0x4010'0000), 6 * MiB, RW, false).is_ok());
    const usize before = frames.in_use();
    // Never touched: backed for a device that reads, too (a DMA device needs frames to read).
    auto r = s.host_run(gpa(0x4020'1000), 3 * MiB, false);
    ASSERT_TRUE(r.is_ok());
    EXPECT_EQ(r.value().pa.value(), s.translate(gpa(0x4020'1000)).value().pa.value());
    EXPECT_EQ(r.value().len, M2 - 0x1000); // to the end of the 2 MiB block
    EXPECT_EQ(leaf_size(s, 0x4020'0000), M2);
    EXPECT_GE(frames.in_use(), before + 512);
    // Shorter than the leaf: what was asked for.
    EXPECT_EQ(s.host_run(gpa(0x4020'1000), 0x600, true).value().len, 0x600u);
    // A page leaf at the region's edge: the run ends with the page.
    auto e = s.host_run(gpa(0x4010'0800), 16 * K4, true);
    ASSERT_TRUE(e.is_ok());
    EXPECT_EQ(leaf_size(s, 0x4010'0000), K4);
    EXPECT_EQ(e.value().len, K4 - 0x800);
    EXPECT_EQ(e.value().pa.value(), s.translate(gpa(0x4010'0800)).value().pa.value());
    // What the device writes there is what the guest reads.
    std::memset(frames.phys_to_virt(e.value().pa), 0x5c, e.value().len);
    u8 b = 0;
    ASSERT_TRUE(s.read(gpa(0x4010'0fff), &b, 1).is_ok());
    EXPECT_EQ(b, 0x5c);
    // Outside every region (a hole between regions, past the end), and nothing: refused.
    EXPECT_EQ(s.host_run(gpa(0x4070'0000), K4, true).error(), Error::NotMapped);
    EXPECT_EQ(s.host_run(gpa(0x4000'0000), K4, false).error(), Error::NotMapped);
    EXPECT_EQ(s.host_run(gpa(0x4020'0000), 0, false).error(), Error::InvalidArgument);
}

TEST(AddrSpaceHostRun, DeviceLeavesAreRefusedAndLinearRamIsNotCopied) {
    FakeFrames frames;
    Space s = make(frames);
    ASSERT_TRUE(s.map_linear(gpa(0x0900'0000), HostPhysAddr(0x0900'0000), K4, RW | MemFlags::Device).is_ok());
    EXPECT_EQ(s.host_run(gpa(0x0900'0000), 4, false).error(), Error::Denied);
    // Identity RAM (a Linear region): the run is the region's own host memory.
    const HostPhysAddr host = frames.alloc_frames(512, M2).release_value();
    ASSERT_TRUE(s.map_linear(gpa(0x6000'0000), host, M2, RW).is_ok());
    const usize before = frames.in_use();
    auto r = s.host_run(gpa(0x6000'0200), M2, true);
    ASSERT_TRUE(r.is_ok());
    EXPECT_EQ(r.value().pa.value(), host.value() + 0x200);
    EXPECT_EQ(r.value().len, M2 - 0x200);
    EXPECT_EQ(frames.in_use(), before);
    frames.free_frames(host, 512);
}

TEST(AddrSpaceHostRun, ADeviceWriteUnsharesABorrowedPageFirstAndAReadDoesNot) {
    FakeFrames frames;
    HostImage img(frames, 512);
    {
        Space s = with_image(frames, img);
        // The device reads the image (an OUT request from a kernel page): its own frames, no copy.
        auto r = s.host_run(gpa(0x4020'3000), K4, false);
        ASSERT_TRUE(r.is_ok());
        EXPECT_EQ(r.value().pa.value(), img.pa.value() + 0x3000);
        EXPECT_EQ(r.value().len, K4);
        // The device writes (an IN request into a kernel page): the VM's private copy first.
        frames.fail_nth(1); // no 2 MiB block free: one page is copied
        auto w = s.host_run(gpa(0x4020'3000), 2 * K4, true);
        ASSERT_TRUE(w.is_ok());
        EXPECT_FALSE(w.value().pa >= img.pa && w.value().pa < img.pa + 512 * K4);
        EXPECT_EQ(w.value().len, K4); // the private page only: its neighbour is still borrowed
        auto m = s.page_table().query(0x4020'3000).value();
        EXPECT_EQ(m.pa.value(), w.value().pa.value());
        EXPECT_EQ(u32(m.flags), u32(RWX));
        const u8* copy = static_cast<const u8*>(frames.phys_to_virt(w.value().pa));
        EXPECT_EQ(copy[5], image_byte(0x3005)); // the copy holds the image's bytes
        std::memset(frames.phys_to_virt(w.value().pa), 0xd1, K4); // "DMA"
        EXPECT_TRUE(img.pristine());
        u8 b = 0;
        ASSERT_TRUE(s.read(gpa(0x4020'3800), &b, 1).is_ok());
        EXPECT_EQ(b, 0xd1);
        // A private leaf is not copied again.
        EXPECT_EQ(s.host_run(gpa(0x4020'3000), K4, true).value().pa.value(), w.value().pa.value());
        // No memory for the copy: NoMemory, the image untouched and still mapped.
        frames.fail_nth(1);
        EXPECT_EQ(s.host_run(gpa(0x4020'8000), K4, true).error(), Error::NoMemory);
        EXPECT_EQ(s.page_table().query(0x4020'8000).value().pa.value(), img.pa.value() + 0x8000);
        EXPECT_TRUE(img.pristine());
    }
}
