// The x86_64 boot parsers (src/arch/x86_64/boot_info.hpp) on what QEMU 7.2's pc machine really
// hands over (data/qemu72_pc_smp4_1g.inc: the Multiboot information and memory map, the BIOS area
// word, the RSDP and the ACPI tables of a 4-CPU, 1 GiB run), and on damaged copies of it.
#include "arch/x86_64/boot_info.hpp"
#include <cstring>
#include <gtest/gtest.h>
#include <vector>

namespace {

struct RecordedChunk {
    u64 pa;
    const unsigned char* bytes;
    usize size;
};
#include "data/qemu72_pc_smp4_1g.inc"

// The machine's memory as the recording saw it: low memory [0, 1 MiB) and QEMU's ACPI area
// [0x3ffe0000, 0x40000000) (the last 128 KiB below 1 GiB, e820 type 2), zero where nothing was
// recorded; anything else is not readable.
struct Memory {
    static constexpr u64 ACPI_BASE = 0x3ffe'0000;
    std::vector<u8> low = std::vector<u8>(0x10'0000), acpi = std::vector<u8>(0x2'0000);
    Memory() {
        for (const auto& c : kQemuPcRecord) std::memcpy(at_mut(c.pa, c.size), c.bytes, c.size);
    }
    u8* at_mut(u64 pa, u64 len) {
        if (pa + len <= low.size()) return low.data() + pa;
        if (pa >= ACPI_BASE && pa + len <= ACPI_BASE + acpi.size()) return acpi.data() + (pa - ACPI_BASE);
        return nullptr;
    }
    static const u8* map(void* ctx, u64 pa, u64 len) { return static_cast<Memory*>(ctx)->at_mut(pa, len); }
    arch::PhysReader reader() { return {map, this}; }
    // Rewrites a table's checksum byte after a change, so that only the change is wrong.
    void fix_checksum(u64 table) {
        u8* t = at_mut(table, 36);
        u32 len;
        std::memcpy(&len, t + 4, 4);
        t[9] = 0;
        u8 sum = 0;
        for (u32 i = 0; i < len; ++i) sum = u8(sum + t[i]);
        t[9] = u8(-sum);
    }
};

constexpr u64 MBI = 0x9500, MMAP = 0x9000, RSDP = 0xf59d0;
constexpr u64 MADT = 0x3ffe'1aff; // in the recorded RSDT

TEST(X86Multiboot, RecordedQemuMapGivesRamAboveOneMiB) {
    Memory m;
    const char* what = nullptr;
    auto r = arch::multiboot_parse(m.reader(), MBI, &what);
    ASSERT_TRUE(r.is_ok()) << what;
    // e820 from SeaBIOS: [0, 0x9fc00) RAM (below 1 MiB: left out), [0x100000, 0x3ffe0000) RAM,
    // the rest reserved (the ACPI area, the BIOS ROM, the 64-bit PCI hole).
    ASSERT_EQ(r.value().ram_count, 1u);
    EXPECT_EQ(r.value().ram[0].base, HostPhysAddr(0x10'0000));
    EXPECT_EQ(r.value().ram[0].size, 0x3fee'0000ull);
    EXPECT_FALSE(r.value().ram_truncated);
    EXPECT_EQ(r.value().cmdline, 0x2e'd000ull); // QEMU puts it right after the image's BSS
}

TEST(X86Multiboot, RefusesMissingOrBrokenMaps) {
    const char* what = nullptr;
    {
        Memory m;
        EXPECT_EQ(arch::multiboot_parse(m.reader(), 0, &what).error(), Error::BadFormat);
        EXPECT_NE(std::strstr(what, "no Multiboot information"), nullptr);
    }
    {
        Memory m;
        m.at_mut(MBI, 4)[0] &= u8(~(1u << 6)); // flags: no memory map
        EXPECT_EQ(arch::multiboot_parse(m.reader(), MBI, &what).error(), Error::BadFormat);
        EXPECT_NE(std::strstr(what, "no memory map"), nullptr);
    }
    {
        Memory m;
        m.at_mut(MMAP + 24 * 6, 4)[0] = 40; // the last entry claims 40 bytes: past the map's end
        EXPECT_EQ(arch::multiboot_parse(m.reader(), MBI, &what).error(), Error::BadFormat);
        EXPECT_NE(std::strstr(what, "runs past"), nullptr);
    }
    {
        Memory m; // only the reserved ranges and the low RAM are left: nothing usable above 1 MiB
        m.at_mut(MMAP + 24 * 3 + 20, 4)[0] = 2;
        EXPECT_EQ(arch::multiboot_parse(m.reader(), MBI, &what).error(), Error::BadFormat);
        EXPECT_NE(std::strstr(what, "no usable RAM"), nullptr);
    }
}

TEST(X86Acpi, FindsTheRsdpInTheBiosArea) {
    Memory m;
    auto r = arch::acpi_find_rsdp(m.reader());
    ASSERT_TRUE(r.is_ok());
    EXPECT_EQ(r.value(), RSDP);
    // A copy with a bad checksum is not an RSDP.
    m.at_mut(RSDP + 8, 1)[0] ^= 1;
    EXPECT_EQ(arch::acpi_find_rsdp(m.reader()).error(), Error::NotFound);
}

TEST(X86Acpi, RecordedMadtAndFadt) {
    Memory m;
    const char* what = nullptr;
    auto r = arch::acpi_parse(m.reader(), RSDP, &what);
    ASSERT_TRUE(r.is_ok()) << what;
    const arch::AcpiInfo& a = r.value();
    EXPECT_EQ(a.lapic_base, 0xFEE0'0000ull);
    ASSERT_EQ(a.cpu_count, 4u);
    for (u32 i = 0; i < 4; ++i) {
        EXPECT_EQ(a.cpus[i].apic_id, i);
        EXPECT_FALSE(a.cpus[i].x2apic);
    }
    ASSERT_EQ(a.ioapic_count, 1u);
    EXPECT_EQ(a.ioapics[0].id, 0u);
    EXPECT_EQ(a.ioapics[0].base, 0xFEC0'0000ull);
    EXPECT_EQ(a.ioapics[0].gsi_base, 0u);
    EXPECT_EQ(a.override_count, 5u);
    // The PIT's IRQ 0 is GSI 2; IRQ 9 (the SCI) is level, active high; COM1's IRQ 4 has no
    // override: GSI 4, edge, active high.
    const auto irq0 = arch::acpi_isa_irq(a, 0), irq9 = arch::acpi_isa_irq(a, 9), irq4 = arch::acpi_isa_irq(a, 4);
    EXPECT_EQ(irq0.gsi, 2u);
    EXPECT_FALSE(irq0.level);
    EXPECT_EQ(irq9.gsi, 9u);
    EXPECT_TRUE(irq9.level);
    EXPECT_FALSE(irq9.active_low);
    EXPECT_EQ(irq4.gsi, 4u);
    EXPECT_FALSE(irq4.level);
    EXPECT_FALSE(irq4.active_low);
    // PIIX4 PM at 0x600 (SeaBIOS): PM1a_CNT 0x604; QEMU's \_S5 is Package {0, 0, 0, 0}.
    EXPECT_EQ(a.pm1a_cnt, 0x604u);
    EXPECT_TRUE(a.s5_found);
    EXPECT_EQ(a.s5_slp_typ, 0u);
}

// Firmware with ACPI 2.0+ gives a revision-2 RSDP whose XSDT (64-bit entries) is used instead of
// the RSDT. QEMU 7.2's pc and q35 tables are revision 0, so this one is built here: an XSDT at
// 0x3ffe0000 (QEMU's FACS, not recorded: the parsers never read it) listing the recorded FACP and
// MADT, and the RSDP rewritten to revision 2 pointing at it, with an unreadable RSDT address to show
// that the RSDT is not used.
TEST(X86Acpi, RevisionTwoRsdpUsesTheXsdt) {
    Memory m;
    constexpr u64 XSDT = 0x3ffe'0000, FACP = 0x3ffe'1a8b;
    u8* x = m.at_mut(XSDT, 36 + 16);
    std::memcpy(x, "XSDT", 4);
    const u32 xlen = 36 + 16;
    std::memcpy(x + 4, &xlen, 4);
    x[8] = 1; // revision
    const u64 entries[2] = {FACP, MADT};
    std::memcpy(x + 36, entries, 16);
    m.fix_checksum(XSDT);
    u8* r = m.at_mut(RSDP, 36);
    r[15] = 2;                                      // revision 2
    std::memset(r + 16, 0xEE, 4);                   // the RSDT address: not to be used
    const u32 rlen = 36;
    std::memcpy(r + 20, &rlen, 4);                  // length
    std::memcpy(r + 24, &XSDT, 8);                  // XsdtAddress
    r[32] = 0;                                      // extended checksum (covers all 36 bytes)
    r[8] = 0;                                       // checksum (first 20 bytes)
    u8 sum = 0;
    for (u32 i = 0; i < 20; ++i) sum = u8(sum + r[i]);
    r[8] = u8(-sum);
    sum = 0;
    for (u32 i = 0; i < 36; ++i) sum = u8(sum + r[i]);
    r[32] = u8(-sum);
    const char* what = nullptr;
    auto a = arch::acpi_parse(m.reader(), RSDP, &what);
    ASSERT_TRUE(a.is_ok()) << what;
    EXPECT_EQ(a.value().cpu_count, 4u);
    EXPECT_EQ(a.value().pm1a_cnt, 0x604u);
    EXPECT_TRUE(a.value().s5_found);
    // The same RSDP with a broken extended checksum is refused.
    r[32] ^= 1;
    EXPECT_EQ(arch::acpi_parse(m.reader(), RSDP, &what).error(), Error::BadFormat);
}

TEST(X86Acpi, DisabledCpusAreLeftOut) {
    Memory m;
    m.at_mut(MADT + 44 + 8 * 2 + 4, 1)[0] = 0; // the third Processor Local APIC: neither enabled nor online capable
    m.fix_checksum(MADT);
    const char* what = nullptr;
    auto r = arch::acpi_parse(m.reader(), RSDP, &what);
    ASSERT_TRUE(r.is_ok()) << what;
    ASSERT_EQ(r.value().cpu_count, 3u);
    EXPECT_EQ(r.value().cpus[2].apic_id, 3u);
}

TEST(X86Acpi, RefusesDamagedTables) {
    const char* what = nullptr;
    {
        Memory m; // a MADT whose checksum fails is not used: no MADT
        m.at_mut(MADT + 40, 1)[0] ^= 2;
        EXPECT_EQ(arch::acpi_parse(m.reader(), RSDP, &what).error(), Error::NotFound);
        EXPECT_NE(std::strstr(what, "no valid MADT"), nullptr);
    }
    {
        Memory m; // an entry longer than what is left of the table
        m.at_mut(MADT + 44 + 1, 1)[0] = 200;
        m.fix_checksum(MADT);
        EXPECT_EQ(arch::acpi_parse(m.reader(), RSDP, &what).error(), Error::BadFormat);
        EXPECT_NE(std::strstr(what, "runs past"), nullptr);
    }
    {
        Memory m; // a zero-length entry would never advance
        m.at_mut(MADT + 44 + 1, 1)[0] = 0;
        m.fix_checksum(MADT);
        EXPECT_EQ(arch::acpi_parse(m.reader(), RSDP, &what).error(), Error::BadFormat);
    }
    {
        Memory m; // the RSDT beyond readable memory
        u8* p = m.at_mut(RSDP + 16, 4);
        p[3] = 0x7f;
        u8 sum = 0;
        m.at_mut(RSDP + 8, 1)[0] = 0; // recompute the RSDP checksum (byte 8) over its 20 bytes
        for (u32 i = 0; i < 20; ++i) sum = u8(sum + m.at_mut(RSDP, 20)[i]);
        m.at_mut(RSDP + 8, 1)[0] = u8(-sum);
        EXPECT_EQ(arch::acpi_parse(m.reader(), RSDP, &what).error(), Error::BadFormat);
        EXPECT_NE(std::strstr(what, "RSDT is not valid"), nullptr);
    }
}

} // namespace
