// read_platform() on QEMU virt (values checked with `dtc -I dtb -O dts` on the dumps) and on the
// hand-written board variants.
#include "arch/aarch64/dt_platform.hpp"
#include "dts_board.hpp"
#include "fdt_fixtures.hpp"
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>
#include <gtest/gtest.h>

// QEMU's virt board boots on CPU 0 (MPIDR affinity 0) unless a test says otherwise.
static Result<PlatformInfo> read(const std::vector<u8>& blob, const char** what = nullptr, u64 boot_mpidr = 0) {
    auto f = Fdt::create(blob.data(), blob.size());
    EXPECT_TRUE(f.is_ok());
    return read_platform(f.value(), boot_mpidr, what);
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

// --- the host-owned range list (owned[]): what no VM may be given, and why -----------------------

static bool owns_any(const PlatformInfo& p, u64 base, u64 size) {
    for (u32 i = 0; i < p.owned_count; ++i)
        if (p.owned[i].range.overlaps(HostPhysAddr(base), size)) return true;
    return false;
}

struct WantOwned {
    u64 base, size;
    OwnedKind kind;
    std::string node;
    const char* why;
};
// Every wanted entry is in owned[] exactly (range, kind, node, reason), and nothing else is.
static void expect_owned(const PlatformInfo& p, const std::vector<WantOwned>& want) {
    EXPECT_FALSE(p.owned_incomplete);
    EXPECT_EQ(p.owned_count, want.size());
    for (const WantOwned& w : want) {
        const OwnedRange* o = nullptr;
        for (u32 i = 0; i < p.owned_count && !o; ++i)
            if (p.owned[i].range.base.value() == w.base && p.owned[i].range.size == w.size) o = &p.owned[i];
        ASSERT_NE(o, nullptr) << std::hex << w.base << "+" << w.size << " " << w.node;
        EXPECT_EQ(o->kind, w.kind) << w.node;
        EXPECT_EQ(o->node, w.node);
        EXPECT_STREQ(o->why, w.why) << w.node;
    }
}

constexpr OwnedKind kRam = OwnedKind::Ram, kHost = OwnedKind::HostDevice, kDma = OwnedKind::DmaCapable;
const char* const kRamWhy = "host RAM (cxvisor's and the VMs' memory)";
const char* const kGicd = "the host GIC's distributor (GICD), which cxvisor drives";
const char* const kGicr = "the host GIC's redistributors (GICR), which cxvisor drives";
const char* const kIts = "the host GIC's ITS (arm,gic-v3-its), which also writes its tables to host memory";
const char* const kConsole = "cxvisor's console UART";
const char* const kFwCfg =
    "a DMA-capable device (qemu,fw-cfg-mmio, which has a DMA interface): cxvisor programs no IOMMU yet";
const char* const kVirtio = "a DMA-capable device (virtio,mmio): cxvisor programs no IOMMU yet";
const char* const kCoherent = "a DMA-capable device (dma-coherent): cxvisor programs no IOMMU yet";
const char* const kPci =
    "a PCI host bridge (device_type \"pci\"), whose devices are bus masters: cxvisor programs no IOMMU yet";
// QEMU virt's PCIe host bridge: the ECAM and its I/O, 32-bit and 64-bit MMIO windows.
const WantOwned kQemuPci[] = {{0x4010000000, 0x10000000, kDma, "pcie@10000000", kPci},
                              {0x3eff0000, 0x10000, kDma, "pcie@10000000", kPci},
                              {0x10000000, 0x2eff0000, kDma, "pcie@10000000", kPci},
                              {0x8000000000, 0x8000000000, kDma, "pcie@10000000", kPci}};

TEST(DtPlatformOwned, QemuVirtGicConsoleRamAndDmaCapableDevices) {
    auto blob = qemu_dtb(4);
    PlatformInfo p = read(blob).release_value();
    std::vector<WantOwned> want = {
        {0x40000000, 1 * GiB, kRam, "memory@40000000", kRamWhy},
        {0x08000000, 0x10000, kHost, "intc@8000000", kGicd},
        {0x080a0000, 0xf60000, kHost, "intc@8000000", kGicr},
        {0x08080000, 0x20000, kHost, "its@8080000", kIts},
        {0x09000000, 0x1000, kHost, "pl011@9000000", kConsole},
        {0x09020000, 0x18, kDma, "fw-cfg@9020000", kFwCfg},
    };
    want.insert(want.end(), std::begin(kQemuPci), std::end(kQemuPci));
    for (u64 slot = 0; slot < 32; ++slot) {
        char node[32];
        snprintf(node, sizeof node, "virtio_mmio@%llx", (unsigned long long)(0x0a000000 + slot * 0x200));
        want.push_back({0x0a000000 + slot * 0x200, 0x200, kDma, node, kVirtio});
    }
    expect_owned(p, want);
    // What a VM may have: the PL031 RTC (the passthrough system tests use it), PL061 GPIO, flash.
    EXPECT_FALSE(owns_any(p, 0x09010000, 0x1000));
    EXPECT_FALSE(owns_any(p, 0x09030000, 0x1000));
    EXPECT_FALSE(owns_any(p, 0x00000000, 0x8000000));
}

TEST(DtPlatformOwned, EveryGicFrameAndEveryKindOfDmaEvidence) {
    auto blob = board_dtb("owned");
    const char* what = nullptr;
    auto r = read(blob, &what);
    ASSERT_TRUE(r.is_ok()) << what;
    const PlatformInfo& p = r.value();
    const char* gic = "interrupt-controller@8000000";
    std::vector<WantOwned> want = {
        {0x40000000, 0x40000000, kRam, "memory@40000000", kRamWhy},
        // A disabled memory node is not used, but it is still no device a VM could be given.
        {0x200000000, 0x100000, kRam, "memory@200000000", kRamWhy},
        {0x08000000, 0x10000, kHost, gic, kGicd},
        {0x080a0000, 0xf60000, kHost, gic, kGicr},
        {0x0a000000, 0x200000, kHost, gic, kGicr},
        {0x08010000, 0x2000, kHost, gic, "the host GIC's GICv2-compatible CPU interface (GICC)"},
        {0x08030000, 0x2000, kHost, gic, "the host GIC's virtual interface control (GICH)"},
        {0x08040000, 0x2000, kHost, gic, "the host GIC's virtual CPU interface (GICV)"},
        {0x08080000, 0x20000, kHost, "msi-controller@8080000", kIts},
        {0x08020000, 0x1000, kHost, "v2m@8020000", "a GICv2m MSI frame of the host GIC (arm,gic-v2m-frame)"},
        {0x09000000, 0x1000, kHost, "uart@9000000", kConsole},
        {0x09020000, 0x18, kDma, "fw-cfg@9020000", kFwCfg},
        {0x0b000000, 0x200, kDma, "virtio_mmio@b000000", kVirtio},
        {0x0b000200, 0x200, kDma, "virtio_mmio@b000200", kVirtio}, // disabled: still a bus master
        {0x09100000, 0x1000, kDma, "dma-controller@9100000", "a DMA controller (arm,pl330): cxvisor programs no IOMMU yet"},
        {0x09110000, 0x1000, kDma, "dma@9110000", "a DMA controller (#dma-cells): cxvisor programs no IOMMU yet"},
        {0x09120000, 0x20000, kDma, "iommu@9120000",
         "an IOMMU (#iommu-cells), which decides what memory DMA-capable devices reach"},
        {0x09140000, 0x1000, kDma, "ethernet@9140000",
         "a DMA-capable device (iommus): it sits behind an IOMMU, but cxvisor programs no IOMMU yet"},
        {0x09150000, 0x1000, kDma, "msi-device@9150000",
         "a DMA-capable device (msi-parent: it writes MSIs to memory): cxvisor programs no IOMMU yet"},
        {0x09160000, 0x1000, kDma, "coherent@9160000", kCoherent},
        {0x09170000, 0x1000, kDma, "noncoherent@9170000",
         "a DMA-capable device (dma-noncoherent): cxvisor programs no IOMMU yet"},
        {0x0c100000, 0x1000, kDma, "soc@c000000", "a DMA-capable bus (dma-ranges): cxvisor programs no IOMMU yet"},
        // Behind the simple-bus: the child's 0x2000 is CPU address 0x0c002000.
        {0x0c002000, 0x1000, kDma, "usb@2000", kCoherent},
    };
    want.insert(want.end(), std::begin(kQemuPci), std::end(kQemuPci)); // the fixture copies QEMU's bridge
    expect_owned(p, want);
    // No evidence: the second UART, the RTC, a DMA client, a plain device behind the DMA bus.
    EXPECT_FALSE(owns_any(p, 0x09040000, 0x1000));
    EXPECT_FALSE(owns_any(p, 0x09010000, 0x1000));
    EXPECT_FALSE(owns_any(p, 0x09180000, 0x1000));
    EXPECT_FALSE(owns_any(p, 0x0c003000, 0x1000));
}

// More ranges than the list holds: it says it is incomplete (cxvisor then refuses every host range)
// instead of silently dropping some.
TEST(DtPlatformOwned, TooManyRangesMarkTheListIncomplete) {
    // RAM, GICD, GICR and the console take 4 entries: this many virtio slots fill the list exactly.
    const unsigned fit = PlatformInfo::kMaxOwned - 4;
    for (unsigned slots : {fit, fit + 1}) {
        std::string dtb = compile_dts(std::string(FDT_FIXTURE_BIN) + "/many", minimal_board_dts(virtio_nodes(slots)));
        ASSERT_FALSE(dtb.empty());
        auto blob = load_dtb(dtb);
        PlatformInfo p = read(blob).release_value();
        EXPECT_EQ(p.owned_count, PlatformInfo::kMaxOwned);
        EXPECT_EQ(p.owned_incomplete, slots > fit) << slots << " virtio slots";
    }
}

// A PCI host bridge whose windows cannot be read: its config space is listed, and the list says it
// is incomplete, since the windows (where bus-master devices sit) are unknown.
TEST(DtPlatformOwned, UnreadablePciWindowsMarkTheListIncomplete) {
    const char* bridge = "pcie@30000000 { device_type = \"pci\"; #address-cells = <3>; #size-cells = <2>;\n"
                         "  reg = <0x30000000 0x1000000>; ranges = <0x02000000 0x0 0x40000000>; };\n";
    std::string dtb = compile_dts(std::string(FDT_FIXTURE_BIN) + "/badpci", minimal_board_dts(bridge));
    ASSERT_FALSE(dtb.empty());
    auto blob = load_dtb(dtb);
    PlatformInfo p = read(blob).release_value();
    EXPECT_TRUE(p.owned_incomplete);
    EXPECT_TRUE(owns_any(p, 0x30000000, 0x1000));
}

// A host device's interrupt as a GIC INTID (arch::dt_device_irq on aarch64): SPIs only.
TEST(DtPlatform, DeviceInterruptsAreSpis) {
    const auto blob = qemu_dtb(2);
    auto f = Fdt::create(blob.data(), blob.size());
    ASSERT_TRUE(f.is_ok());
    const Fdt& fdt = f.value();
    auto node = [&](const char* path) { return node_at(fdt, path); };
    EXPECT_EQ(gic_device_irq(fdt, node("/virtio_mmio@a000000")), 48u);  // <0 0x10 1>
    EXPECT_EQ(gic_device_irq(fdt, node("/virtio_mmio@a003e00")), 79u);  // <0 0x2f 1>
    EXPECT_EQ(gic_device_irq(fdt, node("/pl011@9000000")), 33u);
    EXPECT_EQ(gic_device_irq(fdt, node("/timer")), 0u) << "PPIs are a CPU's own, not a device's";
    EXPECT_EQ(gic_device_irq(fdt, node("/memory@40000000")), 0u) << "no interrupts";
}

// More CPUs than cxvisor supports: the first ones listed, and always the boot CPU (the last slot
// when the DTB lists it beyond them; kernel/cpu_slots.hpp). Before, a boot CPU past the first
// kMaxCpus left cxvisor nowhere to run ("the boot CPU is not among the first 16 CPUs").
TEST(DtPlatform, MoreCpusThanSupportedKeepTheBootCpu) {
    // The minimal board with cpu@0..cpu@19 in place of its one CPU.
    const std::string one = "cpu@0 { device_type = \"cpu\"; reg = <0>; }; ";
    std::string cpus, dts = minimal_board_dts("");
    for (unsigned i = 0; i < 20; ++i) cpus += "cpu@" + std::to_string(i) + " { device_type = \"cpu\"; reg = <" + std::to_string(i) + ">; }; ";
    ASSERT_NE(dts.find(one), std::string::npos);
    dts.replace(dts.find(one), one.size(), cpus);
    std::string dtb = compile_dts(std::string(FDT_FIXTURE_BIN) + "/cpus20", dts);
    ASSERT_FALSE(dtb.empty());
    auto blob = load_dtb(dtb);
    constexpr u32 kMax = PlatformInfo::kMaxCpus;
    static_assert(kMax < 20);
    for (u64 boot : {u64(0), u64(kMax - 1), u64(kMax), u64(19), CpuSlots::kAnyBootCpu}) {
        PlatformInfo p = read(blob, nullptr, boot).release_value();
        ASSERT_EQ(p.cpu_count, kMax) << "boot " << boot;
        EXPECT_TRUE(p.cpus_truncated);
        for (u32 i = 0; i + 1 < kMax; ++i) EXPECT_EQ(p.cpus[i].mpidr, i);
        const bool beyond = boot != CpuSlots::kAnyBootCpu && boot >= kMax;
        EXPECT_EQ(p.cpus[kMax - 1].mpidr, beyond ? boot : kMax - 1) << "boot " << boot;
    }
}
