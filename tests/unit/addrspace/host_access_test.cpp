// The kernel's FrameSource::access_host (frames_access_host) with the real frame allocator and the
// fake ISA binding: RAM the allocator manages is reached directly, everything else only read and
// only through the host window hook, and an AddrSpace over KernelFrames turns a refused access into
// an error (image loading into a reserved region, instruction fetch with no window).
// The kernel treats physical addresses as virtual ones, so "RAM" is an aligned host buffer.
#include "addrspace/addr_space.hpp"
#include "arch.hpp"
#include "arch/aarch64/stage2_format.hpp"
#include "fakes.hpp"
#include "kernel/frames.hpp"
#include <cstdlib>
#include <cstring>

namespace {

constexpr u64 BUF = 16 * MiB;
u8* ram() {
    static u8* mem = static_cast<u8*>(std::aligned_alloc(2 * MiB, BUF));
    return mem;
}
// A host-physical address that is certainly not in the allocator's RAM; as a host pointer it is
// not mapped either, so an access that took it as a pointer would crash the test.
constexpr u64 CARVE_OUT = 0x0400'0000;

struct WindowCall {
    u64 pa;
    usize len;
    bool device;
};
std::vector<WindowCall> g_calls;
Result<void> recording_window(HostPhysAddr pa, void* dst, usize len, bool device) {
    g_calls.push_back({pa.value(), len, device});
    std::memset(dst, 0xC5, len);
    return {};
}

struct HostAccessTest : testing::Test {
    PhysRange range{HostPhysAddr(u64(ram())), BUF};
    void SetUp() override {
        fake::reset();
        g_calls.clear();
        frames_set_host_window(nullptr);
        ASSERT_TRUE(frames_init(&range, 1, nullptr, 0).is_ok());
    }
    void TearDown() override { frames_set_host_window(nullptr); }
};

using KernelSpace = AddrSpace<arch::Stage2Format, KernelFrames, RecordingTlb>;
constexpr MemFlags RX = MemFlags::Read | MemFlags::Exec;

} // namespace

TEST_F(HostAccessTest, ManagedRamIsReachedDirectlyAndWritesAreCleaned) {
    const HostPhysAddr page = frames_alloc(1, FRAME_SIZE).value();
    const unsigned cleans = fake::dcache_cleans;
    u8 msg[5] = {'i', 'm', 'a', 'g', 'e'};
    ASSERT_TRUE(frames_access_host(page + 8, msg, 5, HostOp::Write, MemFlags::None).is_ok());
    EXPECT_EQ(std::memcmp(reinterpret_cast<u8*>(page.value()) + 8, msg, 5), 0);
    EXPECT_EQ(fake::dcache_cleans, cleans + 1); // visible to a guest running with caches off
    u8 back[5] = {};
    ASSERT_TRUE(frames_access_host(page + 8, back, 5, HostOp::Read, MemFlags::Device).is_ok()); // RAM is RAM
    EXPECT_EQ(std::memcmp(back, msg, 5), 0);
    ASSERT_TRUE(frames_access_host(page + 8, nullptr, 5, HostOp::Zero, MemFlags::None).is_ok());
    EXPECT_EQ(reinterpret_cast<u8*>(page.value())[8], 0);
    EXPECT_TRUE(g_calls.empty());
    frames_free(page, 1);
}

