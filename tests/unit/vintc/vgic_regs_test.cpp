// Distributor and redistributor register semantics and access widths (IHI 0069H register
// descriptions), and how the model answers accesses it does not implement.
#include "vgic_fixture.hpp"

using namespace vgic_test;

TEST(VgicCreate, RejectsBadConfigs) {
    EXPECT_EQ(Vgic::create(config(0, 32)).error(), Error::InvalidArgument);
    EXPECT_EQ(Vgic::create(config(MaxVcpus + 1, 32)).error(), Error::InvalidArgument);
    EXPECT_EQ(Vgic::create(config(1, 32, 3)).error(), Error::InvalidArgument);
    EXPECT_EQ(Vgic::create(config(1, 32, 9)).error(), Error::InvalidArgument);
    EXPECT_EQ(Vgic::create(config(1, MaxSpis + 1)).error(), Error::InvalidArgument);
    VgicConfig dup = config(3, 32);
    dup.mpidr[2] = dup.mpidr[1] | (1ull << 31); // bit 31 (RES1) is not affinity: same PE name
    EXPECT_EQ(Vgic::create(dup).error(), Error::InvalidArgument);
    auto ok = make(MaxVcpus, MaxSpis, 8);
    EXPECT_EQ(ok->spi_count(), MaxSpis);
}

TEST(VgicDist, CtlrHasAreAndDsSetRwpClearAndGroupEnables) {
    auto g = make(1, 32);
    EXPECT_EQ(rd(*g, GICD_CTLR), 0x50u); // ARE (bit 4) and DS (bit 6) RAO, groups off
    wr(*g, GICD_CTLR, 0x13);              // what Linux writes: ARE_NS | G1A | G1
    EXPECT_EQ(rd(*g, GICD_CTLR), 0x53u);
    wr(*g, GICD_CTLR, 0xffffffff);        // RWP (31), E1NWF (7) and the rest stay 0
    EXPECT_EQ(rd(*g, GICD_CTLR), 0x53u);
    wr(*g, GICD_CTLR, 0);                 // ARE and DS cannot be cleared
    EXPECT_EQ(rd(*g, GICD_CTLR), 0x50u);
    EXPECT_EQ(g->dist_read(GICD_CTLR, 8).error(), Error::InvalidArgument);
    EXPECT_EQ(g->dist_read(GICD_CTLR, 1).error(), Error::InvalidArgument);
    EXPECT_EQ(g->dist_write(GICD_CTLR, 2, 3).error(), Error::InvalidArgument);
    EXPECT_EQ(g->dist_read(GICD_CTLR + 1, 1).error(), Error::InvalidArgument); // inside a register
    EXPECT_EQ(g->dist_read(GICD_TYPER + 2, 2).error(), Error::InvalidArgument);
    EXPECT_EQ(g->unimplemented_accesses(), 0u);
}

struct TyperCase {
    u32 spis_config, spis_model, it_lines;
};
class VgicTyper : public ::testing::TestWithParam<TyperCase> {};

TEST_P(VgicTyper, ItLinesNumberFollowsTheSpiCount) {
    auto [cfg, model, it_lines] = GetParam();
    auto g = make(2, cfg);
    EXPECT_EQ(g->spi_count(), model);
    u64 t = rd(*g, GICD_TYPER);
    EXPECT_EQ(bits(t, 4, 0), it_lines);
    EXPECT_EQ(bits(t, 23, 19), 9u);  // IDbits: 10 bits of INTID
    EXPECT_EQ(bits(t, 17, 16), 0u);  // no LPIs, no MBIs
    EXPECT_EQ(bits(t, 8, 8), 0u);    // no extended SPIs
    EXPECT_EQ(bits(t, 10, 10), 0u);  // single Security state
    EXPECT_EQ(bits(t, 24, 24), 1u);  // A3V
    EXPECT_EQ(bits(t, 26, 26), 0u);  // RSS not needed: Aff0 < 16
    // The last implemented SPI is configurable, the next one is RAZ/WI.
    u32 last = SpiBase + model - 1;
    if (model) {
        wr(*g, word(ISENABLER, last), mask(last));
        EXPECT_EQ(rd(*g, word(ISENABLER, last)), mask(last));
    }
    if (last + 1 < 1020) {
        wr(*g, IPRIORITYR + last + 1, 0xff, 1);
        EXPECT_EQ(rd(*g, IPRIORITYR + last + 1, 1), 0u);
    }
}
INSTANTIATE_TEST_SUITE_P(SpiCounts, VgicTyper,
                         ::testing::Values(TyperCase{0, 0, 0}, TyperCase{32, 32, 1}, TyperCase{64, 64, 2},
                                           TyperCase{100, 128, 4}, TyperCase{960, 960, 30},
                                           TyperCase{988, 988, 31}));

