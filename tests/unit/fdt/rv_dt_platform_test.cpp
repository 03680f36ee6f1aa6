// read_rv_platform() on QEMU's riscv64 virt (values checked with `dtc -I dtb -O dts` on the dumps)
// and on the hand-written riscv-board variants; riscv_isa_has() on ISA strings.
#include "arch/riscv64/dt_platform.hpp"
#include "fdt_fixtures.hpp"
#include <string>
#include <vector>
#include <gtest/gtest.h>

namespace {

std::vector<u8> rv_qemu_dtb(int harts) {
    return load_dtb(std::string(FDT_FIXTURE_SRC) + "/qemu-virt-riscv64-" + std::to_string(harts) + "cpu.dtb");
}

// The boot hart is whichever won OpenSBI's lottery: hart 0 unless a test says otherwise.
Result<RvPlatformInfo> read(const std::vector<u8>& blob, const char** what = nullptr, u64 boot_hartid = 0) {
    auto f = Fdt::create(blob.data(), blob.size());
    EXPECT_TRUE(f.is_ok());
    return read_rv_platform(f.value(), boot_hartid, what);
}

const OwnedRange* owned_at(const RvPlatformInfo& p, u64 base) {
    for (u32 i = 0; i < p.owned_count; ++i)
        if (p.owned[i].range.base.value() == base) return &p.owned[i];
    return nullptr;
}

} // namespace

TEST(RvIsa, SingleLettersAndMultiLetterExtensions) {
    const char* qemu = "rv64imafdch_zicsr_zifencei_zihintpause_zba_zbb_zbc_zbs_sstc";
    EXPECT_TRUE(riscv_isa_has(qemu, "h"));
    EXPECT_TRUE(riscv_isa_has(qemu, "i"));
    EXPECT_TRUE(riscv_isa_has(qemu, "sstc"));
    EXPECT_TRUE(riscv_isa_has(qemu, "zicsr"));
    EXPECT_FALSE(riscv_isa_has(qemu, "v"));
    EXPECT_FALSE(riscv_isa_has(qemu, "z"));      // a letter of "zicsr" is not the single-letter z
    EXPECT_FALSE(riscv_isa_has(qemu, "sst"));    // a prefix of an extension name is not that extension
    EXPECT_FALSE(riscv_isa_has(qemu, "svpbmt"));
    EXPECT_FALSE(riscv_isa_has("rv64imafdc_zicsr_hx", "h")); // "h" only counts among the single letters
    EXPECT_TRUE(riscv_isa_has("RV64IMAFDCH_Sstc", "h"));     // case-insensitive
    EXPECT_TRUE(riscv_isa_has("RV64IMAFDCH_Sstc", "sstc"));
    EXPECT_FALSE(riscv_isa_has("rv64gc", "h"));
    EXPECT_FALSE(riscv_isa_has("", "h"));
    EXPECT_FALSE(riscv_isa_has("x86", "h"));
    EXPECT_FALSE(riscv_isa_has(qemu, ""));
}