TEST_F(HostAccessTest, OtherMemoryIsOnlyReadAndOnlyThroughTheWindow) {
    u32 word = 0;
    // No window (before the EL2 MMU is on, and in host builds): unreachable.
    EXPECT_EQ(frames_access_host(HostPhysAddr(CARVE_OUT), reinterpret_cast<u8*>(&word), 4, HostOp::Read,
                                 MemFlags::None).error(), Error::Denied);
    frames_set_host_window(recording_window);
    ASSERT_TRUE(frames_access_host(HostPhysAddr(CARVE_OUT + 4), reinterpret_cast<u8*>(&word), 4, HostOp::Read,
                                   MemFlags::Read | MemFlags::Device).is_ok());
    EXPECT_EQ(word, 0xC5C5C5C5u);
    // Writes and clears never leave managed RAM, window or not.
    EXPECT_EQ(frames_access_host(HostPhysAddr(CARVE_OUT), reinterpret_cast<u8*>(&word), 4, HostOp::Write,
                                 MemFlags::None).error(), Error::Denied);
    EXPECT_EQ(frames_access_host(HostPhysAddr(CARVE_OUT), nullptr, 4, HostOp::Zero, MemFlags::None).error(),
              Error::Denied);
    // A range that only starts in RAM is not RAM the allocator manages.
    std::vector<u8> two(2 * FRAME_SIZE);
    EXPECT_EQ(frames_access_host(HostPhysAddr(u64(ram()) + BUF - FRAME_SIZE), two.data(), two.size(), HostOp::Write,
                                 MemFlags::None).error(), Error::Denied);
    ASSERT_EQ(g_calls.size(), 1u);
    EXPECT_EQ(g_calls[0].pa, CARVE_OUT + 4);
    EXPECT_EQ(g_calls[0].len, 4u);
    EXPECT_TRUE(g_calls[0].device);
    EXPECT_EQ(frames_access_host(HostPhysAddr(~0ull - 1), reinterpret_cast<u8*>(&word), 4, HostOp::Read,
                                 MemFlags::None).error(), Error::OutOfRange);
}

// What Vm::load_blob and Vm::read_guest do, with the kernel's frame source: an image aimed at a
// reserved region fails with Denied (the message is load_blob's), an instruction fetch from it
// goes to the window with the region's memory type, or fails cleanly when there is none.
TEST_F(HostAccessTest, AddrSpaceOverKernelFramesFailsCleanlyOnReservedRegions) {
    const usize before = frames_free_count();
    {
        KernelSpace s = KernelSpace::create(g_kernel_frames, RecordingTlb{}, arch::stage2_config(0b0101).geometry())
                            .release_value();
        ASSERT_TRUE(s.map_linear(GuestPhysAddr(CARVE_OUT), HostPhysAddr(CARVE_OUT), 2 * MiB, RX).is_ok());
        ASSERT_TRUE(s.map_linear(GuestPhysAddr(CARVE_OUT + 2 * MiB), HostPhysAddr(CARVE_OUT + 2 * MiB), 2 * MiB,
                                 RX | MemFlags::Device).is_ok());
        ASSERT_TRUE(s.map_alloc(GuestPhysAddr(0x4000'0000), 2 * MiB, RX | MemFlags::Write, false).is_ok());
        const char image[64] = "kernel image";
        EXPECT_EQ(s.write(GuestPhysAddr(CARVE_OUT), image, sizeof image).error(), Error::Denied);
        u32 insn = 0;
        EXPECT_EQ(s.read(GuestPhysAddr(CARVE_OUT + 0x10), &insn, 4).error(), Error::Denied);
        frames_set_host_window(recording_window);
        ASSERT_TRUE(s.read(GuestPhysAddr(CARVE_OUT + 0x10), &insn, 4).is_ok());
        ASSERT_TRUE(s.read(GuestPhysAddr(CARVE_OUT + 2 * MiB + 0x10), &insn, 4).is_ok());
        ASSERT_EQ(g_calls.size(), 2u);
        EXPECT_EQ(g_calls[0].pa, CARVE_OUT + 0x10);
        EXPECT_FALSE(g_calls[0].device);
        EXPECT_EQ(g_calls[1].pa, CARVE_OUT + 2 * MiB + 0x10);
        EXPECT_TRUE(g_calls[1].device);
        // RAM next to it loads as before, through the same path.
        ASSERT_TRUE(s.write(GuestPhysAddr(0x4000'0000), image, sizeof image).is_ok());
        const HostPhysAddr hpa = s.translate(GuestPhysAddr(0x4000'0000)).value().pa;
        EXPECT_STREQ(reinterpret_cast<const char*>(hpa.value()), "kernel image");
        EXPECT_EQ(g_calls.size(), 2u);
    }
    EXPECT_EQ(frames_free_count(), before);
}