TEST(VgicDist, TyperRssOnlyWhenAVcpuHasAff0Above15) {
    VgicConfig c = config(2, 32);
    c.mpidr[1] = 16;
    auto g = make(c);
    EXPECT_EQ(bits(rd(*g, GICD_TYPER), 26, 26), 1u);
}

TEST(VgicDist, IdRegisters) {
    auto g = make(2, 32);
    EXPECT_EQ(rd(*g, GICD_IIDR), 0x4300043bu);
    EXPECT_EQ(rd(*g, GICD_TYPER2), 0u);
    EXPECT_EQ(bits(rd(*g, PIDR2), 7, 4), 3u); // ArchRev: GICv3 (Linux checks 3 or 4)
    EXPECT_EQ(bits(rrd(*g, 1, PIDR2), 7, 4), 3u);
    EXPECT_EQ(rrd(*g, 1, GICR_IIDR), 0x4300043bu);
    wr(*g, GICD_IIDR, 0);
    wr(*g, GICD_TYPER, 0);
    EXPECT_EQ(rd(*g, GICD_IIDR), 0x4300043bu);
    EXPECT_EQ(bits(rd(*g, GICD_TYPER), 4, 0), 1u);
    EXPECT_EQ(g->dist_read(PIDR2, 1).error(), Error::InvalidArgument);
    EXPECT_EQ(g->unimplemented_accesses(), 0u);
}

TEST(VgicDist, EnableIsSetAndClearByOnes) {
    auto g = make(1, 64);
    u64 w = word(ISENABLER, 40);
    wr(*g, w, mask(40) | mask(42));
    EXPECT_EQ(rd(*g, w), mask(40) | mask(42));
    EXPECT_EQ(rd(*g, word(ICENABLER, 40)), mask(40) | mask(42)); // both read the enables
    wr(*g, w, 0);                                                 // zeros do nothing
    EXPECT_EQ(rd(*g, w), mask(40) | mask(42));
    wr(*g, word(ICENABLER, 40), mask(42));
    EXPECT_EQ(rd(*g, w), mask(40));
    EXPECT_TRUE(state(*g, 40).enabled);
    EXPECT_FALSE(state(*g, 42).enabled);
    EXPECT_EQ(g->dist_write(w, 1, 1).error(), Error::InvalidArgument);
    EXPECT_EQ(g->dist_write(w, 8, 1).error(), Error::InvalidArgument);
}

TEST(VgicDist, PrivateWordsAreRazWiWithAffinityRouting) {
    auto g = make(2, 32);
    wr(*g, ISENABLER, 0xffffffff);
    wr(*g, ISPENDR, 0xffffffff);
    wr(*g, IGROUPR, 0xffffffff);
    wr(*g, IPRIORITYR + 27, 0x80, 1);
    wr(*g, ICFGR + 4, 0);
    EXPECT_EQ(rd(*g, ISENABLER), 0u);
    EXPECT_EQ(rd(*g, ICFGR + 4), 0u);
    EXPECT_EQ(rrd(*g, 0, SGI_BASE + ISENABLER), 0u); // the redistributors were not touched
    EXPECT_EQ(rrd(*g, 1, SGI_BASE + ISPENDR), 0u);
    EXPECT_EQ(state(*g, 27).priority, 0u);
    EXPECT_EQ(g->unimplemented_accesses(), 0u); // architected RAZ/WI, not "unimplemented"
}