TEST(RvDtPlatform, QemuVirt4Harts) {
    const char* what = "untouched";
    auto blob = rv_qemu_dtb(4);
    auto r = read(blob, &what);
    ASSERT_TRUE(r.is_ok()) << what;
    const RvPlatformInfo& p = r.value();
    ASSERT_EQ(p.ram_count, 1u);
    expect_range(p.ram[0], 0x80000000, 1 * GiB);
    EXPECT_EQ(p.reserved_count, 0u); // QEMU's own dump: OpenSBI adds its reserved-memory later
    EXPECT_EQ(p.timebase_hz, 10'000'000u);
    ASSERT_EQ(p.hart_count, 4u);
    EXPECT_FALSE(p.harts_truncated);
    EXPECT_EQ(p.harts_without_h, 0u);
    for (u32 i = 0; i < 4; ++i) {
        EXPECT_EQ(p.harts[i].hartid, i);
        EXPECT_EQ(p.harts[i].s_context, 2 * i + 1); // <cpuN-intc 11>, <cpuN-intc 9> per hart
        EXPECT_TRUE(p.harts[i].sstc);
        EXPECT_EQ(p.harts[i].mmu_va_bits, 48u); // QEMU 7.2 writes mmu-type = "riscv,sv48"
    }
    expect_range(p.plic.mmio, 0x0c000000, 0x600000);
    EXPECT_EQ(p.plic.ndev, 96u);
    expect_range(p.uart.mmio, 0x10000000, 0x100);
    EXPECT_EQ(p.uart.irq, 10u);
    EXPECT_EQ(p.uart.reg_shift, 0u);
    EXPECT_EQ(p.uart.reg_io_width, 1u);

    // Host-owned: RAM, the PLIC, the console, the CLINT, the test finisher, fw-cfg, every
    // virtio-mmio slot, the PCIe bridge's config space and its windows.
    EXPECT_FALSE(p.owned_incomplete);
    auto expect_owned = [&](u64 base, u64 size, OwnedKind kind, const char* node) {
        const OwnedRange* o = owned_at(p, base);
        ASSERT_NE(o, nullptr) << std::hex << base;
        EXPECT_EQ(o->range.size, size) << std::hex << base;
        EXPECT_EQ(o->kind, kind) << std::hex << base;
        EXPECT_STREQ(o->node, node);
    };
    expect_owned(0x80000000, 1 * GiB, OwnedKind::Ram, "memory@80000000");
    expect_owned(0x0c000000, 0x600000, OwnedKind::HostDevice, "plic@c000000");
    expect_owned(0x10000000, 0x100, OwnedKind::HostDevice, "serial@10000000");
    expect_owned(0x02000000, 0x10000, OwnedKind::HostDevice, "clint@2000000");
    expect_owned(0x00100000, 0x1000, OwnedKind::HostDevice, "test@100000");
    expect_owned(0x10100000, 0x18, OwnedKind::DmaCapable, "fw-cfg@10100000");
    for (u64 slot = 0; slot < 8; ++slot)
        expect_owned(0x10001000 + slot * 0x1000, 0x1000, OwnedKind::DmaCapable,
                     ("virtio_mmio@1000" + std::to_string(slot + 1) + "000").c_str());
    expect_owned(0x30000000, 0x10000000, OwnedKind::DmaCapable, "pci@30000000");
    expect_owned(0x03000000, 0x10000, OwnedKind::DmaCapable, "pci@30000000");   // I/O window
    expect_owned(0x40000000, 0x40000000, OwnedKind::DmaCapable, "pci@30000000"); // 32-bit MMIO
    expect_owned(0x400000000, 0x400000000, OwnedKind::DmaCapable, "pci@30000000"); // 64-bit MMIO
    EXPECT_EQ(owned_at(p, 0x101000), nullptr);   // the RTC: a plain device a VM may be given
    EXPECT_EQ(owned_at(p, 0x20000000), nullptr); // the flash
    EXPECT_EQ(p.owned_count, 18u); // the 18 above, nothing else
}

TEST(RvMmuType, NamesAndBits) {
    EXPECT_EQ(riscv_mmu_type_bits("riscv,sv39"), 39u);
    EXPECT_EQ(riscv_mmu_type_bits("riscv,sv48"), 48u);
    EXPECT_EQ(riscv_mmu_type_bits("riscv,sv57"), 57u);
    EXPECT_EQ(riscv_mmu_type_bits("riscv,sv32"), 0u); // no RV64 paging mode
    EXPECT_EQ(riscv_mmu_type_bits("riscv,none"), 0u);
    EXPECT_EQ(riscv_mmu_type_bits("riscv,sv4"), 0u);
    EXPECT_EQ(riscv_mmu_type_bits("riscv,sv480"), 0u);
    EXPECT_EQ(riscv_mmu_type_bits(""), 0u);
    EXPECT_EQ(riscv_mmu_type_bits(nullptr), 0u);
}

