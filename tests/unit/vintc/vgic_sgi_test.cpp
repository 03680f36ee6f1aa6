// ICC_SGI1R_EL1 decode (IHI 0069H register description) and SGI delivery through the Vgic.
#include "vgic_fixture.hpp"

using namespace vgic_test;

namespace {
// Builds an ICC_SGI1R_EL1 value field by field.
constexpr u64 sgi1r(u32 intid, u16 list, u8 aff1 = 0, u8 aff2 = 0, u8 aff3 = 0, u8 rs = 0, bool irm = false) {
    return u64(list) | u64(aff1) << 16 | u64(intid & 0xf) << 24 | u64(aff2) << 32 | u64(irm) << 40 |
           u64(rs & 0xf) << 44 | u64(aff3) << 48;
}
} // namespace

TEST(VgicSgiDecode, FieldsAtTheirBits) {
    SgiRequest r = decode_sgi1r(sgi1r(0xb, 0xa5a5, 0x12, 0x34, 0x56, 0x7, true));
    EXPECT_EQ(r.intid, 0xbu);
    EXPECT_EQ(r.target_list, 0xa5a5u);
    EXPECT_EQ(r.aff1, 0x12u);
    EXPECT_EQ(r.aff2, 0x34u);
    EXPECT_EQ(r.aff3, 0x56u);
    EXPECT_EQ(r.rs, 0x7u);
    EXPECT_TRUE(r.irm);
    // Hand-assembled raw value: INTID 1 to Aff0 = 2 (TargetList bit 2), Aff1 = 1.
    SgiRequest h = decode_sgi1r(0x0000000001010004ull);
    EXPECT_EQ(h.intid, 1u);
    EXPECT_EQ(h.target_list, 4u);
    EXPECT_EQ(h.aff1, 1u);
    EXPECT_FALSE(h.irm);
}

TEST(VgicSgiDecode, TargetListWithCxvisorMpidrs) {
    const u64 m[] = {0, 1, 2, 3};
    EXPECT_EQ(sgi_targets(decode_sgi1r(sgi1r(1, 0b1010)), 0, m, 4).bits(), 0b1010u);
    EXPECT_EQ(sgi_targets(decode_sgi1r(sgi1r(1, 0b0001)), 0, m, 4).bits(), 0b0001u); // self allowed
    EXPECT_TRUE(sgi_targets(decode_sgi1r(sgi1r(1, 0b110000)), 0, m, 4).empty());     // no such PEs
    EXPECT_TRUE(sgi_targets(decode_sgi1r(sgi1r(1, 0b1111, 1)), 0, m, 4).empty());    // wrong Aff1
}

TEST(VgicSgiDecode, IrmMeansEveryoneButTheSender) {
    const u64 m[] = {0, 1, 2, 3};
    EXPECT_EQ(sgi_targets(decode_sgi1r(sgi1r(2, 0, 0, 0, 0, 0, true)), 2, m, 4).bits(), 0b1011u);
    EXPECT_EQ(sgi_targets(decode_sgi1r(sgi1r(2, 0x1, 0, 0, 0, 0, true)), 0, m, 4).bits(), 0b1110u);
    const u64 one[] = {0};
    EXPECT_TRUE(sgi_targets(decode_sgi1r(sgi1r(2, 0, 0, 0, 0, 0, true)), 0, one, 1).empty());
}