TEST(VgicDist, PendingLatchAndLevelLine) {
    auto g = make(1, 32);
    setup_spi(*g, 33, 0xa0, Cfg::Level);
    u64 sp = word(ISPENDR, 33), cp = word(ICPENDR, 33);
    wr(*g, sp, mask(33)); // software pend of a level interrupt latches
    EXPECT_EQ(rd(*g, sp), mask(33));
    EXPECT_EQ(rd(*g, cp), mask(33));
    wr(*g, cp, mask(33));
    EXPECT_EQ(rd(*g, sp), 0u);
    ASSERT_TRUE(g->set_line(33, true).is_ok());
    EXPECT_EQ(rd(*g, sp), mask(33));
    wr(*g, cp, mask(33)); // ICPENDR cannot clear a high level line
    EXPECT_EQ(rd(*g, sp), mask(33));
    ASSERT_TRUE(g->set_line(33, false).is_ok());
    EXPECT_EQ(rd(*g, sp), 0u);
}

TEST(VgicDist, ActiveSetAndClear) {
    auto g = make(1, 32);
    wr(*g, word(ISACTIVER, 50), mask(50));
    EXPECT_EQ(rd(*g, word(ISACTIVER, 50)), mask(50));
    EXPECT_EQ(rd(*g, word(ICACTIVER, 50)), mask(50));
    wr(*g, word(ICACTIVER, 50), mask(50) | mask(51));
    EXPECT_EQ(rd(*g, word(ISACTIVER, 50)), 0u);
}

TEST(VgicDist, GroupIsPlainReadWriteAndGrpmodNsacrAreRazWi) {
    auto g = make(1, 64);
    wr(*g, IGROUPR + 4, 0xdeadbeef);
    EXPECT_EQ(rd(*g, IGROUPR + 4), 0xdeadbeefu);
    wr(*g, IGROUPR + 4, 0x1);
    EXPECT_EQ(rd(*g, IGROUPR + 4), 0x1u);
    wr(*g, IGRPMODR + 4, 0xffffffff);
    EXPECT_EQ(rd(*g, IGRPMODR + 4), 0u);
    wr(*g, NSACR + 8, 0xffffffff);
    EXPECT_EQ(rd(*g, NSACR + 8), 0u);
    EXPECT_EQ(g->unimplemented_accesses(), 0u);
}

TEST(VgicDist, PriorityByteAndWordKeepOnlyImplementedBits) {
    auto g = make(1, 32, 5);
    wr(*g, IPRIORITYR + 33, 0xff, 1);
    EXPECT_EQ(rd(*g, IPRIORITYR + 33, 1), 0xf8u); // 5 bits live
    wr(*g, IPRIORITYR + 32, 0x12345678);
    EXPECT_EQ(rd(*g, IPRIORITYR + 32), 0x10305078u);
    EXPECT_EQ(rd(*g, IPRIORITYR + 34, 1), 0x30u);
    wr(*g, IPRIORITYR + 35, 0xa7, 1); // byte write touches one INTID only
    EXPECT_EQ(rd(*g, IPRIORITYR + 32), 0xa0305078u);
    EXPECT_EQ(state(*g, 35).priority, 0xa0u);
    EXPECT_EQ(g->dist_write(IPRIORITYR + 32, 2, 0).error(), Error::InvalidArgument);
    EXPECT_EQ(g->dist_read(IPRIORITYR + 32, 8).error(), Error::InvalidArgument);
    EXPECT_EQ(g->dist_read(IPRIORITYR + 33, 4).error(), Error::InvalidArgument); // misaligned

    auto g8 = make(1, 32, 8);
    wr(*g8, IPRIORITYR + 33, 0xff, 1);
    EXPECT_EQ(rd(*g8, IPRIORITYR + 33, 1), 0xffu);
}

TEST(VgicDist, IcfgrHasOneBitPerInterrupt) {
    auto g = make(1, 32);
    wr(*g, ICFGR + 8, 0xffffffff); // INTIDs 32-47; Int_config[0] is RES0
    EXPECT_EQ(rd(*g, ICFGR + 8), 0xaaaaaaaau);
    EXPECT_EQ(state(*g, 40).trigger, Trigger::Edge);
    wr(*g, ICFGR + 8, 0x8); // only INTID 33 edge
    EXPECT_EQ(rd(*g, ICFGR + 8), 0x8u);
    EXPECT_EQ(state(*g, 32).trigger, Trigger::Level);
    EXPECT_EQ(state(*g, 33).trigger, Trigger::Edge);
}

