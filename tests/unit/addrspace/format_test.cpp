// Exact descriptor and register encodings of every ISA's formats, hand-computed from the field
// layouts: aarch64 from Arm ARM DDI0487 D8.3 (descriptors) and D19 (VTCR_EL2, TCR_EL2, MAIR_EL2);
// riscv64 from the RISC-V Privileged Spec 20211203, 4.4.1 (Sv39 PTE, figure 4.18), 4.1.11 (satp)
// and the G-stage tests below.
#include "arch/aarch64/el2_format.hpp"
#include "arch/riscv64/mmu_format.hpp"
#include "arch/riscv64/stage2_format.hpp"
#include "fakes.hpp"

using arch::El2Format;
using arch::Stage2Format;

TEST(Stage2Format, DescriptorEncodings) {
    // Page, RWX Normal: OA 0x4000_0000 | AF[10] 0x400 | SH[9:8]=0b11 0x300 | S2AP[7:6]=0b11 0xc0
    //                   | MemAttr[5:2]=0b1111 0x3c | [1:0]=0b11 page.  XN[54:53]=0b00.
    EXPECT_EQ(Stage2Format::make_page(HostPhysAddr(0x4000'0000), RWX), 0x0000'0000'4000'07ffull);
    // 2 MiB block, read-only Normal: S2AP=0b01 0x40 | 0x3c | 0x300 | 0x400 | [1:0]=0b01; XN[54:53]=0b10.
    EXPECT_EQ(Stage2Format::make_block(HostPhysAddr(0x4020'0000), MemFlags::Read), 0x0040'0000'4020'077dull);
    // 2 MiB block, RW Device-nGnRE: MemAttr=0b0001 0x04 | S2AP 0xc0 | 0x300 | 0x400 | 0b01; XN.
    EXPECT_EQ(Stage2Format::make_block(HostPhysAddr(0x0900'0000), RW | MemFlags::Device), 0x0040'0000'0900'07c5ull);
    // 1 GiB block, RW Normal, not executable: 0x3c | 0xc0 | 0x300 | 0x400 | 0b01 | bit 54.
    EXPECT_EQ(Stage2Format::make_block(HostPhysAddr(0x8000'0000), RW), 0x0040'0000'8000'07fdull);
    // No access at all still needs AF and the memory type: 0x3c | 0x300 | 0x400 | 0b11 | XN.
    EXPECT_EQ(Stage2Format::make_page(HostPhysAddr(0x1000), MemFlags::None), 0x0040'0000'0000'173full);
    // Table: next-level address | 0b11, no attributes.
    EXPECT_EQ(Stage2Format::make_table(HostPhysAddr(0x4010'0000)), 0x4010'0003ull);
    EXPECT_TRUE(Stage2Format::is_table(0x4010'0003, 2));
    EXPECT_FALSE(Stage2Format::is_table(0x4010'0003, 3)); // 0b11 at level 3 is a page
    EXPECT_TRUE(Stage2Format::is_block(0x0040'0000'4020'077d, 1));
    EXPECT_FALSE(Stage2Format::is_valid(0x0040'0000'4020'077c));
    for (u32 f = 0; f < 16; ++f) { // every flag combination decodes back
        const u64 d = Stage2Format::make_page(HostPhysAddr(0xfff'ffff'f000), MemFlags(f));
        EXPECT_EQ(Stage2Format::flags(d), MemFlags(f));
        EXPECT_EQ(Stage2Format::address(d).value(), 0xfff'ffff'f000ull);
    }
}

TEST(El2Format, DescriptorEncodingsAndMair) {
    // MAIR_EL2: Attr0[7:0] = 0x04 Device-nGnRE, Attr1[15:8] = 0xff Normal WB RA WA in+out.
    EXPECT_EQ(arch::mair_el2_value(), 0xff04ull);
    // Page RW Normal data: AttrIndx[4:2]=1 0x04 | AP[7:6]=0b01 (AP[1] RES1) 0x40 | SH 0x300 | AF 0x400
    //                      | 0b11 | XN[54].
    EXPECT_EQ(El2Format::make_page(HostPhysAddr(0x4020'0000), RW), 0x0040'0000'4020'0747ull);
    // Page RX Normal code: AP=0b11 read-only 0xc0 | 0x04 | 0x300 | 0x400 | 0b11, XN clear.
    EXPECT_EQ(El2Format::make_page(HostPhysAddr(0x4020'0000), MemFlags::Read | MemFlags::Exec), 0x4020'07c7ull);
    // 2 MiB block RW Device (GIC): AttrIndx=0 | AP 0x40 | 0x300 | 0x400 | 0b01 | XN.
    EXPECT_EQ(El2Format::make_block(HostPhysAddr(0x0800'0000), RW | MemFlags::Device), 0x0040'0000'0800'0741ull);
    // Read is implied at EL2.
    EXPECT_EQ(El2Format::flags(El2Format::make_page(HostPhysAddr(0), MemFlags::Exec)), MemFlags::Read | MemFlags::Exec);
}

TEST(Stage2Config, EveryPARange) {
    struct Row { u32 parange, ipa, start, entries, tables; u64 bytes, vtcr; };
    // VTCR_EL2 = T0SZ | SL0<<6 | IRGN0=01<<8 | ORGN0=01<<10 | SH0=11<<12 | TG0=00<<14 | PS<<16 | RES1 bit 31
    //          = 0x8000_3500 | T0SZ | SL0<<6 | PS<<16
    const Row rows[] = {
        {0, 32, 2, 2048, 4, 16384, 0x8000'3520}, // T0SZ 32, SL0 0b00 (level 2), 4 concatenated tables
        {1, 36, 1, 64, 1, 4096, 0x8001'355c},    // T0SZ 28, SL0 0b01
        {2, 40, 1, 1024, 2, 8192, 0x8002'3558},  // T0SZ 24, SL0 0b01, 2 concatenated tables
        {3, 42, 1, 4096, 8, 32768, 0x8003'3556}, // T0SZ 22, SL0 0b01, 8 concatenated tables
        {4, 44, 0, 32, 1, 4096, 0x8004'3594},    // T0SZ 20, SL0 0b10 (level 0): cortex-a72 in QEMU
        {5, 48, 0, 512, 1, 4096, 0x8005'3590},   // T0SZ 16
        {6, 48, 0, 512, 1, 4096, 0x8005'3590},   // 52-bit PA: capped at 48 (PS 0b101)
    };
    for (const Row& r : rows) {
        const auto c = arch::stage2_config(r.parange);
        SCOPED_TRACE(r.parange);
        EXPECT_EQ(c.ipa_bits, r.ipa);
        EXPECT_EQ(c.start_level, r.start);
        EXPECT_EQ(c.root_entries, r.entries);
        EXPECT_EQ(c.root_tables, r.tables);
        EXPECT_EQ(c.root_bytes, r.bytes);
        EXPECT_EQ(c.vtcr, r.vtcr);
    }
}

TEST(El2Config, TcrForEveryPARange) {
    struct Row { u32 parange, va, start, entries; u64 tcr; };
    // TCR_EL2 = T0SZ | IRGN0/ORGN0=01 | SH0=11 | TG0=00 | PS<<16 | RES1 bits 23, 31 = 0x8080_3500 | T0SZ | PS<<16
    const Row rows[] = {
        {0, 32, 1, 4, 0x8080'3520},  {1, 36, 1, 64, 0x8081'351c},  {2, 40, 0, 2, 0x8082'3518},
        {3, 42, 0, 8, 0x8083'3516},  {4, 44, 0, 32, 0x8084'3514},  {5, 48, 0, 512, 0x8085'3510},
        {6, 48, 0, 512, 0x8085'3510},
    };
    for (const Row& r : rows) {
        const auto c = arch::el2_config(r.parange);
        SCOPED_TRACE(r.parange);
        EXPECT_EQ(c.va_bits, r.va);
        EXPECT_EQ(c.start_level, r.start);
        EXPECT_EQ(c.root_entries, r.entries);
        EXPECT_EQ(arch::tcr_el2_value(r.parange), r.tcr);
    }
}

TEST(HostSv39Format, PteEncodings) {
    using F = arch::HostSv39Format;
    // PTE: PPN = PA >> 12 at bits 53:10 | D[7] 0x80 | A[6] 0x40 | G[5] 0 | U[4] 0 | X[3] | W[2] | R[1] | V[0].
    // Text page RX: PPN 0x80200 << 10 = 0x2008_0000 | 0x80 | 0x40 | X 0x8 | R 0x2 | V 0x1.
    EXPECT_EQ(F::make_page(HostPhysAddr(0x8020'0000), MemFlags::Read | MemFlags::Exec), 0x2008'00cbull);
    // Data page RW, never executable: 0x2008_0400 | D | A | W 0x4 | R | V.
    EXPECT_EQ(F::make_page(HostPhysAddr(0x8020'1000), RW), 0x2008'04c7ull);
    // Read-only: R alone (W without R is reserved, 4.4.1 table 4.5; every mapping is readable).
    EXPECT_EQ(F::make_page(HostPhysAddr(0x8030'0000), MemFlags::Read), 0x200c'00c3ull);
    EXPECT_EQ(F::make_page(HostPhysAddr(0x8030'0000), MemFlags::None), 0x200c'00c3ull);
    // 2 MiB megapage of device registers RW: RSW bit 8 (0x100) marks Device for cxvisor; the
    // hardware ignores it and takes the memory type from the PMAs.
    EXPECT_EQ(F::make_block(HostPhysAddr(0x1000'0000), RW | MemFlags::Device), 0x0400'01c7ull);
    // 1 GiB gigapage of RAM RW at 0x8000_0000: PPN 0x80000 << 10.
    EXPECT_EQ(F::make_block(HostPhysAddr(0x8000'0000), RW), 0x2000'00c7ull);
    // Pointer to the next level: V alone with the table's PPN (R = W = X = 0; A, D, U reserved 0).
    EXPECT_EQ(F::make_table(HostPhysAddr(0x8040'1000)), 0x2010'0401ull);
    EXPECT_TRUE(F::is_table(0x2010'0401, 1));
    EXPECT_TRUE(F::is_table(0x2010'0401, 2));
    EXPECT_FALSE(F::is_table(0x2010'0401, 3)); // the leaf level holds pages only
    EXPECT_FALSE(F::is_block(0x2010'0401, 2));
    EXPECT_TRUE(F::is_block(0x2000'00c7, 1));
    EXPECT_TRUE(F::is_block(0x0400'01c7, 2));
    EXPECT_FALSE(F::is_valid(0x2000'00c6));
    EXPECT_TRUE(F::block_allowed(1) && F::block_allowed(2));
    EXPECT_FALSE(F::block_allowed(0) || F::block_allowed(3));
    // The PPN field is 44 bits: a 56-bit physical address round-trips.
    EXPECT_EQ(F::address(F::make_page(HostPhysAddr(0xff'ffff'ffff'f000), RW)).value(), 0xff'ffff'ffff'f000ull);
    for (u32 f = 0; f < 16; ++f) { // every combination decodes to itself with Read added
        const MemFlags want = MemFlags(f) | MemFlags::Read;
        EXPECT_EQ(F::flags(F::make_page(HostPhysAddr(0x8000'1000), MemFlags(f))), want) << f;
    }
    // satp: MODE[63:60] = 8 (Sv39), ASID[59:44] = 0, PPN[43:0] = root >> 12.
    EXPECT_EQ(F::satp(HostPhysAddr(0x8040'0000)), 0x8000'0000'0008'0400ull);
    EXPECT_EQ(F::geometry().start_level, 1u);
    EXPECT_EQ(F::geometry().root_entries, 512u);
}

// riscv64 G-stage (RISC-V Privileged Spec 20211203, 4.3.1 PTE fields, 8.2.10 hgatp, 8.5.1 x4 roots).
// PTE: V[0] R[1] W[2] X[3] U[4] G[5] A[6] D[7] RSW[9:8] PPN[53:10].
using arch::GStageFormat;

TEST(GStageFormat, LeafAndTableEncodings) {
    // 4 KiB page RWX at 0x8000_0000: PPN 0x80000 << 10 = 0x2000_0000 | D 0x80 | A 0x40 | U 0x10 | X 8 | W 4 | R 2 | V 1.
    EXPECT_EQ(GStageFormat::make_page(HostPhysAddr(0x8000'0000), RWX), 0x2000'00dfull);
    // 2 MiB megapage read-only at 0x8020_0000: PPN 0x80200 << 10 = 0x2008_0000 | D A U R V = 0xd3.
    EXPECT_EQ(GStageFormat::make_block(HostPhysAddr(0x8020'0000), MemFlags::Read), 0x2008'00d3ull);
    // 1 GiB gigapage RW device at 0x4000_0000 (no PBMT without Svpbmt): RSW bit 8 records Device.
    EXPECT_EQ(GStageFormat::make_block(HostPhysAddr(0x4000'0000), RW | MemFlags::Device), 0x1000'01d7ull);
    // Execute-only is a legal leaf (XWR = 100): D A U X V = 0xd9.
    EXPECT_EQ(GStageFormat::make_page(HostPhysAddr(0x1000), MemFlags::Exec), 0x4d9ull);
    // Non-leaf: V only; U, A, D stay 0 (reserved in non-leaf PTEs).
    EXPECT_EQ(GStageFormat::make_table(HostPhysAddr(0x8010'0000)), 0x2004'0001ull);
    EXPECT_TRUE(GStageFormat::is_table(0x2004'0001, 1));
    EXPECT_TRUE(GStageFormat::is_table(0x2004'0001, 0));  // Sv48x4 root
    EXPECT_FALSE(GStageFormat::is_table(0x2004'0001, 3)); // nothing below level 3
    EXPECT_TRUE(GStageFormat::is_block(0x2008'00d3, 2));
    EXPECT_FALSE(GStageFormat::is_block(0x2004'0001, 2));
    EXPECT_FALSE(GStageFormat::is_valid(0));
    EXPECT_EQ(GStageFormat::address(0x2008'00d3).value(), 0x8020'0000ull);
    // The widest PPN (44 bits, 56-bit physical addresses) survives; bits above 53 are never set.
    const u64 top = GStageFormat::make_page(HostPhysAddr(0x00ff'ffff'ffff'f000), RWX);
    EXPECT_EQ(top >> 54, 0u);
    EXPECT_EQ(GStageFormat::address(top).value(), 0x00ff'ffff'ffff'f000ull);
}

TEST(GStageFormat, FlagsWithoutEncodingGrantLessNeverMore) {
    // Every encodable combination decodes back.
    for (u32 f = 0; f < 16; ++f) {
        const MemFlags m = MemFlags(f);
        const bool r = has(m, MemFlags::Read), x = has(m, MemFlags::Exec);
        const u64 d = GStageFormat::make_page(HostPhysAddr(0x8000'0000), m);
        SCOPED_TRACE(f);
        EXPECT_TRUE(GStageFormat::is_valid(d)); // the walker always sees a mapping
        EXPECT_FALSE(GStageFormat::is_table(d, 1));
        EXPECT_EQ(GStageFormat::address(d).value(), 0x8000'0000ull);
        if ((d & 1) != 0) { // hardware-valid leaf: R or X is set, never W without R (reserved)
            EXPECT_TRUE((d & 0xa) != 0);
            EXPECT_FALSE((d & 4) && !(d & 2));
            EXPECT_EQ(d & 0xd0, 0xd0u); // U, A, D
        }
        // Write without read cannot be expressed: W is dropped. No R and no X: V=0 with RSW bit 9.
        MemFlags expect = m;
        if (!r) expect = MemFlags(f & ~u32(MemFlags::Write));
        EXPECT_EQ(GStageFormat::flags(d), expect);
        if (!r && !x) {
            EXPECT_EQ(d & 1, 0u);
            EXPECT_EQ(d & 0x200, 0x200u);
        }
    }
    // W only: 0x8000_0000 PPN | RSW bit 9, no V, no W (a store must fault, and flags() must say so).
    EXPECT_EQ(GStageFormat::make_page(HostPhysAddr(0x8000'0000), MemFlags::Write), 0x2000'02d0ull);
}

TEST(GStageConfig, Sv39x4AndSv48x4) {
    const auto sv39 = arch::gstage_config(arch::GStageMode::Sv39x4);
    EXPECT_EQ(sv39.gpa_bits, 41u);
    EXPECT_EQ(sv39.start_level, 1u);
    EXPECT_EQ(sv39.root_entries, 2048u);
    EXPECT_EQ(sv39.root_bytes, 16384u);
    const auto sv48 = arch::gstage_config(arch::GStageMode::Sv48x4);
    EXPECT_EQ(sv48.gpa_bits, 50u);
    EXPECT_EQ(sv48.start_level, 0u);
    EXPECT_EQ(sv48.root_entries, 2048u);
    // hgatp = MODE[63:60] | VMID[57:44] | PPN[43:0]: Sv39x4 (8), VMID 5, root 0x8020_4000.
    EXPECT_EQ(sv39.hgatp(HostPhysAddr(0x8020'4000), 5), 0x8000'5000'0008'0204ull);
    // Sv48x4 (9), VMID 0x3fff (14 bits), root 0x1_0000_0000.
    EXPECT_EQ(sv48.hgatp(HostPhysAddr(0x1'0000'0000), 0x3fff), 0x93ff'f000'0010'0000ull);
}

// The mode chosen at boot (arch_stage2.hpp stage2_probe): Sv48x4 only when hgatp keeps MODE 9 and
// the harts translate 48 bits or more; Sv39x4 otherwise; nothing when hgatp keeps neither.
TEST(GStageConfig, ModeChoice) {
    using arch::GStageMode;
    auto pick = [](bool k39, bool k48, bool k57, u32 va) {
        return arch::choose_gstage_mode(arch::GStageProbe{k39, k48, k57, va});
    };
    // QEMU 7.2: every MODE read back, satp takes Sv57.
    EXPECT_EQ(pick(true, true, true, 57).mode, GStageMode::Sv48x4);
    EXPECT_TRUE(pick(true, true, true, 57).ok);
    EXPECT_EQ(pick(true, true, false, 48).mode, GStageMode::Sv48x4);
    // The same hart with a DT that says riscv,sv39 (the system test rv-gstage-sv39x4), or one
    // whose satp stops at Sv39: the read-back of 9 alone is not believed.
    EXPECT_EQ(pick(true, true, true, 39).mode, GStageMode::Sv39x4);
    EXPECT_TRUE(pick(true, true, true, 39).ok);
    // hgatp without Sv48x4 (9 legalised to something else): Sv39x4 even under Sv57.
    EXPECT_EQ(pick(true, false, false, 57).mode, GStageMode::Sv39x4);
    // Nothing usable.
    EXPECT_FALSE(pick(false, false, true, 57).ok);
    EXPECT_FALSE(pick(false, false, false, 39).ok);
    EXPECT_STREQ(arch::gstage_mode_name(GStageMode::Sv39x4), "Sv39x4");
    EXPECT_STREQ(arch::gstage_mode_name(GStageMode::Sv48x4), "Sv48x4");
}

// The generic walker over the G-stage format: the x4 root is 16 KiB, indexed by GPA[40:30]
// (Sv39x4) or GPA[49:39] (Sv48x4), and GPAs past 2^41 / 2^50 are out of range.
TEST(GStageFormat, WalkerUsesTheWideRoot) {
    using Table = PageTable<GStageFormat, FakeFrames>;
    for (auto mode : {arch::GStageMode::Sv39x4, arch::GStageMode::Sv48x4}) {
        FakeFrames frames;
        const auto c = arch::gstage_config(mode);
        Table t = Table::create(frames, c.geometry()).release_value();
        SCOPED_TRACE(u32(mode));
        EXPECT_EQ(frames.in_use(), 4u); // 16 KiB root
        EXPECT_TRUE(t.root().is_aligned(16384));
        EXPECT_EQ(t.limit(), u64(1) << c.gpa_bits);
        const u64 high = (u64(1) << c.gpa_bits) - GiB; // the last root entry (Sv39x4: index 2047)
        ASSERT_TRUE(t.map(high, HostPhysAddr(0x8000'0000), GiB, RWX).is_ok());
        const u64* root = static_cast<const u64*>(frames.phys_to_virt(t.root()));
        const u64 e = root[2047];
        if (mode == arch::GStageMode::Sv39x4) {
            EXPECT_EQ(e, GStageFormat::make_block(HostPhysAddr(0x8000'0000), RWX)); // a gigapage in the root
        } else {
            EXPECT_TRUE(GStageFormat::is_table(e, 0));
        }
        EXPECT_EQ(t.query(high + 0x1234).value().at(high + 0x1234).value(), 0x8000'1234ull);
        EXPECT_EQ(t.map(u64(1) << c.gpa_bits, HostPhysAddr(0), 4096, RW).error(), Error::OutOfRange);
    }
}