TEST(VgicSgiDecode, AffinityLevelsAndRangeSelector) {
    // Two clusters (Aff1 0 and 1) of two, one PE at Aff0 = 17, one in Aff3 = 2 / Aff2 = 1.
    const u64 m[] = {0x000, 0x001, 0x100, 0x101, 0x011, (2ull << 32) | 0x10000};
    EXPECT_EQ(sgi_targets(decode_sgi1r(sgi1r(0, 0b10, 1)), 0, m, 6).bits(), 1u << 3);
    EXPECT_EQ(sgi_targets(decode_sgi1r(sgi1r(0, 0b11, 1)), 0, m, 6).bits(), 0b1100u);
    // RS = 1: TargetList bit 1 names Aff0 = 17.
    EXPECT_EQ(sgi_targets(decode_sgi1r(sgi1r(0, 0b10, 0, 0, 0, 1)), 0, m, 6).bits(), 1u << 4);
    // Without RS the same bit names Aff0 = 1 (vCPU 1).
    EXPECT_EQ(sgi_targets(decode_sgi1r(sgi1r(0, 0b10)), 0, m, 6).bits(), 1u << 1);
    EXPECT_EQ(sgi_targets(decode_sgi1r(sgi1r(0, 0b1, 0, 1, 2)), 0, m, 6).bits(), 1u << 5);
    EXPECT_TRUE(sgi_targets(decode_sgi1r(sgi1r(0, 0b1, 0, 1, 0)), 0, m, 6).empty()); // Aff3 matters
}

TEST(VgicSgi, SendMakesTheSgiPendingOnEachTargetAndKicksThem) {
    auto g = make(4, 32);
    for (u16 v = 0; v < 4; ++v) setup_private(*g, v, 1, 0xa0);
    (void)g->take_kicks();
    auto k = g->send_sgi(0, sgi1r(1, 0b1110));
    ASSERT_TRUE(k.is_ok());
    EXPECT_EQ(k.value().bits(), 0b1110u);
    for (u16 v = 1; v < 4; ++v) {
        EXPECT_TRUE(state(*g, 1, v).pending_latch);
        EXPECT_EQ(rrd(*g, v, SGI_BASE + ISPENDR), mask(1));
    }
    EXPECT_FALSE(state(*g, 1, 0).pending_latch);
    VgicLr lr[4];
    VgicFlush f = g->flush(2, lr, 4);
    ASSERT_EQ(f.used, 1u);
    EXPECT_EQ(lr[0].vintid, 1u);
    EXPECT_EQ(lr[0].state, LrState::Pending);
    EXPECT_FALSE(lr[0].eoi_maintenance); // SGIs are edge
    EXPECT_EQ(lr[0].priority, 0xa0u);
    g->fold(2, lr, 0, 0);
}

TEST(VgicSgi, DisabledSgiLatchesWithoutKickAndGroupFilter) {
    auto g = make(2, 32);
    setup_private(*g, 1, 2, 0x80); // SGI 2 of vCPU 1: enabled, group 1
    (void)g->take_kicks();
    auto k = g->send_sgi(0, sgi1r(3, 0b10)); // SGI 3 is not enabled
    ASSERT_TRUE(k.is_ok());
    EXPECT_TRUE(k.value().empty());
    EXPECT_TRUE(state(*g, 3, 1).pending_latch);
    // ICC_SGI0R_EL1 (group 0) does not reach a group-1 SGI; ICC_SGI1R_EL1 does.
    auto k0 = g->send_sgi(0, sgi1r(2, 0b10), false);
    ASSERT_TRUE(k0.is_ok());
    EXPECT_TRUE(k0.value().empty());
    EXPECT_FALSE(state(*g, 2, 1).pending_latch);
    auto k1 = g->send_sgi(0, sgi1r(2, 0b10), true);
    ASSERT_TRUE(k1.is_ok());
    EXPECT_EQ(k1.value(), VcpuSet::of(1));
    EXPECT_EQ(g->send_sgi(2, sgi1r(2, 1)).error(), Error::InvalidArgument); // no vCPU 2
    // IRM from vCPU 1 reaches only vCPU 0.
    auto kb = g->send_sgi(1, sgi1r(4, 0, 0, 0, 0, 0, true));
    ASSERT_TRUE(kb.is_ok());
    EXPECT_TRUE(state(*g, 4, 0).pending_latch);
    EXPECT_FALSE(state(*g, 4, 1).pending_latch);
}