TEST(VgicDist, IrouterWholeAndHalvesWithIrm) {
    auto g = make(4, 32);
    u64 r = IROUTER + 8 * 40;
    wr(*g, r, 0xffffffffffffffffull, 8);
    EXPECT_EQ(rd(*g, r, 8), 0x000000ff80ffffffull); // RES0 bits dropped, IRM and Aff3..0 kept
    wr(*g, r, 0x2, 8);
    EXPECT_EQ(state(*g, 40).target, 2u);
    // 32-bit halves (Bao #394 lost these): each half updates only its word.
    wr(*g, r + 4, 0x7, 4);
    EXPECT_EQ(rd(*g, r, 8), 0x0000000700000002ull);
    EXPECT_EQ(rd(*g, r + 4, 4), 0x7u);
    EXPECT_EQ(state(*g, 40).target, NoVcpu); // Aff3 = 7: no such vCPU
    wr(*g, r, 0x3, 4);
    EXPECT_EQ(rd(*g, r, 8), 0x0000000700000003ull);
    wr(*g, r + 4, 0, 4);
    EXPECT_EQ(rd(*g, r, 4), 0x3u);
    EXPECT_EQ(state(*g, 40).target, 3u);
    // IRM: any participating PE; asleep redistributors do not participate.
    wr(*g, r, 1ull << 31, 8);
    EXPECT_EQ(rd(*g, r, 8), 1ull << 31);
    EXPECT_EQ(state(*g, 40).target, 0u); // all asleep: vCPU 0
    rwr(*g, 2, GICR_WAKER, 0);
    EXPECT_EQ(state(*g, 40).target, 2u);
    EXPECT_EQ(g->dist_write(r, 2, 0).error(), Error::InvalidArgument);
    EXPECT_EQ(g->dist_read(r, 1).error(), Error::InvalidArgument);
    EXPECT_EQ(g->dist_read(r + 4, 8).error(), Error::InvalidArgument);
    // IROUTER<0..31> are reserved; IROUTER of unimplemented SPIs is RAZ/WI.
    wr(*g, IROUTER + 8 * 5, 3, 8);
    EXPECT_EQ(rd(*g, IROUTER + 8 * 5, 8), 0u);
    EXPECT_EQ(g->unimplemented_accesses(), 2u);
    wr(*g, IROUTER + 8 * 100, 3, 8);
    EXPECT_EQ(rd(*g, IROUTER + 8 * 100, 8), 0u);
}

TEST(VgicRedist, TyperHasLastOnTheLastVcpuOnlyAndItsAffinity) {
    VgicConfig c = config(3, 32);
    c.mpidr[0] = 0x0000;
    c.mpidr[1] = 0x0100;          // Aff1 = 1
    c.mpidr[2] = (1ull << 32) | 0x030405; // Aff3 = 1, Aff2 = 3, Aff1 = 4, Aff0 = 5
    auto g = make(c);
    for (u16 v = 0; v < 3; ++v) {
        u64 t = rrd(*g, v, GICR_TYPER, 8);
        EXPECT_EQ(bits(t, 4, 4), v == 2 ? 1u : 0u) << "vcpu " << v;
        EXPECT_EQ(bits(t, 23, 8), v);
        EXPECT_EQ(bits(t, 0, 0), 0u); // no physical LPIs
        EXPECT_EQ(bits(t, 1, 1), 0u); // no virtual LPIs: the next frame is at +128 KiB
        EXPECT_EQ(rrd(*g, v, GICR_TYPER, 4), t & 0xffffffff);
        EXPECT_EQ(rrd(*g, v, GICR_TYPER + 4, 4), t >> 32);
    }
    EXPECT_EQ(rrd(*g, 1, GICR_TYPER + 4, 4), 0x00000100u);
    EXPECT_EQ(rrd(*g, 2, GICR_TYPER + 4, 4), 0x01030405u);
    rwr(*g, 0, GICR_TYPER, 0, 8); // read-only
    EXPECT_EQ(bits(rrd(*g, 0, GICR_TYPER, 8), 23, 8), 0u);
    EXPECT_EQ(g->redist_read(0, GICR_TYPER, 2).error(), Error::InvalidArgument);
    EXPECT_EQ(g->redist_read(3, GICR_TYPER, 8).error(), Error::OutOfRange);
    // The contiguous region: frame i at i * 128 KiB, as a DT describes one region.
    auto t2 = g->redist_region_read(2 * Vgic::RedistStride + GICR_TYPER, 8);
    ASSERT_TRUE(t2.is_ok());
    EXPECT_EQ(bits(t2.value(), 4, 4), 1u);
    EXPECT_EQ(bits(t2.value(), 63, 32), 0x01030405u);
    auto past = g->redist_region_read(3 * Vgic::RedistStride + GICR_TYPER, 8);
    ASSERT_TRUE(past.is_ok());
    EXPECT_EQ(past.value(), 0u);
    EXPECT_EQ(g->unimplemented_accesses(), 1u);
}

