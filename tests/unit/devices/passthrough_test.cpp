#include "devices/passthrough.hpp"
#include <gtest/gtest.h>

TEST(Passthrough, Validate) {
    // QEMU virt: GIC distributor + redistributors, and the PL011 the hypervisor keeps.
    const PhysRange host[] = {{HostPhysAddr(0x8000000), 0x10000}, {HostPhysAddr(0x80a0000), 0xf60000},
                                  {HostPhysAddr(0x9000000), 0x1000}};
    auto region = [](u64 hpa, u64 size) {
        return PassthroughRegion{"dev", GuestPhysAddr(0x9000000), HostPhysAddr(hpa), size, 33};
    };
    EXPECT_TRUE(region(0x9040000, 0x1000).validate(host, 3).is_ok());  // QEMU's second UART area
    EXPECT_TRUE(region(0x8010000, 0x1000).validate(host, 3).is_ok());  // right after the distributor
    EXPECT_TRUE(region(0x9001000, 0x1000).validate(host, 3).is_ok());  // right after the UART
    EXPECT_EQ(region(0x9000000, 0x1000).validate(host, 3).error(), Error::Denied);
    EXPECT_EQ(region(0x8fff000, 0x1000).validate(host, 3).error(), Error::Denied); // GICR tail
    EXPECT_EQ(region(0x7000000, 0x4000000).validate(host, 3).error(), Error::Denied); // covers all
    EXPECT_EQ(region(0x800f000, 0x1000).validate(host, 3).error(), Error::Denied);  // GICD tail
    EXPECT_EQ(region(0x9040000, 0).validate(host, 3).error(), Error::InvalidArgument);
    EXPECT_EQ(region(0x9040800, 0x1000).validate(host, 3).error(), Error::InvalidArgument);
    EXPECT_EQ(region(0xfffffffffffff000, 0x2000).validate(host, 3).error(), Error::InvalidArgument);
    EXPECT_TRUE(region(0x9000000, 0x1000).validate(nullptr, 0).is_ok());
}
