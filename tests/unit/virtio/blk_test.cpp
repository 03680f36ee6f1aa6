// virtio-blk device (virtio spec v1.2, 5.2) against a fake transport and fake guest RAM: the
// request types, the configuration space, the RAM disk's per-life private writes, and hostile
// requests (short header, no status byte, sectors and lengths past the end or overflowing, writes
// to a read-only disk, lengths near 4 GiB). Every case also checks that the backend was never
// asked for anything outside the disk and no access left the fake RAM.
#include "fake_transport.hpp"
#include "host_console.hpp"
#include "virtio/blk.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <vector>

using namespace virtio;

namespace {

constexpr u16 kW = kDescFWrite;
constexpr u64 kHdr = RingBuilder::kBuffers;          // request header
constexpr u64 kStatus = RingBuilder::kBuffers + 0x100; // status byte (preset to 0xEE)
constexpr u64 kData = RingBuilder::kBuffers + 0x1000;  // data buffers
constexpr u8 kUntouched = 0xEE;

void* test_alloc(usize bytes) { return std::malloc(bytes); }
void test_free(void* p, usize) { std::free(p); }

// A backend wrapper that records every call and fails the test on any access outside the disk.
struct CheckedBackend final : BlockBackend {
    explicit CheckedBackend(BlockBackend* inner) : inner(inner) {}
    ~CheckedBackend() override { delete inner; }
    u64 size() const override { return inner->size(); }
    Result<void> read(u64 off, void* dst, usize len) override {
        check(off, len);
        ++reads;
        if (fail_io) return Error::Aborted;
        return inner->read(off, dst, len);
    }
    Result<void> write(u64 off, const void* src, usize len) override {
        check(off, len);
        ++writes;
        if (fail_io) return Error::Aborted;
        return inner->write(off, src, len);
    }
    Result<void> flush() override {
        ++flushes;
        if (fail_io) return Error::Aborted;
        return inner->flush();
    }
    void new_life() override { inner->new_life(); }
    void check(u64 off, usize len) {
        EXPECT_TRUE(off <= size() && len <= size() - off) << "backend access at " << off << " len " << len;
        EXPECT_EQ(off % kSectorSize, 0u);
        EXPECT_EQ(len % kSectorSize, 0u);
    }
    BlockBackend* inner;
    unsigned reads = 0, writes = 0, flushes = 0;
    bool fail_io = false;
};

struct Seg {
    u64 gpa;
    u32 len;
    u16 flags;
};

struct BlkTest : ::testing::Test {
    static constexpr u64 kDiskSize = 200 * KiB; // 400 sectors: 3 full 64 KiB chunks and a partial one
    RingBuilder rb{16};
    std::vector<u8> image;
    RamDiskBackend* ram = nullptr;
    CheckedBackend* backend = nullptr;
    std::vector<u8> scratch = std::vector<u8>(8 * KiB);
    std::unique_ptr<BlockDevice> dev;
    std::unique_ptr<FakeTransport> tr;