TEST(VgicRedist, WakerProcessorSleepAndChildrenAsleep) {
    auto g = make(2, 32);
    EXPECT_EQ(rrd(*g, 0, GICR_WAKER), 0x6u); // reset: asleep, quiescent
    rwr(*g, 0, GICR_WAKER, 0);               // Linux: clear ProcessorSleep, poll ChildrenAsleep
    EXPECT_EQ(rrd(*g, 0, GICR_WAKER), 0x0u);
    EXPECT_EQ(rrd(*g, 1, GICR_WAKER), 0x6u); // per redistributor
    rwr(*g, 0, GICR_WAKER, 0x4);             // ChildrenAsleep is read-only
    EXPECT_EQ(rrd(*g, 0, GICR_WAKER), 0x0u);
    rwr(*g, 0, GICR_WAKER, 0x2);
    EXPECT_EQ(rrd(*g, 0, GICR_WAKER), 0x6u);
    EXPECT_EQ(g->redist_write(0, GICR_WAKER, 8, 0).error(), Error::InvalidArgument); // misaligned
    EXPECT_EQ(g->redist_write(0, GICR_WAKER, 2, 0).error(), Error::InvalidArgument);
    EXPECT_EQ(g->redist_read(0, GICR_WAKER + 1, 1).error(), Error::InvalidArgument);
    EXPECT_EQ(g->redist_read(0, GICR_TYPER + 5, 1).error(), Error::InvalidArgument);
    EXPECT_EQ(g->unimplemented_accesses(), 0u);
}

TEST(VgicRedist, CtlrAndLpiRegistersAreRazWi) {
    auto g = make(1, 32);
    rwr(*g, 0, GICR_CTLR, 0xffffffff);
    EXPECT_EQ(rrd(*g, 0, GICR_CTLR), 0u); // EnableLPIs RES0, RWP 0
    rwr(*g, 0, GICR_PROPBASER, ~0ull, 8);
    rwr(*g, 0, GICR_PENDBASER + 4, ~0ull, 4);
    EXPECT_EQ(rrd(*g, 0, GICR_PROPBASER, 8), 0u);
    EXPECT_EQ(rrd(*g, 0, GICR_PENDBASER, 8), 0u);
    EXPECT_EQ(rrd(*g, 0, GICR_PENDBASER + 4, 4), 0u);
    EXPECT_EQ(g->unimplemented_accesses(), 0u);
}

