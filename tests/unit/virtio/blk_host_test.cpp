// cxvisor's driver for the host's virtio-blk disk (drivers/virtio_blk_host.cpp) against a fake
// virtio-mmio block device: a register page in host memory and a thread that plays the device,
// walking the rings the driver set up (modern or legacy layout) and serving each chain from a
// vector. Checks the negotiated queue size and segment limits, the descriptors of a scatter-gather
// request (header, N data segments, status), the refusal of requests beyond the limits, and the
// reset after a request the device never answers. Each scenario runs in its own process
// (EXPECT_EXIT): the driver keeps one disk per image.
#include "arch.hpp"
#include "drivers/virtio_blk_host.hpp"
#include "fdt/dma_capable.hpp"
#include "fdt_fixtures.hpp"
#include "host_console.hpp"
#include "kernel/frames.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <sys/mman.h>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace virtio;

namespace {

constexpr u32 kMagic = 0x000, kVersion = 0x004, kDeviceId = 0x008, kDeviceFeatures = 0x010;
constexpr u32 kQueueNumMax = 0x034, kQueueNum = 0x038, kLegacyQueuePfn = 0x040, kStatus = 0x070;
constexpr u32 kQueueDescLow = 0x080, kQueueDescHigh = 0x084, kQueueDriverLow = 0x090, kQueueDriverHigh = 0x094;
constexpr u32 kQueueDeviceLow = 0x0a0, kQueueDeviceHigh = 0x0a4, kConfig = 0x100;
constexpr u32 kDriverOk = 4;

struct Desc {
    u64 addr;
    u32 len;
    u16 flags;
    u16 next;
};

// The device side. Registers are plain memory (what the driver writes reads back; a feature
// selector cannot be modelled, so DeviceFeatures shows the same 32 bits for both halves: bit 0
// set there offers VERSION_1 in the high half).
struct FakeDisk {
    struct Seen {
        u32 type;
        u64 sector;
        Desc header, status;
        std::vector<Desc> data;
    };
    alignas(4096) u32 regs[1024] = {};
    std::vector<u8> disk = std::vector<u8>(1 * MiB);
    std::atomic<bool> answer{true};
    std::mutex m;
    std::vector<Seen> seen;
    std::atomic<bool> stop{false};
    std::thread thread;

    FakeDisk(u32 version, u32 queue_num_max, u32 features, u32 seg_max, u32 size_max) {
        set(kMagic, 0x74726976);
        set(kVersion, version);
        set(kDeviceId, 2);
        set(kDeviceFeatures, features);
        set(kQueueNumMax, queue_num_max);
        set(kConfig, u32(disk.size() / 512)); // capacity, low half
        set(kConfig + 8, size_max);
        set(kConfig + 12, seg_max);
        for (usize i = 0; i < disk.size(); ++i) disk[i] = u8(i * 3 + i / 512);
        thread = std::thread([this] { run(); });
    }
    ~FakeDisk() {
        stop = true;
        thread.join();
    }
    void set(u32 off, u32 v) { __atomic_store_n(&regs[off / 4], v, __ATOMIC_SEQ_CST); }
    u32 get(u32 off) { return __atomic_load_n(&regs[off / 4], __ATOMIC_SEQ_CST); }
    std::vector<Seen> requests() {
        std::lock_guard<std::mutex> g(m);
        return seen;
    }

