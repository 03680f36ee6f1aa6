// read_platform() on QEMU virt (values checked with `dtc -I dtb -O dts` on the dumps) and on the
// hand-written board variants.
#include "arch/aarch64/dt_platform.hpp"
#include "fdt_fixtures.hpp"
#include <gtest/gtest.h>

static Result<PlatformInfo> read(const std::vector<u8>& blob, const char** what = nullptr) {
    auto f = Fdt::create(blob.data(), blob.size());
    EXPECT_TRUE(f.is_ok());
    return read_platform(f.value(), what);
}

static void expect_range(const PhysRange& r, u64 base, u64 size) {
    EXPECT_EQ(r.base.value(), base);
    EXPECT_EQ(r.size, size);
}

TEST(DtPlatform, QemuVirt4Cpu) {
    const char* what = "untouched";
    auto blob = qemu_dtb(4);
    auto r = read(blob, &what);
    ASSERT_TRUE(r.is_ok()) << what;
    const PlatformInfo& p = r.value();
    EXPECT_STREQ(what, "untouched");
    ASSERT_EQ(p.ram_count, 1u);
    expect_range(p.ram[0], 0x40000000, 1 * GiB);
    EXPECT_EQ(p.reserved_count, 0u);
    ASSERT_EQ(p.cpu_count, 4u);
    for (u32 i = 0; i < 4; ++i) {
        EXPECT_EQ(p.cpus[i].mpidr, i);
        EXPECT_EQ(p.cpus[i].enable, CpuEnableMethod::Psci);
    }
    EXPECT_EQ(p.psci, PsciMethod::Smc);
    expect_range(p.gic.dist, 0x08000000, 0x10000);
    ASSERT_EQ(p.gic.redist_count, 1u);
    expect_range(p.gic.redist[0], 0x080a0000, 0xf60000);
    EXPECT_EQ(p.gic.maintenance_intid, 25u); // PPI 9
    expect_range(p.uart.mmio, 0x09000000, 0x1000);
    EXPECT_EQ(p.uart.intid, 33u); // SPI 1
    EXPECT_EQ(p.timer.secure_phys_intid, 29u);
    EXPECT_EQ(p.timer.nonsecure_phys_intid, 30u);
    EXPECT_EQ(p.timer.virt_intid, 27u);
    EXPECT_EQ(p.timer.hyp_phys_intid, 26u);
    EXPECT_EQ(p.timer.frequency_hz, 0u);
}

TEST(DtPlatform, QemuVirt2Cpu) {
    auto blob = qemu_dtb(2);
    PlatformInfo p = read(blob).release_value();
    expect_range(p.ram[0], 0x40000000, 512 * MiB);
    EXPECT_EQ(p.cpu_count, 2u);
    EXPECT_EQ(p.cpus[1].mpidr, 1u);
}

TEST(DtPlatform, BoardWithAliasStdout) {
    auto blob = board_dtb();
    PlatformInfo p = read(blob).release_value();
    ASSERT_EQ(p.ram_count, 3u); // the disabled memory node is skipped
    expect_range(p.ram[0], 0x80000000, 0x20000000);
    expect_range(p.ram[1], 0x880000000, 0x40000000);
    expect_range(p.ram[2], 0x100000000, 0x10000000);
    ASSERT_EQ(p.reserved_count, 3u); // two /memreserve/, secmon; dma-pool has no reg
    expect_range(p.reserved[0], 0x48000000, 0x10000);
    expect_range(p.reserved[1], 0x49000000, 0x2000);
    expect_range(p.reserved[2], 0x90000000, 0x200000);
    ASSERT_EQ(p.cpu_count, 3u); // cpu-map is not a CPU
    EXPECT_EQ(p.cpus[1].mpidr, 0x100u);
    EXPECT_EQ(p.cpus[2].mpidr, 0x100000001u);
    EXPECT_EQ(p.cpus[2].enable, CpuEnableMethod::SpinTable);
    EXPECT_EQ(p.cpus[2].release_addr, 0x8000fff8u);
    EXPECT_EQ(p.psci, PsciMethod::Hvc);
    expect_range(p.gic.dist, 0x3f800000, 0x10000); // through /soc ranges
    ASSERT_EQ(p.gic.redist_count, 2u);
    expect_range(p.gic.redist[1], 0x3fa00000, 0x40000);
    EXPECT_EQ(p.gic.maintenance_intid, 25u);
    expect_range(p.uart.mmio, 0x3f002000, 0x1000); // serial0 -> uart1
    EXPECT_EQ(p.uart.intid, 38u);
    EXPECT_EQ(p.timer.virt_intid, 27u);
    EXPECT_EQ(p.timer.frequency_hz, 62500000u);
}

TEST(DtPlatform, BoardWithPathStdout) {
    auto blob = board_dtb("board-stdout-path");
    PlatformInfo p = read(blob).release_value();
    expect_range(p.uart.mmio, 0x3f001000, 0x1000);
    EXPECT_EQ(p.uart.intid, 37u);
}

TEST(DtPlatform, MissingPiecesAreNamed) {
    const char* what = nullptr;
    auto blob = board_dtb("board-no-gic");
    EXPECT_EQ(read(blob, &what).error(), Error::NotFound);
    EXPECT_STREQ(what, "GICv3 (compatible \"arm,gic-v3\")");

    DtbBuilder empty;
    empty.begin("").prop("#address-cells", {2}).end_node().end();
    blob = empty.build();
    EXPECT_EQ(read(blob, &what).error(), Error::NotFound);
    EXPECT_STREQ(what, "RAM (/memory with device_type \"memory\")");
}