TEST(VgicRedist, SgiFrameRegisters) {
    auto g = make(2, 32);
    rwr(*g, 1, SGI_BASE + ISENABLER, mask(27) | mask(3));
    EXPECT_EQ(rrd(*g, 1, SGI_BASE + ISENABLER), mask(27) | mask(3));
    EXPECT_EQ(rrd(*g, 0, SGI_BASE + ISENABLER), 0u); // banked per vCPU
    rwr(*g, 1, SGI_BASE + ICENABLER, mask(3));
    EXPECT_EQ(rrd(*g, 1, SGI_BASE + ICENABLER), mask(27));
    rwr(*g, 1, SGI_BASE + ISPENDR, mask(5));
    EXPECT_TRUE(state(*g, 5, 1).pending_latch);
    rwr(*g, 1, SGI_BASE + ICPENDR, mask(5));
    EXPECT_FALSE(state(*g, 5, 1).pending_latch);
    rwr(*g, 1, SGI_BASE + ISACTIVER, mask(30));
    EXPECT_EQ(rrd(*g, 1, SGI_BASE + ICACTIVER), mask(30));
    rwr(*g, 1, SGI_BASE + IGROUPR, 0xffffffff);
    EXPECT_EQ(rrd(*g, 1, SGI_BASE + IGROUPR), 0xffffffffu);
    rwr(*g, 1, SGI_BASE + IPRIORITYR + 27, 0xa0, 1);
    EXPECT_EQ(rrd(*g, 1, SGI_BASE + IPRIORITYR + 24), 0xa0000000u);
    // SGIs are always edge (read-only field); PPIs are programmable.
    EXPECT_EQ(rrd(*g, 1, SGI_BASE + ICFGR), 0xaaaaaaaau);
    rwr(*g, 1, SGI_BASE + ICFGR, 0);
    EXPECT_EQ(rrd(*g, 1, SGI_BASE + ICFGR), 0xaaaaaaaau);
    EXPECT_EQ(rrd(*g, 1, SGI_BASE + ICFGR + 4), 0u); // PPIs start level
    rwr(*g, 1, SGI_BASE + ICFGR + 4, 2u << 2 * (27 - 16));
    EXPECT_EQ(state(*g, 27, 1).trigger, Trigger::Edge);
    rwr(*g, 1, SGI_BASE + IGRPMODR, 0xffffffff);
    EXPECT_EQ(rrd(*g, 1, SGI_BASE + IGRPMODR), 0u);
    EXPECT_EQ(g->unimplemented_accesses(), 0u);
    // Words past the private ones (extended PPI ranges) are not implemented.
    rwr(*g, 1, SGI_BASE + ISENABLER + 4, 0xffffffff);
    EXPECT_EQ(rrd(*g, 1, SGI_BASE + IPRIORITYR + 32), 0u);
    EXPECT_EQ(g->unimplemented_accesses(), 2u);
    EXPECT_EQ(g->last_unimplemented_offset(), SGI_BASE + IPRIORITYR + 32);
}

TEST(VgicReserved, OffsetsReadZeroIgnoreWritesAndAreCounted) {
    auto g = make(2, 64);
    const u64 dist_reserved[] = {0x10 /* STATUSR */, 0x40 /* SETSPI_NSR */, 0x800 /* ITARGETSR */,
                                 0xf00 /* SGIR */,    0xf10 /* CPENDSGIR */, 0x1000 /* IGROUPRnE */,
                                 0x7fe0,              0x8000 /* IROUTERnE */, 0xc000, 0xfe00};
    u64 n = 0;
    for (u64 off : dist_reserved) {
        wr(*g, off, 0xffffffff);
        EXPECT_EQ(rd(*g, off), 0u) << std::hex << off;
        n += 2;
        EXPECT_EQ(g->unimplemented_accesses(), n);
        EXPECT_EQ(g->last_unimplemented_offset(), off);
    }
    // Any width is accepted at a reserved offset (it is RAZ/WI whatever the access).
    EXPECT_EQ(rd(*g, 0x20, 1), 0u);
    EXPECT_EQ(rd(*g, 0x20, 8), 0u);
    n += 2;
    const u64 redist_reserved[] = {0x10 /* STATUSR */, 0x40 /* SETLPIR */, 0xa0 /* INVLPIR */,
                                   0xc0 /* SYNCR */,   0x80,  SGI_BASE + 0x0, SGI_BASE + 0xf00,
                                   SGI_BASE + 0xffe8};
    for (u64 off : redist_reserved) {
        rwr(*g, 1, off, 0xffffffff);
        EXPECT_EQ(rrd(*g, 1, off), 0u) << std::hex << off;
        n += 2;
    }
    EXPECT_EQ(g->unimplemented_accesses(), n);
    // Malformed accesses are errors, never crashes.
    EXPECT_EQ(g->dist_read(0x2, 4).error(), Error::InvalidArgument);
    EXPECT_EQ(g->dist_read(0x0, 3).error(), Error::InvalidArgument);
    EXPECT_EQ(g->dist_read(Vgic::DistSize, 4).error(), Error::OutOfRange);
    EXPECT_EQ(g->redist_write(0, Vgic::RedistStride, 4, 0).error(), Error::OutOfRange);
    EXPECT_EQ(g->redist_region_read(0x3, 2).error(), Error::InvalidArgument);
    // Nothing changed state.
    EXPECT_EQ(rd(*g, GICD_CTLR), 0x50u);
    EXPECT_EQ(g->queued_count(0) + g->queued_count(1), 0u);
}