    void SetUp() override { make(false); }
    void make(bool read_only, usize scratch_size = 8 * KiB, bool event_idx = false) {
        tr.reset();
        dev.reset();
        image.resize(kDiskSize);
        for (usize i = 0; i < image.size(); ++i) image[i] = u8(i / kSectorSize * 7 + i);
        auto r = RamDiskBackend::create(image.data(), image.size(), test_alloc, test_free);
        ASSERT_TRUE(r.is_ok());
        ram = r.value();
        backend = new CheckedBackend(ram);
        scratch.assign(scratch_size, 0);
        dev = std::make_unique<BlockDevice>(backend, BlockDevice::Options{read_only, "cxv-test-disk"}, scratch.data(),
                                            scratch.size());
        tr = std::make_unique<FakeTransport>(rb, *dev);
        ASSERT_TRUE(tr->activate(event_idx));
        clear_captured_console();
    }
    void header(u32 type, u64 sector, u64 at = kHdr) {
        rb.mem.put32(at, type);
        rb.mem.put32(at + 4, 0);
        rb.mem.put64(at + 8, sector);
    }
    // Offers one chain made of `segs` (descriptors 0..n-1) and notifies the device.
    void submit(const std::vector<Seg>& segs) {
        rb.mem.at(kStatus, 1)[0] = kUntouched;
        for (u16 i = 0; i < segs.size(); ++i) {
            const bool last = usize(i) + 1 == segs.size();
            rb.desc(i, segs[i].gpa, segs[i].len, u16(segs[i].flags | (last ? 0 : kDescFNext)), u16(i + 1));
        }
        rb.offer(0);
        dev->notify(0);
    }
    // The usual three-part request: header, data (direction by type), status.
    void request(u32 type, u64 sector, u32 len) {
        header(type, sector);
        std::vector<Seg> segs{{kHdr, 16, 0}};
        if (len) segs.push_back({kData, len, u16(type == kBlkTIn || type == kBlkTGetId ? kW : 0)});
        segs.push_back({kStatus, 1, kW});
        submit(segs);
    }
    u8 status() { return rb.mem.at(kStatus, 1)[0]; }
    u32 last_used_len() { return rb.used_len(u16(rb.used_idx() - 1)); }
    u8* data(u64 len) { return rb.mem.at(kData, len); }
    void TearDown() override {
        EXPECT_EQ(rb.mem.refused, 0u);
        EXPECT_EQ(rb.mem.unbacked, 0u);
        EXPECT_EQ(tr->faults, 0u);
    }
};

// ---- configuration space and features (5.2.3, 5.2.4) ----

TEST_F(BlkTest, ConfigSpaceAndFeatures) {
    EXPECT_EQ(dev->device_id(), kDeviceIdBlock);
    EXPECT_EQ(dev->queue_count(), 1);
    const u64 cap = u64(dev->config_read(0, 4)) | u64(dev->config_read(4, 4)) << 32;
    EXPECT_EQ(cap, kDiskSize / 512);
    EXPECT_EQ(dev->config_read(0, 2), (kDiskSize / 512) & 0xFFFF); // narrower reads of the same field
    EXPECT_EQ(dev->config_read(0, 1), (kDiskSize / 512) & 0xFF);
    EXPECT_EQ(dev->config_read(12, 4), BlockDevice::kSegMax);
    EXPECT_EQ(dev->config_read(20, 4), 512u);
    EXPECT_EQ(dev->config_read(4096, 4), 0u); // beyond the config: 0
    EXPECT_EQ(dev->config_read(70, 4), 0u);   // straddling the end: 0
    const u64 f = dev->device_features();
    EXPECT_TRUE(f & kBlkFFlush);
    EXPECT_TRUE(f & kBlkFSegMax);
    EXPECT_TRUE(f & kBlkFBlkSize);
    EXPECT_FALSE(f & kBlkFRo);
    make(true);
    EXPECT_TRUE(dev->device_features() & kBlkFRo);
}

// ---- the request types ----

TEST_F(BlkTest, ReadReturnsTheImage) {
    request(kBlkTIn, 3, 2048);
    EXPECT_EQ(status(), kBlkSOk);
    EXPECT_EQ(0, std::memcmp(data(2048), image.data() + 3 * 512, 2048));
    EXPECT_EQ(last_used_len(), 2049u);
    EXPECT_EQ(tr->used_calls, 1u);
}

TEST_F(BlkTest, WriteIsPrivateAndReadBack) {
    std::memset(data(4096), 0x5A, 4096);
    request(kBlkTOut, 10, 4096);
    EXPECT_EQ(status(), kBlkSOk);
    EXPECT_EQ(image[10 * 512], u8(10 * 7 + 10 * 512)); // the package image is never written
    std::memset(data(4096), 0, 4096);
    request(kBlkTIn, 10, 4096);
    EXPECT_EQ(status(), kBlkSOk);
    for (u32 i = 0; i < 4096; ++i) ASSERT_EQ(data(4096)[i], 0x5A) << i;
    EXPECT_EQ(ram->private_chunks(), 1u);
}

TEST_F(BlkTest, NewLifeStartsFromTheImageAgain) {
    std::memset(data(512), 0x33, 512);
    request(kBlkTOut, 1, 512);
    ASSERT_EQ(status(), kBlkSOk);
    dev->reset(); // a driver's reset (Linux at probe) keeps the disk
    request(kBlkTIn, 1, 512);
    EXPECT_EQ(data(512)[0], 0x33);
    dev->new_life();
    EXPECT_EQ(ram->private_chunks(), 0u);
    request(kBlkTIn, 1, 512);
    EXPECT_EQ(0, std::memcmp(data(512), image.data() + 512, 512));
}

TEST_F(BlkTest, WritesAcrossChunksAndTheLastPartialChunk) {
    // 64 KiB chunk boundary at sector 128; the disk ends 8 KiB into its fourth chunk.
    std::vector<u8> pattern(8192);
    for (usize i = 0; i < pattern.size(); ++i) pattern[i] = u8(i * 13 + 1);
    std::memcpy(data(8192), pattern.data(), 8192);
    request(kBlkTOut, 124, 4096); // sectors 124..131: across the boundary
    ASSERT_EQ(status(), kBlkSOk);
    request(kBlkTOut, kDiskSize / 512 - 16, 8192); // the last 8 KiB
    ASSERT_EQ(status(), kBlkSOk);
    EXPECT_EQ(ram->private_chunks(), 3u);
    std::memset(data(8192), 0, 8192);
    request(kBlkTIn, 120, 8192); // 4 image sectors, 8 written ones, 4 image sectors
    ASSERT_EQ(status(), kBlkSOk);
    EXPECT_EQ(0, std::memcmp(data(8192), image.data() + 120 * 512, 2048));
    EXPECT_EQ(0, std::memcmp(data(8192) + 2048, pattern.data(), 4096));
    EXPECT_EQ(0, std::memcmp(data(8192) + 6144, image.data() + 132 * 512, 2048));
    request(kBlkTIn, kDiskSize / 512 - 16, 8192);
    EXPECT_EQ(0, std::memcmp(data(8192), pattern.data(), 8192));
}

TEST_F(BlkTest, DataSplitOverOddSegmentsLargerThanScratch) {
    make(false, 1024); // the device moves 1 KiB at a time
    header(kBlkTIn, 7);
    // 4096 bytes over segments of 1000, 3000 and 96 bytes (not sector multiples), and the header
    // itself split 3 + 13.
    rb.mem.put32(kHdr + 0x800, 0);
    submit({{kHdr, 3, 0},
            {kHdr + 3, 13, 0},
            {kData, 1000, kW},
            {kData + 0x2000, 3000, kW},
            {kData + 0x4000, 96, kW},
            {kStatus, 1, kW}});
    ASSERT_EQ(status(), kBlkSOk);
    const u8* want = image.data() + 7 * 512;
    EXPECT_EQ(0, std::memcmp(rb.mem.at(kData, 1000), want, 1000));
    EXPECT_EQ(0, std::memcmp(rb.mem.at(kData + 0x2000, 3000), want + 1000, 3000));
    EXPECT_EQ(0, std::memcmp(rb.mem.at(kData + 0x4000, 96), want + 4000, 96));
    EXPECT_EQ(backend->reads, 4u);
    // And the same shape for a write: read back through the disk.
    header(kBlkTOut, 50);
    std::memset(rb.mem.at(kData, 1000), 0x11, 1000);
    std::memset(rb.mem.at(kData + 0x2000, 3000), 0x22, 3000);
    std::memset(rb.mem.at(kData + 0x4000, 96), 0x33, 96);
    submit({{kHdr, 16, 0}, {kData, 1000, 0}, {kData + 0x2000, 3000, 0}, {kData + 0x4000, 96, 0}, {kStatus, 1, kW}});
    ASSERT_EQ(status(), kBlkSOk);
    std::vector<u8> back(4096);
    ASSERT_TRUE(ram->read(50 * 512, back.data(), 4096).is_ok());
    EXPECT_EQ(back[999], 0x11);
    EXPECT_EQ(back[1000], 0x22);
    EXPECT_EQ(back[3999], 0x22);
    EXPECT_EQ(back[4000], 0x33);
}

TEST_F(BlkTest, FlushReachesTheBackend) {
    request(kBlkTFlush, 0, 0);
    EXPECT_EQ(status(), kBlkSOk);
    EXPECT_EQ(backend->flushes, 1u);
    backend->fail_io = true;
    request(kBlkTFlush, 0, 0);
    EXPECT_EQ(status(), kBlkSIoErr);
}

TEST_F(BlkTest, GetIdWritesTheIdString) {
    request(kBlkTGetId, 0, 20);
    EXPECT_EQ(status(), kBlkSOk);
    EXPECT_EQ(0, std::memcmp(data(20), "cxv-test-disk\0\0\0\0\0\0\0", 20));
    request(kBlkTGetId, 0, 0); // no room for the id
    EXPECT_EQ(status(), kBlkSIoErr);
}

TEST_F(BlkTest, UnknownTypesAreUnsupported) {
    for (u32 type : {2u, 11u, 13u, 14u, 0xFFFFFFFFu}) {
        request(type, 0, 512);
        EXPECT_EQ(status(), kBlkSUnsupp) << type;
    }
    EXPECT_EQ(backend->reads + backend->writes, 0u);
}

TEST_F(BlkTest, BackendFailureIsIoErr) {
    backend->fail_io = true;
    request(kBlkTIn, 0, 512);
    EXPECT_EQ(status(), kBlkSIoErr);
    request(kBlkTOut, 0, 512);
    EXPECT_EQ(status(), kBlkSIoErr);
    EXPECT_NE(captured_console().find("failed a read"), std::string::npos) << captured_console();
}

// ---- hostile requests ----

TEST_F(BlkTest, ReadOnlyRefusesWrites) {
    make(true);
    std::memset(data(512), 0x77, 512);
    request(kBlkTOut, 0, 512);
    EXPECT_EQ(status(), kBlkSIoErr);
    EXPECT_EQ(backend->writes, 0u);
    request(kBlkTIn, 0, 512); // reads still work
    EXPECT_EQ(status(), kBlkSOk);
    EXPECT_EQ(0, std::memcmp(data(512), image.data(), 512));
}

TEST_F(BlkTest, PastTheEndIsIoErrAndNeverReachesTheBackend) {
    const u64 cap = kDiskSize / 512;
    struct Case {
        u32 type;
        u64 sector;
        u32 len;
    };
    for (Case c : {Case{kBlkTIn, cap, 512}, Case{kBlkTIn, cap - 1, 1024}, Case{kBlkTOut, cap - 1, 1024},
                   Case{kBlkTIn, cap + 1, 0}, Case{kBlkTIn, ~0ull, 512}, Case{kBlkTOut, ~0ull, 512},
                   Case{kBlkTIn, ~0ull / 512 + 1, 512}, // sector * 512 wraps to 0
                   Case{kBlkTOut, (1ull << 55), 512}, Case{kBlkTIn, 1ull << 63, 512}}) {
        request(c.type, c.sector, c.len);
        EXPECT_EQ(status(), kBlkSIoErr) << "type " << c.type << " sector " << c.sector << " len " << c.len;
    }
    EXPECT_EQ(backend->reads + backend->writes, 0u);
    EXPECT_NE(captured_console().find("vm testvm: vda: a request past the end of the disk"), std::string::npos)
        << captured_console();
    request(kBlkTIn, cap - 1, 512); // the last sector is fine
    EXPECT_EQ(status(), kBlkSOk);
    EXPECT_EQ(0, std::memcmp(data(512), image.data() + kDiskSize - 512, 512));
}

TEST_F(BlkTest, HugeLengthsAreRefusedBeforeAnyCopy) {
    // A 3 GiB writable buffer: RAM as far as the queue can tell, but never to be touched.
    rb.mem.add_unbacked_ram(0x1'0000'0000, 4 * GiB);
    header(kBlkTIn, 0);
    submit({{kHdr, 16, 0}, {0x1'0000'0000, 3u * u32(GiB), kW}, {kStatus, 1, kW}});
    EXPECT_EQ(status(), kBlkSIoErr);
    header(kBlkTOut, 0);
    submit({{kHdr, 16, 0}, {0x1'0000'0000, 0xFFFF'F000u, 0}, {kStatus, 1, kW}});
    EXPECT_EQ(status(), kBlkSIoErr);
    EXPECT_EQ(backend->reads + backend->writes, 0u);
}

TEST_F(BlkTest, ShortHeaderIsIoErr) {
    header(kBlkTIn, 0);
    submit({{kHdr, 8, 0}, {kData, 512, kW}, {kStatus, 1, kW}});
    EXPECT_EQ(status(), kBlkSIoErr);
    submit({{kData, 512, kW}, {kStatus, 1, kW}}); // no header at all
    EXPECT_EQ(status(), kBlkSIoErr);
    EXPECT_EQ(backend->reads, 0u);
    EXPECT_EQ(dev->malformed(), 2u);
    EXPECT_EQ(rb.used_idx(), 2); // both completed, the queue goes on
}

TEST_F(BlkTest, NoStatusByteCompletesWithNothingWritten) {
    header(kBlkTOut, 0);
    std::memset(data(512), 0x44, 512);
    submit({{kHdr, 16, 0}, {kData, 512, 0}}); // nowhere to put a status
    EXPECT_EQ(rb.used_idx(), 1);
    EXPECT_EQ(last_used_len(), 0u);
    EXPECT_EQ(backend->writes, 0u); // not executed: the driver could never learn the outcome
    EXPECT_EQ(dev->malformed(), 1u);
    EXPECT_NE(captured_console().find("without a status byte"), std::string::npos) << captured_console();
    // Reported once per life, not per request.
    submit({{kHdr, 16, 0}, {kData, 512, 0}});
    EXPECT_EQ(dev->malformed(), 2u);
    EXPECT_EQ(captured_console().find("without a status byte"), captured_console().rfind("without a status byte"));
}

TEST_F(BlkTest, DataNotASectorMultipleIsIoErr) {
    request(kBlkTIn, 0, 100);
    EXPECT_EQ(status(), kBlkSIoErr);
    request(kBlkTOut, 0, 513);
    EXPECT_EQ(status(), kBlkSIoErr);
    EXPECT_EQ(backend->reads + backend->writes, 0u);
}

TEST_F(BlkTest, MalformedRingIsAQueueFault) {
    rb.offer(99); // head beyond the queue size
    dev->notify(0);
    EXPECT_EQ(tr->faults, 1u);
    tr->faults = 0; // expected here; TearDown checks the other tests have none
}

TEST_F(BlkTest, EventIdxAvailEventFollowsTheRing) {
    make(false, 8 * KiB, true);
    request(kBlkTIn, 0, 512);
    request(kBlkTIn, 1, 512);
    EXPECT_EQ(rb.avail_event(), 2); // the driver is asked to notify on its next buffer
    EXPECT_EQ(rb.used_idx(), 2);
}

TEST(RamDiskBackendTest, RejectsBadSizesAndOutOfRangeAccess) {
    std::vector<u8> img(4096);
    EXPECT_TRUE(RamDiskBackend::create(img.data(), 0, test_alloc, test_free).is_error());
    EXPECT_TRUE(RamDiskBackend::create(img.data(), 1000, test_alloc, test_free).is_error());
    EXPECT_TRUE(RamDiskBackend::create(nullptr, 4096, test_alloc, test_free).is_error());
    auto r = RamDiskBackend::create(img.data(), 4096, test_alloc, test_free);
    ASSERT_TRUE(r.is_ok());
    std::unique_ptr<RamDiskBackend> d(r.value());
    u8 buf[1024];
    EXPECT_EQ(d->read(3584, buf, 1024).error(), Error::OutOfRange);
    EXPECT_EQ(d->write(4096, buf, 512).error(), Error::OutOfRange);
    EXPECT_EQ(d->write(~0ull - 511, buf, 1024).error(), Error::OutOfRange);
    EXPECT_EQ(d->read(1, buf, 512).error(), Error::OutOfRange); // not sector-aligned
    EXPECT_TRUE(d->read(3584, buf, 512).is_ok());
}

TEST(RamDiskBackendTest, NoMemoryForAChunkFailsTheWriteOnly) {
    static int budget;
    auto alloc = [](usize bytes) -> void* { return budget-- > 0 ? std::malloc(bytes) : nullptr; };
    budget = 1; // the chunk table only
    std::vector<u8> img(128 * KiB, 0xAB);
    auto r = RamDiskBackend::create(img.data(), img.size(), alloc, test_free);
    ASSERT_TRUE(r.is_ok());
    std::unique_ptr<RamDiskBackend> d(r.value());
    u8 buf[512] = {};
    EXPECT_EQ(d->write(0, buf, 512).error(), Error::NoMemory);
    u8 back[512];
    ASSERT_TRUE(d->read(0, back, 512).is_ok());
    EXPECT_EQ(back[0], 0xAB);
}

} // namespace
