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
    Result<void> read(u64 off, const RequestData& to) override {
        check(off, to.len());
        ++reads;
        if (fail_io) return Error::Aborted;
        return inner->read(off, to);
    }
    Result<void> write(u64 off, const RequestData& from) override {
        check(off, from.len());
        ++writes;
        if (fail_io) return Error::Aborted;
        return inner->write(off, from);
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

// Plays the driver: a request header at `at`, and one chain made of `segs` (descriptors 0..n-1)
// offered on the ring, then the device's notification. The status byte is preset to kUntouched.
void put_header(RingBuilder& rb, u32 type, u64 sector, u64 at = kHdr) {
    rb.mem.put32(at, type);
    rb.mem.put32(at + 4, 0);
    rb.mem.put64(at + 8, sector);
}
void offer_chain(RingBuilder& rb, Device& dev, const std::vector<Seg>& segs) {
    rb.mem.at(kStatus, 1)[0] = kUntouched;
    for (u16 i = 0; i < segs.size(); ++i) {
        const bool last = usize(i) + 1 == segs.size();
        rb.desc(i, segs[i].gpa, segs[i].len, u16(segs[i].flags | (last ? 0 : kDescFNext)), u16(i + 1));
    }
    rb.offer(0);
    dev.notify(0);
}

struct BlkTest : ::testing::Test {
    static constexpr u64 kDiskSize = 200 * KiB; // 400 sectors: 3 full 64 KiB chunks and a partial one
    RingBuilder rb{16};
    std::vector<u8> image;
    RamDiskBackend* ram = nullptr;
    CheckedBackend* backend = nullptr;
    std::unique_ptr<BlockDevice> dev;
    std::unique_ptr<FakeTransport> tr;

    void SetUp() override { make(false); }
    void make(bool read_only, bool event_idx = false) {
        tr.reset();
        dev.reset();
        image.resize(kDiskSize);
        for (usize i = 0; i < image.size(); ++i) image[i] = u8(i / kSectorSize * 7 + i);
        auto r = RamDiskBackend::create(image.data(), image.size(), test_alloc, test_free);
        ASSERT_TRUE(r.is_ok());
        ram = r.value();
        backend = new CheckedBackend(ram);
        dev = std::make_unique<BlockDevice>(backend, BlockDevice::Options{read_only, "cxv-test-disk"});
        tr = std::make_unique<FakeTransport>(rb, *dev);
        ASSERT_TRUE(tr->activate(event_idx));
        clear_captured_console();
    }
    void header(u32 type, u64 sector, u64 at = kHdr) { put_header(rb, type, sector, at); }
    void submit(const std::vector<Seg>& segs) { offer_chain(rb, *dev, segs); }
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

TEST_F(BlkTest, DataSplitOverOddSegments) {
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
    EXPECT_EQ(backend->reads, 1u); // one call: the RAM disk copies straight into the three pieces
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
    make(false, true);
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

// ---- zero-copy: a DMA backend (the host disk's, HostRegionBackend) ----

// A scatter-gather "device" over a vector: each request's segments are host pointers into the fake
// RAM (FakeGuestMemory::host_run) or the bounce buffer; it checks every request against its limits
// and records them.
struct FakeDma final : DmaBackend {
    struct Request {
        bool to_memory;
        u64 offset;
        std::vector<HostSegment> segs;
        u64 bytes() const {
            u64 n = 0;
            for (const HostSegment& g : segs) n += g.len;
            return n;
        }
    };
    FakeDma(u64 size, Limits lim, std::vector<u8>& bounce)
        : DmaBackend(bounce.data(), u64(reinterpret_cast<uintptr_t>(bounce.data())), u32(bounce.size())),
          disk(size), lim(lim), bounce(bounce) {
        for (usize i = 0; i < disk.size(); ++i) disk[i] = u8(i / kSectorSize * 5 + i);
    }
    u64 size() const override { return disk.size(); }
    Result<void> flush() override { return {}; }
    Limits limits() const override { return lim; }
    Result<void> dma(bool to_memory, u64 offset, const HostSegment* segs, u32 count) override {
        Request r{to_memory, offset, std::vector<HostSegment>(segs, segs + count)};
        EXPECT_GE(count, 1u);
        EXPECT_LE(count, lim.max_segments);
        for (const HostSegment& g : r.segs) EXPECT_LE(g.len, lim.max_segment_bytes);
        EXPECT_EQ(r.bytes() % kSectorSize, 0u) << "a device request of " << r.bytes() << " bytes";
        EXPECT_LE(r.bytes(), lim.max_request_bytes);
        EXPECT_TRUE(offset <= disk.size() && r.bytes() <= disk.size() - offset);
        requests.push_back(r);
        if (fail) return Error::Aborted;
        u64 at = offset;
        for (const HostSegment& g : r.segs) {
            u8* mem = reinterpret_cast<u8*>(uintptr_t(g.pa));
            if (to_memory) std::memcpy(mem, disk.data() + at, g.len);
            else std::memcpy(disk.data() + at, mem, g.len);
            at += g.len;
        }
        return {};
    }
    bool bounced(const Request& r) const {
        return r.segs.size() == 1 && r.segs[0].pa == u64(reinterpret_cast<uintptr_t>(bounce.data()));
    }
    std::vector<u8> disk;
    Limits lim;
    std::vector<u8>& bounce;
    std::vector<Request> requests;
    bool fail = false;
};

struct DmaBlkTest : ::testing::Test {
    static constexpr u64 kDiskSize = 4 * MiB;
    static constexpr u64 kPages = RingBuilder::kBuffers + 0x10000; // data pages from here on
    RingBuilder rb{256, 4 * MiB};
    std::vector<u8> bounce = std::vector<u8>(4096);
    FakeDma* dma = nullptr;
    std::unique_ptr<BlockDevice> dev;
    std::unique_ptr<FakeTransport> tr;

    // Once per test, before any request (a new transport starts at the ring's index 0 again).
    void make(DmaBackend::Limits lim) {
        tr.reset();
        dev.reset();
        dma = new FakeDma(kDiskSize, lim, bounce);
        dev = std::make_unique<BlockDevice>(dma, BlockDevice::Options{false, "dma"});
        tr = std::make_unique<FakeTransport>(rb, *dev);
        ASSERT_TRUE(tr->activate());
        clear_captured_console();
    }
    void SetUp() override { make({126, 4 * MiB, 4 * MiB}); }
    // One request: header, the data pieces (device-writable for IN), status; descriptors 0..n+1.
    void submit(u32 type, u64 sector, const std::vector<Seg>& data) {
        put_header(rb, type, sector);
        std::vector<Seg> segs{{kHdr, 16, 0}};
        for (Seg d : data) segs.push_back({d.gpa, d.len, u16(type == kBlkTIn ? kW : 0)});
        segs.push_back({kStatus, 1, kW});
        offer_chain(rb, *dev, segs);
    }
    u8 status() { return rb.mem.at(kStatus, 1)[0]; }
    // Every other page from kPages: no two pieces adjacent in host memory.
    static std::vector<Seg> scattered(unsigned pages) {
        std::vector<Seg> v;
        for (unsigned i = 0; i < pages; ++i) v.push_back({kPages + 2ull * i * 4096, 4096, 0});
        return v;
    }
    u64 host(u64 gpa) { return u64(reinterpret_cast<uintptr_t>(rb.mem.at(gpa, 1))); }
    // The device requests made so far carry these numbers of segments, in order.
    ::testing::AssertionResult segments_per_request(const std::vector<size_t>& want) {
        std::vector<size_t> got;
        for (const auto& r : dma->requests) got.push_back(r.segs.size());
        if (got == want) return ::testing::AssertionSuccess();
        return ::testing::AssertionFailure() << "segments per request: " << ::testing::PrintToString(got);
    }
    // The guest pieces hold the disk's bytes from `sector` on, in order.
    void expect_guest_has_disk(u64 sector, const std::vector<Seg>& data) {
        u64 at = sector * kSectorSize;
        for (Seg d : data) {
            ASSERT_EQ(0, std::memcmp(rb.mem.at(d.gpa, d.len), dma->disk.data() + at, d.len)) << std::hex << d.gpa;
            at += d.len;
        }
    }
    void TearDown() override {
        EXPECT_EQ(rb.mem.refused, 0u);
        EXPECT_EQ(tr->faults, 0u);
    }
};

TEST_F(DmaBlkTest, ReadAndWriteGoStraightToTheGuestPagesInOneRequest) {
    // 16 KiB in one descriptor: four pages adjacent in host memory, one segment.
    submit(kBlkTIn, 8, {{kPages, 16384, 0}});
    ASSERT_EQ(status(), kBlkSOk);
    ASSERT_EQ(dma->requests.size(), 1u);
    const FakeDma::Request& r = dma->requests[0];
    EXPECT_TRUE(r.to_memory);
    EXPECT_EQ(r.offset, 8u * kSectorSize);
    ASSERT_EQ(r.segs.size(), 1u);
    EXPECT_EQ(r.segs[0].pa, host(kPages)); // the guest's own page: no copy in between
    EXPECT_EQ(r.segs[0].len, 16384u);
    expect_guest_has_disk(8, {{kPages, 16384, 0}});
    EXPECT_EQ(rb.mem.host_runs, 4u); // one translation per page leaf of the fake
    EXPECT_EQ(rb.mem.writes, 4u);    // the status byte, the used ring's entry (id, len) and index: no data
    // A write: the disk reads the guest's pages.
    std::memset(rb.mem.at(kPages, 8192), 0x6b, 8192);
    submit(kBlkTOut, 100, {{kPages, 8192, 0}});
    ASSERT_EQ(status(), kBlkSOk);
    ASSERT_EQ(dma->requests.size(), 2u);
    EXPECT_FALSE(dma->requests[1].to_memory);
    EXPECT_EQ(dma->requests[1].segs.size(), 1u);
    for (u32 i = 0; i < 8192; ++i) ASSERT_EQ(dma->disk[100 * kSectorSize + i], 0x6b) << i;
    EXPECT_EQ(dma->bounced_requests(), 0u);
}

// seg_max 254 (what QEMU's own device offers): a guest's 1 MiB of scattered pages minus one page
// is one guest request; a disk that takes 126 segments gets it as three requests, in order.
TEST_F(DmaBlkTest, ChainOf254ScatteredPagesIsAcceptedAndCutToTheDisksBudget) {
    EXPECT_EQ(BlockDevice::kSegMax, 254u);
    const auto pages = scattered(254);
    submit(kBlkTIn, 0, pages);
    ASSERT_EQ(status(), kBlkSOk);
    ASSERT_TRUE(segments_per_request({126, 126, 2}));
    EXPECT_EQ(dma->requests[1].offset, 126u * 4096);
    EXPECT_EQ(dma->requests[2].offset, 252u * 4096);
    expect_guest_has_disk(0, pages);
}

TEST_F(DmaBlkTest, ChainOf126ScatteredPagesIsOneRequestOf126Segments) {
    const auto pages = scattered(126);
    submit(kBlkTIn, 0, pages);
    ASSERT_EQ(status(), kBlkSOk);
    ASSERT_EQ(dma->requests.size(), 1u);
    ASSERT_EQ(dma->requests[0].segs.size(), 126u);
    for (unsigned i = 0; i < 126; ++i) EXPECT_EQ(dma->requests[0].segs[i].pa, host(pages[i].gpa)) << i;
    expect_guest_has_disk(0, pages);
    // The same pages adjacent in the guest (and so in host memory): merged into one segment.
    std::vector<Seg> adjacent;
    for (unsigned i = 0; i < 126; ++i) adjacent.push_back({kPages + i * 4096ull, 4096, 0});
    submit(kBlkTIn, 1000, adjacent);
    ASSERT_EQ(status(), kBlkSOk);
    ASSERT_EQ(dma->requests.size(), 2u);
    ASSERT_EQ(dma->requests[1].segs.size(), 1u);
    EXPECT_EQ(dma->requests[1].segs[0].len, 126u * 4096);
    expect_guest_has_disk(1000, adjacent);
}

TEST_F(DmaBlkTest, BudgetOfOneSegmentSendsOneRequestPerRunInOrder) {
    make({1, 4 * MiB, 4 * MiB}); // a host disk without VIRTIO_BLK_F_SEG_MAX
    const auto pages = scattered(3);
    std::memset(rb.mem.at(pages[0].gpa, 4096), 1, 4096);
    std::memset(rb.mem.at(pages[1].gpa, 4096), 2, 4096);
    std::memset(rb.mem.at(pages[2].gpa, 4096), 3, 4096);
    submit(kBlkTOut, 16, pages);
    ASSERT_EQ(status(), kBlkSOk);
    ASSERT_EQ(dma->requests.size(), 3u);
    for (unsigned i = 0; i < 3; ++i) {
        EXPECT_EQ(dma->requests[i].offset, 16u * kSectorSize + i * 4096u) << i; // consecutive, in order
        ASSERT_EQ(dma->requests[i].segs.size(), 1u);
        EXPECT_EQ(dma->requests[i].segs[0].pa, host(pages[i].gpa));
        EXPECT_EQ(dma->disk[16 * kSectorSize + i * 4096 + 77], i + 1);
    }
}

TEST_F(DmaBlkTest, SmallBudgetsSplitSegmentsAndRequests) {
    // 3 segments of at most 4 KiB, at most 8 KiB per request.
    make({3, 4096, 8192});
    // 10 scattered pages, then one contiguous 16 KiB piece: 4 KiB segments, 2 per request (bytes).
    auto data = scattered(10);
    data.push_back({kPages + 0x40000, 16384, 0});
    submit(kBlkTIn, 40, data);
    ASSERT_EQ(status(), kBlkSOk);
    ASSERT_EQ(dma->requests.size(), 7u); // 56 KiB in requests of 8 KiB
    u64 at = 40 * kSectorSize;
    for (const auto& r : dma->requests) {
        EXPECT_EQ(r.offset, at);
        EXPECT_EQ(r.bytes(), 8192u);
        EXPECT_EQ(r.segs.size(), 2u);
        at += r.bytes();
    }
    // The contiguous piece was cut at the segment limit, not merged past it.
    EXPECT_EQ(dma->requests[5].segs[0].pa, host(kPages + 0x40000));
    EXPECT_EQ(dma->requests[5].segs[1].pa, host(kPages + 0x41000));
    expect_guest_has_disk(40, data);
}

TEST_F(DmaBlkTest, SegmentBudgetCutsBetweenSectors) {
    // Segment budget before byte budget: 3 segments of 512 bytes each time.
    make({3, 4096, 1 * MiB});
    std::vector<Seg> small;
    for (unsigned i = 0; i < 7; ++i) small.push_back({kPages + i * 8192ull + 512, 512, 0});
    submit(kBlkTIn, 3, small);
    ASSERT_EQ(status(), kBlkSOk);
    ASSERT_TRUE(segments_per_request({3, 3, 1}));
    EXPECT_EQ(dma->requests[2].offset, 3u * kSectorSize + 6 * 512);
    expect_guest_has_disk(3, small);
}

TEST_F(DmaBlkTest, PiecesInTwoRegionsAreSeparateSegments) {
    rb.mem.add_ram(0x8000'0000, 64 * KiB); // a second RAM region elsewhere in guest memory
    submit(kBlkTIn, 2, {{kPages + 0x1000, 8192, 0}, {0x8000'0000, 8192, 0}, {kPages + 0x3000, 4096, 0}});
    ASSERT_EQ(status(), kBlkSOk);
    ASSERT_EQ(dma->requests.size(), 1u);
    ASSERT_EQ(dma->requests[0].segs.size(), 2u + (host(kPages + 0x3000) != host(0x8000'0000) + 8192));
    EXPECT_EQ(dma->requests[0].segs[1].pa, host(0x8000'0000));
    expect_guest_has_disk(2, {{kPages + 0x1000, 8192, 0}, {0x8000'0000, 8192, 0}, {kPages + 0x3000, 4096, 0}});
}

TEST_F(DmaBlkTest, MemoryTheDeviceMayNotWriteIsIoErrWithNoDeviceRequest) {
    // Read-only RAM: the queue accepts the buffer (it is RAM), the device may not write it.
    rb.mem.add_ram(0x9000'0000, 64 * KiB, false);
    submit(kBlkTIn, 0, {{kPages, 4096, 0}, {0x9000'0000, 4096, 0}});
    EXPECT_EQ(status(), kBlkSIoErr);
    EXPECT_TRUE(dma->requests.empty()); // translated before anything was sent
    for (u32 i = 0; i < 4096; ++i) ASSERT_EQ(rb.mem.at(0x9000'0000, 4096)[i], 0) << i;
    EXPECT_NE(captured_console().find("buffers the device may not use"), std::string::npos) << captured_console();
    rb.mem.refused = 0; // expected here
    // Reading from it (a write request) is fine.
    submit(kBlkTOut, 0, {{0x9000'0000, 4096, 0}});
    EXPECT_EQ(status(), kBlkSOk);
    EXPECT_EQ(dma->requests.size(), 1u);
}

TEST_F(DmaBlkTest, ASectorSplitOverPiecesGoesThroughTheBounceBuffer) {
    // 4096 bytes as 1000 + 3000 + 96 (legal, 2.6.4): no device request could end between them.
    const std::vector<Seg> odd{{kPages, 1000, 0}, {kPages + 0x2000, 3000, 0}, {kPages + 0x4000, 96, 0}};
    submit(kBlkTIn, 7, odd);
    ASSERT_EQ(status(), kBlkSOk);
    EXPECT_EQ(dma->bounced_requests(), 1u);
    ASSERT_EQ(dma->requests.size(), 1u);
    EXPECT_TRUE(dma->bounced(dma->requests[0]));
    expect_guest_has_disk(7, odd);
    std::memset(rb.mem.at(kPages, 1000), 0x11, 1000);
    std::memset(rb.mem.at(kPages + 0x2000, 3000), 0x22, 3000);
    std::memset(rb.mem.at(kPages + 0x4000, 96), 0x33, 96);
    submit(kBlkTOut, 50, odd);
    ASSERT_EQ(status(), kBlkSOk);
    EXPECT_EQ(dma->disk[50 * 512 + 999], 0x11);
    EXPECT_EQ(dma->disk[50 * 512 + 1000], 0x22);
    EXPECT_EQ(dma->disk[50 * 512 + 4000], 0x33);
    // Larger than the bounce page: several requests, in order.
    std::vector<Seg> big{{kPages + 0x100, 6144, 0}, {kPages + 0x10000, 4096, 0}};
    submit(kBlkTIn, 90, big);
    ASSERT_EQ(status(), kBlkSOk);
    ASSERT_EQ(dma->requests.size(), 5u);
    EXPECT_EQ(dma->requests[2].offset, 90u * 512);
    EXPECT_EQ(dma->requests[3].offset, 90u * 512 + 4096);
    expect_guest_has_disk(90, big);
}

TEST_F(DmaBlkTest, DeviceFailureIsIoErr) {
    dma->fail = true;
    submit(kBlkTIn, 0, {{kPages, 4096, 0}});
    EXPECT_EQ(status(), kBlkSIoErr);
    EXPECT_NE(captured_console().find("failed a read"), std::string::npos) << captured_console();
}

} // namespace