TEST(VgicReset, RestoresResetStateButKeepsWiring) {
    auto g = make(2, 32);
    setup_spi(*g, 40, 0x80, Cfg::Edge, 1);
    ASSERT_TRUE(g->set_hw(40, 48).is_ok());
    ASSERT_TRUE(g->set_line(41, true).is_ok());
    ASSERT_TRUE(g->raise(40).is_ok());
    rwr(*g, 1, GICR_WAKER, 0);
    g->reset();
    EXPECT_EQ(rd(*g, GICD_CTLR), 0x50u);
    EXPECT_EQ(rrd(*g, 1, GICR_WAKER), 0x6u);
    VIrq s = state(*g, 40);
    EXPECT_FALSE(s.enabled || s.pending_latch || s.group1);
    EXPECT_EQ(s.trigger, Trigger::Level);
    EXPECT_EQ(s.priority, 0u);
    EXPECT_TRUE(s.hw);
    EXPECT_EQ(s.pintid, 48u);
    EXPECT_TRUE(state(*g, 41).line_level);
    EXPECT_EQ(g->queued_count(1), 0u);
}

TEST(VgicRedist, SingleVcpuIsLast) {
    auto g = make(1, 0);
    EXPECT_EQ(bits(rrd(*g, 0, GICR_TYPER, 8), 4, 4), 1u);
}

// Containment: whatever a guest writes wherever, with any width, the model answers (value or
// error) and its lists stay consistent; the LR path keeps working with whatever states the
// hardware hands back.
TEST(VgicFuzz, RandomAccessesNeverBreakTheModel) {
    auto g = make(3, 96);
    u64 x = 0x9e3779b97f4a7c15ull;
    auto next = [&x] {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        return x;
    };
    const unsigned widths[] = {1, 2, 3, 4, 8, 16};
    for (u32 n = 0; n < 60000; ++n) {
        u64 r = next();
        unsigned w = widths[r % 6];
        u64 value = next();
        // Bias towards the populated low part of each window.
        u64 off = (r >> 8) % 4 ? (r >> 16) % 0x1000 : (r >> 16) % 0x12000;
        switch ((r >> 4) % 8) {
        case 0: (void)g->dist_read(off, w); break;
        case 1: case 2: (void)g->dist_write(off, w, value); break;
        case 3: (void)g->redist_region_read((r >> 16) % (4 * Vgic::RedistStride), w); break;
        case 4: (void)g->redist_region_write((r >> 16) % (4 * Vgic::RedistStride), w, value); break;
        case 5: (void)g->raise(static_cast<u32>(value % 140), static_cast<u16>(value >> 60) % 4); break;
        case 6: (void)g->set_line(static_cast<u32>(value % 140), value & 1, static_cast<u16>(value >> 60) % 4); break;
        case 7: (void)g->send_sgi(static_cast<u16>(value % 4), next()); break;
        }
        if (n % 64 == 0) {
            u16 v = static_cast<u16>(next() % 3);
            VgicLr lr[4];
            VgicFlush f = g->flush(v, lr, static_cast<u32>(next() % 5));
            for (u32 i = 0; i < f.used; ++i) lr[i].state = static_cast<LrState>(next() % 4);
            (void)g->fold(v, lr, next() & 0xf, static_cast<u32>(next() % 3));
            ASSERT_TRUE(g->lists_consistent()) << "after " << n << " accesses";
        }
    }
    EXPECT_GT(g->unimplemented_accesses(), 0u);
    (void)g->take_kicks();
}