// The guest DT's mmu-type is rewritten in place to what the harts offer (arch prepare_guest_dt):
// on QEMU's own tree every cpu node's "riscv,sv48" becomes "riscv,sv57", and the platform reader
// then reads 57 on each; nothing else in the blob changes.
TEST(RvMmuType, RewrittenInPlaceOnEveryCpu) {
    auto blob = rv_qemu_dtb(4);
    const std::vector<u8> before = blob;
    EXPECT_EQ(fdt_set_mmu_type(blob.data(), blob.size(), 57), 4u);
    auto r = read(blob);
    ASSERT_TRUE(r.is_ok());
    for (u32 i = 0; i < 4; ++i) EXPECT_EQ(r.value().harts[i].mmu_va_bits, 57u);
    usize changed = 0;
    for (usize i = 0; i < blob.size(); ++i) changed += blob[i] != before[i];
    EXPECT_EQ(changed, 4u * 2); // "48" -> "57" in four nodes
    EXPECT_EQ(fdt_set_mmu_type(blob.data(), blob.size(), 39), 4u);
    EXPECT_EQ(read(blob).value().harts[3].mmu_va_bits, 39u);
    // Not a mode: nothing written. Not an FDT, or cut short: left alone.
    EXPECT_EQ(fdt_set_mmu_type(blob.data(), blob.size(), 40), 0u);
    EXPECT_EQ(read(blob).value().harts[3].mmu_va_bits, 39u);
    std::vector<u8> junk(256, 0xa5);
    EXPECT_EQ(fdt_set_mmu_type(junk.data(), junk.size(), 57), 0u);
    EXPECT_EQ(fdt_set_mmu_type(blob.data(), blob.size() / 2, 57), 0u);
    EXPECT_EQ(read(blob).value().harts[0].mmu_va_bits, 39u);
}

TEST(RvDtPlatform, QemuVirt2Harts) {
    auto blob = rv_qemu_dtb(2);
    auto r = read(blob);
    ASSERT_TRUE(r.is_ok());
    ASSERT_EQ(r.value().hart_count, 2u);
    EXPECT_EQ(r.value().harts[1].hartid, 1u);
    EXPECT_EQ(r.value().harts[1].s_context, 3u);
}

TEST(RvDtPlatform, BoardHartsContextsAndConsole) {
    const char* what = "untouched";
    auto blob = load_dtb(std::string(FDT_FIXTURE_BIN) + "/riscv-board.dtb");
    auto r = read(blob, &what);
    ASSERT_TRUE(r.is_ok()) << what;
    const RvPlatformInfo& p = r.value();
    // Hart 2 has no H and hart 9 is disabled: harts 5 and 7 remain, in DT order.
    EXPECT_EQ(p.harts_without_h, 1u);
    ASSERT_EQ(p.hart_count, 2u);
    EXPECT_EQ(p.harts[0].hartid, 5u);
    EXPECT_EQ(p.harts[0].s_context, 5u); // from riscv,isa-extensions
    EXPECT_TRUE(p.harts[0].sstc);
    EXPECT_EQ(p.harts[1].hartid, 7u);
    EXPECT_EQ(p.harts[1].s_context, 1u); // contexts are listed in another order than the harts
    EXPECT_TRUE(p.harts[1].sstc);        // "RV64IMAFDCH_..._Sstc": upper case
    EXPECT_EQ(p.timebase_hz, 1'000'000u); // from the cpu nodes: /cpus has none
    ASSERT_EQ(p.reserved_count, 1u);
    expect_range(p.reserved[0], 0x80000000, 0x40000);
    EXPECT_EQ(p.plic.ndev, 53u);
    // stdout-path names the second UART, compatible with ns16550a in second place.
    expect_range(p.uart.mmio, 0x10010000, 0x100);
    EXPECT_EQ(p.uart.irq, 40u);
    EXPECT_EQ(p.uart.reg_shift, 2u);
    EXPECT_EQ(p.uart.reg_io_width, 4u);
    const OwnedRange* aclint = owned_at(p, 0x2000000);
    ASSERT_NE(aclint, nullptr);
    EXPECT_EQ(aclint->kind, OwnedKind::HostDevice);
    EXPECT_EQ(owned_at(p, 0x10000000), nullptr); // the other UART is not cxvisor's
    ASSERT_NE(owned_at(p, 0x10010000), nullptr);
}

TEST(RvDtPlatform, BoardWithoutSstcOnOneHart) {
    auto blob = load_dtb(std::string(FDT_FIXTURE_BIN) + "/riscv-board-no-sstc.dtb");
    auto r = read(blob);
    ASSERT_TRUE(r.is_ok());
    EXPECT_TRUE(r.value().harts[0].sstc);
    EXPECT_FALSE(r.value().harts[1].sstc); // host.cpp then uses SBI TIME on every hart
}

