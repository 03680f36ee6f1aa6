// The loongarch64 boot parsers (src/arch/loongarch64/boot_info.cpp) on what QEMU 7.2's LoongArch
// virt board really hands over: its DTB (`-M virt,dumpdtb=` with -smp 4 -m 1G, decompiled into
// data/qemu72_loongarch_virt_smp4.dts) and its fw_cfg etc/memmap file (read from fw_cfg by a
// probe on the same QEMU, -m 1G and -m 4G).
#include "arch/loongarch64/boot_info.hpp"
#include <fstream>
#include <gtest/gtest.h>
#include <iterator>
#include <string>
#include <vector>

namespace {

std::vector<u8> read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), {}};
}

// etc/memmap with -m 1G: low RAM 0..256 MiB, then 768 MiB at 0x9000_0000 (type 1 = RAM).
const u8 MEMMAP_1G[] = {
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x90, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x30, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};
// With -m 4G the high bank is 0xF000_0000 bytes.
const u8 MEMMAP_4G[] = {
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x90, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0xF0, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};

class LaBootInfo : public ::testing::Test {
protected:
    void SetUp() override { load("qemu72_loongarch_virt_smp4.dtb"); }
    void load(const char* name) {
        m_dtb = read_file(std::string(LA_FIXTURE_BIN) + "/" + name);
        ASSERT_FALSE(m_dtb.empty());
        auto f = Fdt::create(m_dtb.data(), m_dtb.size());
        ASSERT_TRUE(f.is_ok());
        m_fdt.emplace(f.value());
    }
    std::vector<u8> m_dtb;
    std::optional<Fdt> m_fdt;
};

} // namespace

