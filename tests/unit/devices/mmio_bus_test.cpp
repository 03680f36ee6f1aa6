#include "devices/mmio_bus.hpp"
#include <gtest/gtest.h>
#include <memory>
#include <vector>

namespace {
// Records the last access and returns offset + width, so dispatch and offsets are visible.
class FakeDevice final : public MmioDevice {
public:
    FakeDevice(u64 base, u64 size) : MmioDevice("fake", GuestPhysAddr(base), size) {}
    Result<u64> read(u64 offset, unsigned width) override {
        last_offset = offset;
        last_width = width;
        return ~0ull; // the bus must truncate to the access width
    }
    Result<void> write(u64 offset, unsigned width, u64 value) override {
        last_offset = offset;
        last_width = width;
        last_value = value;
        return {};
    }
    u64 last_offset = ~0ull, last_value = 0;
    unsigned last_width = 0;
};
} // namespace

TEST(MmioBus, RejectsOverlapAndKeepsOrder) {
    MmioBus bus;
    FakeDevice a(0x9000000, 0x1000), b(0x8000000, 0x10000), c(0x9000fff, 1), d(0x7fff000, 0x1001);
    FakeDevice e(0x8010000, 0x1000), zero(0x1000, 0), wrap(~0ull - 0xfff, 0x2000);
    EXPECT_TRUE(bus.add(&a).is_ok());
    EXPECT_TRUE(bus.add(&b).is_ok()); // inserted before a
    EXPECT_EQ(bus.add(&c).error(), Error::AlreadyMapped); // last byte of a
    EXPECT_EQ(bus.add(&d).error(), Error::AlreadyMapped); // first byte of b
    EXPECT_TRUE(bus.add(&e).is_ok());                      // exactly adjacent to b
    EXPECT_EQ(bus.add(&zero).error(), Error::InvalidArgument);
    EXPECT_EQ(bus.add(&wrap).error(), Error::InvalidArgument);
    EXPECT_EQ(bus.size(), 3u);
    EXPECT_EQ(bus.find(GuestPhysAddr(0x8000000)), &b);
    EXPECT_EQ(bus.find(GuestPhysAddr(0x800ffff)), &b);
    EXPECT_EQ(bus.find(GuestPhysAddr(0x8010000)), &e);
    EXPECT_EQ(bus.find(GuestPhysAddr(0x9000fff)), &a);
    EXPECT_EQ(bus.find(GuestPhysAddr(0x9001000)), nullptr);
    EXPECT_EQ(bus.find(GuestPhysAddr(0x7ffffff)), nullptr);
    EXPECT_EQ(bus.find(GuestPhysAddr(0x8011000)), nullptr);
}

TEST(MmioBus, Capacity) {
    MmioBus bus;
    std::vector<std::unique_ptr<FakeDevice>> devs;
    for (usize i = 0; i <= MmioBus::Capacity; ++i) {
        // Add in descending order to exercise insertion at the front.
        devs.push_back(std::make_unique<FakeDevice>(0x100000 - i * 0x1000, 0x1000));
        auto r = bus.add(devs[i].get());
        EXPECT_EQ(r.is_ok(), i < MmioBus::Capacity);
    }
    for (usize i = 0; i < MmioBus::Capacity; ++i)
        EXPECT_EQ(bus.find(GuestPhysAddr(0x100000 - i * 0x1000 + 0x800)), devs[i].get());
}

TEST(MmioBus, DispatchWidthsAndStraddle) {
    MmioBus bus;
    FakeDevice a(0x9000000, 0x1000);
    ASSERT_TRUE(bus.add(&a).is_ok());
    for (unsigned w : {1u, 2u, 4u, 8u}) {
        auto r = bus.read(GuestPhysAddr(0x9000010), w);
        ASSERT_TRUE(r.is_ok());
        EXPECT_EQ(r.value(), w == 8 ? ~0ull : (1ull << (8 * w)) - 1);
        EXPECT_EQ(a.last_offset, 0x10u);
        EXPECT_EQ(a.last_width, w);
    }
    for (unsigned w : {0u, 3u, 16u})
        EXPECT_EQ(bus.read(GuestPhysAddr(0x9000000), w).error(), Error::InvalidArgument);
    EXPECT_TRUE(bus.write(GuestPhysAddr(0x9000ffe), 2, 0x12345678).is_ok());
    EXPECT_EQ(a.last_offset, 0xffeu);
    EXPECT_EQ(a.last_value, 0x5678u);
    EXPECT_EQ(bus.write(GuestPhysAddr(0x9000ffe), 4, 0).error(), Error::OutOfRange);
    EXPECT_EQ(bus.read(GuestPhysAddr(0x9000ff9), 8).error(), Error::OutOfRange);
    EXPECT_TRUE(bus.read(GuestPhysAddr(0x9000ff8), 8).is_ok());
    EXPECT_EQ(bus.read(GuestPhysAddr(0x9001000), 4).error(), Error::NotFound);
}