TEST(RvDtPlatform, HartWithoutSModeContextIsAnError) {
    const char* what = nullptr;
    auto blob = load_dtb(std::string(FDT_FIXTURE_BIN) + "/riscv-board-no-s-context.dtb");
    auto r = read(blob, &what);
    ASSERT_TRUE(r.is_error());
    EXPECT_EQ(r.error(), Error::NotFound);
    ASSERT_NE(what, nullptr);
    EXPECT_NE(std::string(what).find("S-mode context"), std::string::npos) << what;
}

TEST(RvDtPlatform, AarchQemuDtbHasNoRiscvHarts) {
    // The other ISA's machine: a clear "no harts with H", not a crash or a half-filled result.
    const char* what = nullptr;
    auto blob = qemu_dtb(2);
    auto r = read(blob, &what);
    ASSERT_TRUE(r.is_error());
    EXPECT_EQ(r.error(), Error::NotFound);
    EXPECT_NE(std::string(what).find("H extension"), std::string::npos) << what;
}

// A host device's interrupt as a PLIC source (arch::dt_device_irq on riscv64): QEMU virt's
// virtio-mmio slots are sources 1..8 (0x10001000 + n * 0x1000 is source n + 1), its UART 10. The
// host-disk driver once read only GIC specifiers, so on riscv64 it never had an interrupt and polled.
TEST(RvDtPlatform, DeviceInterruptsArePlicSources) {
    const auto blob = rv_qemu_dtb(2);
    auto f = Fdt::create(blob.data(), blob.size());
    ASSERT_TRUE(f.is_ok());
    const Fdt& fdt = f.value();
    auto node = [&](const char* path) { return node_at(fdt, path); };
    EXPECT_EQ(rv_device_irq(fdt, node("/soc/virtio_mmio@10001000")), 1u);
    EXPECT_EQ(rv_device_irq(fdt, node("/soc/virtio_mmio@10008000")), 8u);
    EXPECT_EQ(rv_device_irq(fdt, node("/soc/serial@10000000")), 10u);
    EXPECT_EQ(rv_device_irq(fdt, node("/soc/plic@c000000")), 0u) << "the PLIC's own interrupts-extended";
    EXPECT_EQ(rv_device_irq(fdt, node("/memory@80000000")), 0u) << "no interrupts";
}

// QEMU's virt board with 20 harts (tests/unit/fdt/CMakeLists.txt): cxvisor takes 16 of them, and
// always the hart OpenSBI booted it on, which may be any of the 20 (its boot lottery). Everything
// read per hart (PLIC context, Sstc, mmu-type) belongs to the hart in the slot. Before, a boot hart
// past the first 16 left cxvisor nowhere to run; system.rv-many-cpus-20 failed that way in CI.
TEST(RvDtPlatform, QemuVirt20HartsKeepTheBootHart) {
    const auto blob = rv_qemu_dtb(20);
    constexpr u32 kMax = RvPlatformInfo::kMaxCpus;
    static_assert(kMax < 20);
    for (u64 boot : {u64(0), u64(kMax - 1), u64(kMax), u64(18), CpuSlots::kAnyBootCpu}) {
        const char* what = "untouched";
        auto r = read(blob, &what, boot);
        ASSERT_TRUE(r.is_ok()) << what;
        const RvPlatformInfo& p = r.value();
        ASSERT_EQ(p.hart_count, kMax) << "boot hart " << boot;
        EXPECT_TRUE(p.harts_truncated);
        const bool beyond = boot != CpuSlots::kAnyBootCpu && boot >= kMax;
        for (u32 i = 0; i < kMax; ++i) {
            const u64 hart = i == kMax - 1 && beyond ? boot : i;
            EXPECT_EQ(p.harts[i].hartid, hart) << "boot hart " << boot << ", slot " << i;
            EXPECT_EQ(p.harts[i].s_context, 2 * hart + 1) << "boot hart " << boot << ", slot " << i;
            EXPECT_TRUE(p.harts[i].sstc);
            EXPECT_EQ(p.harts[i].mmu_va_bits, 48u);
        }
    }
}