TEST_F(LaBootInfo, ReadsCoresConsoleControllerAndFwCfgFromQemu72) {
    const char* what = nullptr;
    auto r = read_la_platform(*m_fdt, 0, &what);
    ASSERT_TRUE(r.is_ok()) << (what ? what : "");
    const LaPlatformInfo& p = r.value();
    ASSERT_EQ(p.cpu_count, 4u);
    for (u32 i = 0; i < 4; ++i) EXPECT_EQ(p.cpu_id[i], i); // cpu@N, reg N: the CSR.CPUID numbers
    EXPECT_FALSE(p.cpus_truncated);
    EXPECT_EQ(p.uart.mmio.base.value(), 0x1FE0'01E0u);
    EXPECT_EQ(p.uart.clock_hz, 100'000'000u);
    EXPECT_EQ(p.pch_pic.base.value(), 0x1000'0000u); // "loongarch,ls7a"
    EXPECT_EQ(p.fw_cfg.base.value(), 0x1E02'0000u);
    EXPECT_EQ(p.fw_cfg.size, 0x18u);
    EXPECT_EQ(p.ram_count, 0u); // QEMU 7.2's DTB has no /memory: RAM comes from etc/memmap
    EXPECT_FALSE(p.uart.has_pic_line); // nor the serial's interrupt: host.cpp knows the board's line
    // cxvisor's own devices are owned with the reason; the PCI host (dma-coherent) as DMA-capable.
    bool uart = false, pic = false, pci = false;
    for (u32 i = 0; i < p.owned_count; ++i) {
        const OwnedRange& o = p.owned[i];
        if (o.range.base.value() == 0x1FE0'01E0) uart = o.kind == OwnedKind::HostDevice;
        if (o.range.base.value() == 0x1000'0000) pic = o.kind == OwnedKind::HostDevice;
        if (o.range.base.value() == 0x2000'0000) pci = o.kind == OwnedKind::DmaCapable;
    }
    EXPECT_TRUE(uart);
    EXPECT_TRUE(pic);
    EXPECT_TRUE(pci);
}

TEST_F(LaBootInfo, MissingPiecesAreNamed) {
    // A tree without the console: the reader names what it looked for.
    std::vector<u8> copy = m_dtb;
    auto f = Fdt::create(copy.data(), copy.size());
    ASSERT_TRUE(f.is_ok());
    const char* what = nullptr;
    auto r = read_la_platform(f.value(), 0, &what);
    ASSERT_TRUE(r.is_ok());
    // Corrupt the console's compatible ("ns16550a" -> "xs16550a"): no console any more.
    const std::string needle = "ns16550a";
    auto it = std::search(copy.begin(), copy.end(), needle.begin(), needle.end());
    ASSERT_NE(it, copy.end());
    *it = 'x';
    auto g = Fdt::create(copy.data(), copy.size());
    ASSERT_TRUE(g.is_ok());
    auto bad = read_la_platform(g.value(), 0, &what);
    ASSERT_TRUE(bad.is_error());
    EXPECT_EQ(bad.error(), Error::NotFound);
    EXPECT_STREQ(what, "the ns16550a console (stdout-path)");
}

TEST(LaMemmap, RamBanksFromQemu72) {
    LaPlatformInfo info;
    ASSERT_TRUE(la_memmap_ram(MEMMAP_1G, sizeof MEMMAP_1G, info).is_ok());
    ASSERT_EQ(info.ram_count, 2u);
    EXPECT_EQ(info.ram[0].base.value(), 0u);
    EXPECT_EQ(info.ram[0].size, 256ull << 20);
    EXPECT_EQ(info.ram[1].base.value(), 0x9000'0000u);
    EXPECT_EQ(info.ram[1].size, 768ull << 20);
    ASSERT_EQ(info.owned_count, 2u); // both banks are host RAM no VM may be handed as a device
    EXPECT_EQ(info.owned[1].kind, OwnedKind::Ram);

    LaPlatformInfo big;
    ASSERT_TRUE(la_memmap_ram(MEMMAP_4G, sizeof MEMMAP_4G, big).is_ok());
    ASSERT_EQ(big.ram_count, 2u);
    EXPECT_EQ(big.ram[1].size, 0xF000'0000ull); // 4 GiB - the 256 MiB low bank
}

TEST(LaMemmap, MalformedFilesAreRefused) {
    LaPlatformInfo a;
    EXPECT_EQ(la_memmap_ram(MEMMAP_1G, sizeof MEMMAP_1G - 1, a).error(), Error::BadFormat); // not whole entries
    // An entry that wraps around the address space.
    u8 wrap[24] = {};
    for (int i = 0; i < 8; ++i) wrap[i] = 0xFF, wrap[8 + i] = 0xFF;
    wrap[16] = 1;
    LaPlatformInfo b;
    EXPECT_EQ(la_memmap_ram(wrap, sizeof wrap, b).error(), Error::BadFormat);
    // Only non-RAM entries: no RAM at all.
    u8 reserved[24] = {};
    reserved[11] = 0x10, reserved[16] = 2;
    LaPlatformInfo c;
    EXPECT_EQ(la_memmap_ram(reserved, sizeof reserved, c).error(), Error::NotFound);
}

// The QEMU the LVZ work runs on (../shared/tools/qemu-lvz, QEMU 9.0 based; its DTB decompiled into
// data/qemu90_lvz_loongarch_virt_smp4.dts): /memory nodes, Linux's PCH-PIC binding, the serial's
// interrupt stated.
class LaBootInfoQemu90 : public LaBootInfo {
protected:
    void SetUp() override { load("qemu90_lvz_loongarch_virt_smp4.dtb"); }
};

TEST_F(LaBootInfoQemu90, ReadsLinuxBindingsAndTheConsoleLine) {
    const char* what = nullptr;
    auto r = read_la_platform(*m_fdt, 0, &what);
    ASSERT_TRUE(r.is_ok()) << (what ? what : "");
    const LaPlatformInfo& p = r.value();
    EXPECT_EQ(p.cpu_count, 4u);
    EXPECT_EQ(p.pch_pic.base.value(), 0x1000'0000u); // "loongson,pch-pic-1.0"
    EXPECT_EQ(p.pch_pic.size, 0x400u);
    ASSERT_TRUE(p.uart.has_pic_line);
    EXPECT_EQ(p.uart.pic_line, 2u); // interrupts = <2 4>, parent the PCH-PIC
    // RAM is in the DTB there: the generic reader takes it (host.cpp tries it before fw_cfg).
    DtHostInfo info;
    ASSERT_TRUE((DtHostReader{*m_fdt, &what}.read_memory(info)).is_ok());
    u64 total = 0;
    for (u32 i = 0; i < info.ram_count; ++i) total += info.ram[i].size;
    EXPECT_EQ(total, 1024ull << 20);
}