    void run() {
        u16 last = 0;
        while (!stop) {
            if (!(get(kStatus) & kDriverOk) || !answer) {
                std::this_thread::yield();
                continue;
            }
            const u32 num = get(kQueueNum);
            u64 desc, avail, used;
            if (get(kVersion) == 2) {
                desc = get(kQueueDescLow) | u64(get(kQueueDescHigh)) << 32;
                avail = get(kQueueDriverLow) | u64(get(kQueueDriverHigh)) << 32;
                used = get(kQueueDeviceLow) | u64(get(kQueueDeviceHigh)) << 32;
            } else { // 4.2.4 with QueueAlign 4096: the used ring at the next 4 KiB boundary
                desc = u64(get(kLegacyQueuePfn)) * 4096;
                avail = desc + 16 * num;
                used = (avail + 6 + 2 * num + 4095) & ~u64(4095);
            }
            auto* avail_idx = reinterpret_cast<volatile u16*>(avail + 2);
            while (last != *avail_idx) {
                __atomic_thread_fence(__ATOMIC_SEQ_CST);
                const u16 head = reinterpret_cast<volatile u16*>(avail + 4)[last % num];
                const u32 written = serve(reinterpret_cast<const Desc*>(desc), head);
                auto* ring = reinterpret_cast<volatile u32*>(used + 4);
                ring[2 * (last % num)] = head;
                ring[2 * (last % num) + 1] = written;
                __atomic_thread_fence(__ATOMIC_SEQ_CST);
                ++last;
                *reinterpret_cast<volatile u16*>(used + 2) = last;
            }
            std::this_thread::yield();
        }
    }
    u32 serve(const Desc* table, u16 head) {
        Seen s{};
        std::vector<Desc> chain;
        for (u16 i = head;; i = table[i].next) {
            chain.push_back(table[i]);
            if (!(table[i].flags & kDescFNext) || chain.size() > 200) break;
        }
        s.header = chain.front();
        s.status = chain.back();
        s.data.assign(chain.begin() + 1, chain.end() - 1);
        std::memcpy(&s.type, reinterpret_cast<const void*>(s.header.addr), 4);
        std::memcpy(&s.sector, reinterpret_cast<const void*>(s.header.addr + 8), 8);
        u64 at = s.sector * 512;
        u8 status = 0;
        u32 written = 1;
        for (const Desc& d : s.data) {
            if (at + d.len > disk.size()) {
                status = 1;
                break;
            }
            if (s.type == kBlkTIn) std::memcpy(reinterpret_cast<void*>(d.addr), disk.data() + at, d.len), written += d.len;
            else if (s.type == kBlkTOut) std::memcpy(disk.data() + at, reinterpret_cast<const void*>(d.addr), d.len);
            at += d.len;
        }
        *reinterpret_cast<u8*>(s.status.addr) = status;
        std::lock_guard<std::mutex> g(m);
        seen.push_back(s);
        return written;
    }
};

// Low in the address space: a legacy device finds its rings from a 32-bit page frame number, so
// the driver's ring pages must lie below 2^44 (as RAM does on the boards cxvisor runs on).
constexpr u64 kRam = 8 * MiB;
u8* ram() {
    static u8* mem = [] {
        void* p = mmap(reinterpret_cast<void*>(0x4000'0000), kRam, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
        return p == MAP_FAILED ? nullptr : static_cast<u8*>(p);
    }();
    return mem;
}

// What every scenario needs: cxvisor's frame allocator over host memory, the fake ISA, and a CPU
// that sleeping in WFI lets the device thread run.
void boot_kernel() {
    fake::reset();
    ASSERT_NE(ram(), nullptr) << "no memory at 1 GiB for the test's RAM";
    PhysRange range{HostPhysAddr(u64(ram())), kRam};
    ASSERT_TRUE(frames_init(&range, 1, nullptr, 0).is_ok());
    fake::wfi_hook = [] { std::this_thread::yield(); };
    clear_captured_console();
}

HostDisk* init(FakeDisk& dev, bool coherent = true) {
    HostDisk::Probe p{true, {HostPhysAddr(u64(reinterpret_cast<uintptr_t>(dev.regs))), 0x200}, "virtio_mmio@fake", 48,
                      coherent};
    HostDisk::init(p);
    return HostDisk::get();
}

u64 pa(const void* p) { return u64(reinterpret_cast<uintptr_t>(p)); }

// Runs `scenario` in a child process, on a fresh kernel, and fails the test unless it ends without
// a failure.
template <typename F> void in_child(F&& scenario) {
    auto child = [&] {
        boot_kernel();
        if (!::testing::Test::HasFailure()) scenario();
        if (::testing::Test::HasFailure()) {
            std::fprintf(stderr, "%s", captured_console().c_str());
            _exit(1);
        }
        _exit(0);
    };
    EXPECT_EXIT(child(), testing::ExitedWithCode(0), "");
}

TEST(HostDiskTest, ModernDiskScatterGatherRequestsWithinSegMax) {
    in_child([] {
        boot_kernel();
        // VERSION_1 (bit 0 here, see FakeDisk), SEG_MAX, FLUSH; QEMU's virtio-mmio QueueNumMax 1024.
        FakeDisk dev(2, 1024, 1u | u32(kBlkFSegMax) | u32(kBlkFFlush), 254, 0);
        HostDisk* disk = init(dev);
        ASSERT_NE(disk, nullptr) << captured_console();
        EXPECT_NE(captured_console().find("host disk virtio_mmio@fake: 1 MiB (virtio-mmio v2)"), std::string::npos)
            << captured_console();
        EXPECT_EQ(disk->queue_size(), 256); // the largest power of two <= min(1024, 256)
        EXPECT_EQ(dev.get(kQueueNum), 256u);
        EXPECT_EQ(disk->segment_budget(), 254u); // min(queue size - 2, seg_max)
        EXPECT_EQ(disk->segment_bytes(), u32(HostDisk::kMaxTransfer));
        // Three segments of cxvisor RAM (identity-mapped, as guest frames are).
        u8* a = reinterpret_cast<u8*>(frames_alloc(4, FRAME_SIZE).value().value());
        const HostSegment in[] = {{pa(a + 8192), 4096}, {pa(a), 512}, {pa(a + 4096), 3584}};
        ASSERT_TRUE(disk->transfer(kBlkTIn, 4096, in, 3).is_ok());
        auto seen = dev.requests();
        ASSERT_EQ(seen.size(), 2u); // init's read of sector 0, then this one
        const FakeDisk::Seen& r = seen[1];
        EXPECT_EQ(r.type, kBlkTIn);
        EXPECT_EQ(r.sector, 8u);
        EXPECT_EQ(r.header.len, 16u);
        EXPECT_EQ(r.header.flags, kDescFNext); // the device reads the header
        ASSERT_EQ(r.data.size(), 3u);
        for (unsigned i = 0; i < 3; ++i) {
            EXPECT_EQ(r.data[i].addr, in[i].pa) << i;
            EXPECT_EQ(r.data[i].len, in[i].len) << i;
            EXPECT_EQ(r.data[i].flags, kDescFNext | kDescFWrite) << i; // the device writes them
        }
        EXPECT_EQ(r.status.len, 1u);
        EXPECT_EQ(r.status.flags, kDescFWrite);
        EXPECT_EQ(std::memcmp(a + 8192, dev.disk.data() + 4096, 4096), 0);
        EXPECT_EQ(std::memcmp(a, dev.disk.data() + 8192, 512), 0);
        EXPECT_EQ(std::memcmp(a + 4096, dev.disk.data() + 8704, 3584), 0);
        // A write: the segments are device-readable.
        std::memset(a, 0x5e, 2 * 4096);
        const HostSegment out[] = {{pa(a), 4096}, {pa(a + 4096), 4096}};
        ASSERT_TRUE(disk->transfer(kBlkTOut, 64 * 512, out, 2).is_ok());
        seen = dev.requests();
        ASSERT_EQ(seen.size(), 3u);
        EXPECT_EQ(seen[2].type, kBlkTOut);
        ASSERT_EQ(seen[2].data.size(), 2u);
        EXPECT_EQ(seen[2].data[0].flags, kDescFNext);
        EXPECT_EQ(dev.disk[64 * 512 + 8191], 0x5e);
        // Beyond the limits nothing reaches the device.
        std::vector<HostSegment> many(255, HostSegment{pa(a), 512});
        EXPECT_EQ(disk->transfer(kBlkTIn, 0, many.data(), 255).error(), Error::OutOfRange);
        const HostSegment odd[] = {{pa(a), 100}};
        EXPECT_EQ(disk->transfer(kBlkTIn, 0, odd, 1).error(), Error::OutOfRange);
        const HostSegment last[] = {{pa(a), 1024}};
        EXPECT_EQ(disk->transfer(kBlkTIn, 1 * MiB - 512, last, 1).error(), Error::OutOfRange);
        EXPECT_EQ(disk->transfer(kBlkTIn, 0, out, 0).error(), Error::OutOfRange);
        EXPECT_EQ(dev.requests().size(), 3u);
        // FLUSH (negotiated): header and status only.
        ASSERT_TRUE(disk->flush().is_ok());
        seen = dev.requests();
        ASSERT_EQ(seen.size(), 4u);
        EXPECT_EQ(seen[3].type, kBlkTFlush);
        EXPECT_TRUE(seen[3].data.empty());
    });
}

TEST(HostDiskTest, LegacyDiskWithoutSegMaxTakesOneSegmentOfAtMostSizeMax) {
    in_child([] {
        FakeDisk dev(1, 64, u32(kBlkFSizeMax), 254, 4096 + 100); // no SEG_MAX offered: seg_max not valid
        HostDisk* disk = init(dev);
        ASSERT_NE(disk, nullptr) << captured_console();
        EXPECT_EQ(disk->queue_size(), 64);
        EXPECT_EQ(dev.get(kQueueNum), 64u);
        EXPECT_EQ(disk->segment_budget(), 1u);   // as Linux assumes without VIRTIO_BLK_F_SEG_MAX
        EXPECT_EQ(disk->segment_bytes(), 4096u); // size_max in whole sectors
        u8* a = reinterpret_cast<u8*>(frames_alloc(4, FRAME_SIZE).value().value());
        const HostSegment two[] = {{pa(a), 512}, {pa(a + 4096), 512}};
        EXPECT_EQ(disk->transfer(kBlkTIn, 0, two, 2).error(), Error::OutOfRange);
        const HostSegment big[] = {{pa(a), 8192}};
        EXPECT_EQ(disk->transfer(kBlkTIn, 0, big, 1).error(), Error::OutOfRange);
        // The legacy ring layout (used ring on the next page) as the device finds it from the PFN.
        for (u32 i = 0; i < 70; ++i) { // past the queue size: the avail ring wraps
            const HostSegment one[] = {{pa(a), 4096}};
            ASSERT_TRUE(disk->transfer(kBlkTIn, u64(i) * 512, one, 1).is_ok()) << i;
            ASSERT_EQ(std::memcmp(a, dev.disk.data() + i * 512, 4096), 0) << i;
        }
        EXPECT_EQ(dev.requests().size(), 71u);
    });
}

TEST(HostDiskTest, SmallQueueLimitsTheSegmentsAndAQueueTooSmallIsRefused) {
    in_child([] {
        FakeDisk dev(2, 8, 1u | u32(kBlkFSegMax), 254, 0);
        HostDisk* disk = init(dev);
        ASSERT_NE(disk, nullptr) << captured_console();
        EXPECT_EQ(disk->queue_size(), 8);
        EXPECT_EQ(disk->segment_budget(), 6u);
    });
    in_child([] {
        FakeDisk dev(2, 3, 1u | u32(kBlkFSegMax), 254, 0);
        EXPECT_EQ(init(dev), nullptr);
        EXPECT_NE(captured_console().find("initialisation failed (unsupported"), std::string::npos)
            << captured_console();
    });
}

TEST(HostDiskTest, ADiskThatIsNotDmaCoherentIsRefused) {
    in_child([] {
        FakeDisk dev(2, 1024, 1u, 0, 0);
        EXPECT_EQ(init(dev, false), nullptr);
        EXPECT_NE(captured_console().find("host disk virtio_mmio@fake: not DMA-coherent"), std::string::npos)
            << captured_console();
        EXPECT_EQ(dev.get(kStatus), 0u) << "the device is left alone";
    });
}

// Which host disks are DMA-coherent, on QEMU's own device trees: aarch64 virt marks every
// virtio-mmio node "dma-coherent"; riscv64 virt marks none and relies on RISC-V's coherent default
// (the riscv64 image, DMA_COHERENT_BY_DEFAULT true, once refused QEMU's riscv64 disk as "not
// DMA-coherent"); "dma-noncoherent" overrides a coherent default, "dma-coherent" a non-coherent one.
TEST(HostDiskTest, DmaCoherenceFromTheNodeOrTheIsaDefault) {
    // The first virtio,mmio node of blob under an ISA whose default is isa_default.
    auto coherent = [](const std::vector<u8>& blob, bool isa_default) {
        auto f = Fdt::create(blob.data(), blob.size());
        if (f.is_error()) return ADD_FAILURE() << "not a DTB", false;
        auto n = f.value().find_compatible("virtio,mmio");
        if (n.is_error()) return ADD_FAILURE() << "no virtio,mmio node", false;
        return dt_dma_coherent(f.value(), n.value(), isa_default);
    };
    const auto arm = qemu_dtb(2);
    EXPECT_TRUE(coherent(arm, false)) << "aarch64 virt: dma-coherent";
    EXPECT_TRUE(coherent(arm, true));
    const auto rv = load_dtb(std::string(FDT_FIXTURE_SRC) + "/qemu-virt-riscv64-2cpu.dtb");
    EXPECT_TRUE(coherent(rv, true)) << "riscv64 virt: no property, coherent by default";
    EXPECT_FALSE(coherent(rv, false)) << "the same node on an ISA without that default";

    DtbBuilder b;
    b.begin("").prop("#address-cells", {2}).prop("#size-cells", {2});
    b.begin("virtio_mmio@10001000").prop("compatible", {0x76697274, 0x696f2c6d, 0x6d696f00}); // "virtio,mmio"
    b.prop("dma-noncoherent", {}).end_node().end_node().end();
    const auto nc = b.build();
    EXPECT_FALSE(coherent(nc, true)) << "dma-noncoherent overrides the default";
    EXPECT_FALSE(coherent(nc, false));
}

// A request the device never answers may name a VM's pages: the driver resets the device, which
// then no longer owns them (2.4.1), before it gives up.
TEST(HostDiskTest, ARequestWithoutAnswerResetsTheDiskBeforeItFails) {
    in_child([] {
        FakeDisk dev(2, 1024, 1u | u32(kBlkFSegMax), 254, 0);
        HostDisk* disk = init(dev);
        ASSERT_NE(disk, nullptr) << captured_console();
        dev.answer = false;
        fake::wfi_hook = [] { fake::counter_value += fake::frequency; }; // one second per wake-up
        u8* a = reinterpret_cast<u8*>(frames_alloc(1, FRAME_SIZE).value().value());
        const HostSegment one[] = {{pa(a), 4096}};
        EXPECT_EQ(disk->transfer(kBlkTIn, 0, one, 1).error(), Error::DeviceError);
        EXPECT_EQ(dev.get(kStatus), 0u) << "the device was reset";
        EXPECT_NE(captured_console().find("no answer to a request within 30 s; the host disk is reset and disabled"),
                  std::string::npos)
            << captured_console();
        EXPECT_EQ(disk->transfer(kBlkTIn, 0, one, 1).error(), Error::DeviceError); // disabled for good
        EXPECT_EQ(dev.requests().size(), 1u); // init's probe only
    });
}

} // namespace
