// The aarch64 vGIC bit layer (src/arch/aarch64/vgic_hw.hpp): ICH_LR<n>_EL2 encode/decode, the
// ICH_VTR/HCR/MISR/EISR/ELRSR/VMCR decoders, and the SGI-generation trap decode. Expected values
// are spelled out from IHI 0069H field positions here, not taken from the header's constants.
#include "arch/aarch64/vgic_hw.hpp"
#include "../vintc/vgic_fixture.hpp"
#include <gtest/gtest.h>
#include <algorithm>
#include <random>

using namespace arch::vgichw;
using vgic::LrState;
using vgic::VgicLr;

namespace {

VgicLr lr(u32 vintid, u8 prio, bool g1, LrState s, bool hw = false, u32 pintid = 0, bool eoi = false) {
    VgicLr l;
    l.vintid = vintid;
    l.priority = prio;
    l.group1 = g1;
    l.state = s;
    l.hw = hw;
    l.pintid = pintid;
    l.eoi_maintenance = eoi;
    return l;
}

bool same(const VgicLr& a, const VgicLr& b) {
    return a.vintid == b.vintid && a.priority == b.priority && a.group1 == b.group1 && a.state == b.state &&
           a.hw == b.hw && a.pintid == b.pintid && a.eoi_maintenance == b.eoi_maintenance;
}

// ESR_EL2 of a trapped MSR/MRS (EC 0x18, IL = 1).
constexpr u64 sysreg_esr(u64 op0, u64 op1, u64 crn, u64 crm, u64 op2, u64 rt, bool read) {
    return (0x18ull << 26) | (1ull << 25) | (op0 << 20) | (op2 << 17) | (op1 << 14) | (crn << 10) |
           (rt << 5) | (crm << 1) | (read ? 1 : 0);
}

} // namespace

// Compile-time: the encoders are usable in constant expressions (the header promises constexpr).
static_assert(encode_lr(VgicLr{27, 0xa0, true, LrState::Pending, true, 27, false}, 5) ==
              0x70a0001b0000001bull);
static_assert(decode_vtr(0x90000003).list_regs == 4);

TEST(VgicHwLr, FieldPositions) {
    // vINTID 27, pINTID 27, HW, Group 1, Priority 0xa0, State pending.
    EXPECT_EQ(encode_lr(lr(27, 0xa0, true, LrState::Pending, true, 27), 8),
              (1ull << 62) | (1ull << 61) | (1ull << 60) | (0xa0ull << 48) | (27ull << 32) | 27);
    // Software level SPI 40 with the EOI request (bit 41), group 0, active.
    EXPECT_EQ(encode_lr(lr(40, 0x80, false, LrState::Active, false, 0, true), 8),
              (2ull << 62) | (0x80ull << 48) | (1ull << 41) | 40);
    EXPECT_EQ(encode_lr(lr(1, 0, false, LrState::PendingActive), 8), (3ull << 62) | 1);
    // The largest 24-bit vINTID lands in [31:0] untouched.
    EXPECT_EQ(encode_lr(lr(0xffffff, 0, true, LrState::Pending), 8), (1ull << 62) | (1ull << 60) | 0xffffff);
    // A free LR is all zero whatever else the record holds.
    EXPECT_EQ(encode_lr(lr(40, 0xff, true, LrState::Invalid, true, 40), 8), 0u);
}

TEST(VgicHwLr, RoundTripsEveryField) {
    const LrState states[] = {LrState::Pending, LrState::Active, LrState::PendingActive};
    for (u32 vintid : {0u, 15u, 16u, 27u, 31u, 32u, 1019u, 1024u, 8191u, 65535u})
        for (LrState s : states)
            for (bool g1 : {false, true})
                for (u32 p = 0; p < 256; p += 8) { // all 5-bit priorities
                    VgicLr in = lr(vintid, u8(p), g1, s);
                    VgicLr out = decode_lr(encode_lr(in, 5));
                    EXPECT_TRUE(same(in, out)) << vintid << " " << int(s) << " " << g1 << " " << p;
                }
    for (u32 pintid : {16u, 25u, 27u, 31u, 32u, 511u, 512u, 1000u, 1019u})
        for (LrState s : {LrState::Pending, LrState::Active}) {
            VgicLr in = lr(33, 0x40, true, s, true, pintid);
            ASSERT_EQ(check_lr(in), LrCheck::Ok);
            VgicLr out = decode_lr(encode_lr(in, 8));
            EXPECT_TRUE(same(in, out)) << pintid;
            EXPECT_FALSE(out.eoi_maintenance) << pintid; // bit 41 is pINTID[9] here, not EOI
        }
    for (LrState s : {LrState::Pending, LrState::Active}) {
        VgicLr in = lr(40, 0x10, true, s, false, 0, true);
        EXPECT_TRUE(same(in, decode_lr(encode_lr(in, 8))));
    }
}

TEST(VgicHwLr, PintidBit9SharesBit41WithEoi) {
    // pINTID 512..1019 set bit 41, which reads as EOI only when HW = 0.
    u64 v = encode_lr(lr(50, 0, true, LrState::Pending, true, 512), 8);
    EXPECT_TRUE(v & (1ull << 41));
    EXPECT_EQ(decode_lr(v).pintid, 512u);
    EXPECT_FALSE(decode_lr(v).eoi_maintenance);
    // The same value without HW: the EOI request, and bits [40:32] (RES0) give no pINTID.
    VgicLr sw = decode_lr(v & ~(1ull << 61));
    EXPECT_FALSE(sw.hw);
    EXPECT_TRUE(sw.eoi_maintenance);
    EXPECT_EQ(sw.pintid, 0u);
    // pINTID is 13 bits wide [44:32]; a wider value is cut there and cannot spill into [47:45]
    // (RES0) or Priority.
    u64 wide = encode_lr(lr(50, 0, true, LrState::Pending, true, 0xffff), 8);
    EXPECT_EQ(bits(wide, 44, 32), 0x1fffu);
    EXPECT_EQ(bits(wide, 55, 45), 0u);
}

TEST(VgicHwLr, PriorityKeepsOnlyTheImplementedBits) {
    EXPECT_EQ(priority_mask(4), 0xf0);
    EXPECT_EQ(priority_mask(5), 0xf8);
    EXPECT_EQ(priority_mask(7), 0xfe);
    EXPECT_EQ(priority_mask(8), 0xff);
    EXPECT_EQ(decode_lr(encode_lr(lr(40, 0xa7, true, LrState::Pending), 5)).priority, 0xa0);
    EXPECT_EQ(decode_lr(encode_lr(lr(40, 0xaf, true, LrState::Pending), 4)).priority, 0xa0);
    EXPECT_EQ(decode_lr(encode_lr(lr(40, 0xa7, true, LrState::Pending), 8)).priority, 0xa7);
    EXPECT_EQ(decode_lr(encode_lr(lr(40, 0xff, true, LrState::Pending), 5)).priority, 0xf8);
}

TEST(VgicHwLr, ChecksWhatTheListRegisterCannotHold) {
    EXPECT_EQ(check_lr(lr(40, 0, true, LrState::Pending)), LrCheck::Ok);
    EXPECT_EQ(check_lr(lr(40, 0, true, LrState::Invalid)), LrCheck::InvalidState);
    for (u32 v : {1020u, 1021u, 1022u, 1023u}) EXPECT_EQ(check_lr(lr(v, 0, true, LrState::Pending)), LrCheck::BadVintid);
    EXPECT_EQ(check_lr(lr(1024, 0, true, LrState::Pending)), LrCheck::Ok);
    EXPECT_EQ(check_lr(lr(65535, 0, true, LrState::Pending), 16), LrCheck::Ok);
    EXPECT_EQ(check_lr(lr(65536, 0, true, LrState::Pending), 16), LrCheck::BadVintid);
    EXPECT_EQ(check_lr(lr(65536, 0, true, LrState::Pending), 24), LrCheck::Ok);
    EXPECT_EQ(check_lr(lr(1u << 24, 0, true, LrState::Pending), 24), LrCheck::BadVintid);
    // pINTID: PPIs and SPIs only.
    for (u32 p : {0u, 15u, 1020u, 1023u, 8191u})
        EXPECT_EQ(check_lr(lr(27, 0, true, LrState::Pending, true, p)), LrCheck::BadPintid) << p;
    for (u32 p : {16u, 1019u}) EXPECT_EQ(check_lr(lr(27, 0, true, LrState::Pending, true, p)), LrCheck::Ok) << p;
    EXPECT_EQ(check_lr(lr(27, 0, true, LrState::Pending, true, 27, true)), LrCheck::EoiWithHw);
    // P+A: software edge only.
    EXPECT_EQ(check_lr(lr(41, 0, true, LrState::PendingActive)), LrCheck::Ok);
    EXPECT_EQ(check_lr(lr(27, 0, true, LrState::PendingActive, true, 27)), LrCheck::PendingActive);
    EXPECT_EQ(check_lr(lr(40, 0, true, LrState::PendingActive, false, 0, true)), LrCheck::PendingActive);
    EXPECT_EQ(check_lr(lr(40, 0, true, LrState::Active, false, 0, true)), LrCheck::Ok);
}

TEST(VgicHwRegs, VtrFields) {
    // QEMU cortex-a72: 4 LRs, 5 priority and preemption bits, 16-bit IDs.
    Vtr q = decode_vtr((4ull << 29) | (4ull << 26) | 3);
    EXPECT_EQ(q.list_regs, 4u);
    EXPECT_EQ(q.pri_bits, 5u);
    EXPECT_EQ(q.pre_bits, 5u);
    EXPECT_EQ(q.id_bits, 16u);
    EXPECT_EQ(q.apr_count(), 1u);
    EXPECT_FALSE(q.tds);
    Vtr m = decode_vtr((7ull << 29) | (6ull << 26) | (1ull << 23) | (1ull << 22) | (1ull << 21) | (1ull << 20) |
                       (1ull << 19) | 15);
    EXPECT_EQ(m.list_regs, 16u);
    EXPECT_EQ(m.pri_bits, 8u);
    EXPECT_EQ(m.pre_bits, 7u);
    EXPECT_EQ(m.id_bits, 24u);
    EXPECT_EQ(m.apr_count(), 4u);
    EXPECT_TRUE(m.seis && m.a3v && m.nv4 && m.tds);
    EXPECT_EQ(decode_vtr(5ull << 26).apr_count(), 2u);
    EXPECT_EQ(decode_vtr(0).list_regs, 1u);
    EXPECT_EQ(decode_vtr(31).list_regs, 16u); // reserved ListRegs values: only 16 LRs are addressable
}

TEST(VgicHwRegs, HcrRoundTripsEachField) {
    const u64 field_bits[] = {0, 1, 2, 3, 4, 5, 6, 7, 10, 11, 12, 13, 14};
    for (u64 b : field_bits) {
        Hcr h = decode_hcr(1ull << b);
        EXPECT_EQ(encode_hcr(h), 1ull << b) << b;
        EXPECT_EQ(h.eoicount, 0u);
    }
    Hcr h = decode_hcr(1ull << 0);
    EXPECT_TRUE(h.en);
    EXPECT_TRUE(decode_hcr(1ull << 1).uie);
    EXPECT_TRUE(decode_hcr(1ull << 2).lrenpie);
    EXPECT_TRUE(decode_hcr(1ull << 3).npie);
    EXPECT_TRUE(decode_hcr(1ull << 14).tdir);
    EXPECT_TRUE(decode_hcr(1ull << 12).tall1);
    for (u32 n = 0; n < 32; ++n) {
        u64 v = u64(n) << 27;
        EXPECT_EQ(decode_hcr(v).eoicount, n);
        EXPECT_EQ(encode_hcr(decode_hcr(v)), v);
    }
    // Bits the decoder does not model (vSGIEOICount[8], DVIM[15], RES0) are dropped, not kept.
    EXPECT_EQ(encode_hcr(decode_hcr((1ull << 8) | (1ull << 15) | (1ull << 40))), 0u);
}

TEST(VgicHwRegs, HcrFromTheModelsMaintenanceRequests) {
    VgicFlush f;
    EXPECT_EQ(encode_hcr(hcr_for_entry(f)), 1u); // En only
    f.uie = true;
    EXPECT_EQ(encode_hcr(hcr_for_entry(f)), 0x3u);
    f.uie = false;
    f.npie = true;
    EXPECT_EQ(encode_hcr(hcr_for_entry(f)), 0x9u);
    f.lrenpie = true;
    EXPECT_EQ(encode_hcr(hcr_for_entry(f)), 0xdu);
    f.uie = true;
    f.used = 4;
    f.kick = vgic::VcpuSet::of(3);
    EXPECT_EQ(encode_hcr(hcr_for_entry(f)), 0xfu); // used/kick are not HCR's business
}

TEST(VgicHwRegs, MisrAndLrBitmaps) {
    Misr none = decode_misr(0);
    EXPECT_FALSE(none.eoi || none.u || none.lrenp || none.np || none.vgrp0e || none.vgrp0d || none.vgrp1e || none.vgrp1d);
    EXPECT_TRUE(decode_misr(1).eoi);
    EXPECT_TRUE(decode_misr(2).u);
    EXPECT_TRUE(decode_misr(4).lrenp);
    EXPECT_TRUE(decode_misr(8).np);
    EXPECT_TRUE(decode_misr(0x10).vgrp0e);
    EXPECT_TRUE(decode_misr(0x20).vgrp0d);
    EXPECT_TRUE(decode_misr(0x40).vgrp1e);
    EXPECT_TRUE(decode_misr(0x80).vgrp1d);
    EXPECT_FALSE(decode_misr(2).eoi);
    EXPECT_EQ(lr_bitmap(0xffffffffffffffffull, 4), 0xfu);
    EXPECT_EQ(lr_bitmap(0x5, 2), 0x1u);
    EXPECT_EQ(lr_bitmap(0xffff, 16), 0xffffu);
    EXPECT_EQ(lr_bitmap(0x1ffff, 16), 0xffffu);
    EXPECT_EQ(lr_bitmap(0xff, 0), 0u);
}

TEST(VgicHwRegs, VmcrAndTheWakeUpTest) {
    u64 v = (0xf0ull << 24) | (0x5ull << 21) | (0x3ull << 18) | (1ull << 9) | 0x1f;
    Vmcr m = decode_vmcr(v);
    EXPECT_EQ(m.vpmr, 0xf0);
    EXPECT_EQ(m.vbpr0, 5);
    EXPECT_EQ(m.vbpr1, 3);
    EXPECT_TRUE(m.veoim && m.veng0 && m.veng1 && m.vackctl && m.vfiqen && m.vcbpr);
    EXPECT_TRUE(vmcr_admits(m, 0xa0, true));
    EXPECT_FALSE(vmcr_admits(m, 0xf0, true)); // equal to the mask: masked
    Vmcr g1off = decode_vmcr((0xf0ull << 24) | 0x1);
    EXPECT_FALSE(vmcr_admits(g1off, 0xa0, true));
    EXPECT_TRUE(vmcr_admits(g1off, 0xa0, false));
    EXPECT_FALSE(vmcr_admits(decode_vmcr(0x3), 0x00, true)); // PMR 0 masks everything
}

TEST(VgicHwSgi, IdentifiesTheThreeSgiRegisters) {
    SgiTrap a = decode_sgi_trap(sysreg_esr(3, 0, 12, 11, 5, 7, false));
    EXPECT_EQ(a.reg, SgiReg::Sgi1r);
    EXPECT_TRUE(a.write);
    EXPECT_EQ(a.rt, 7);
    EXPECT_TRUE(a.group1);
    SgiTrap b = decode_sgi_trap(sysreg_esr(3, 0, 12, 11, 6, 30, false));
    EXPECT_EQ(b.reg, SgiReg::Asgi1r);
    EXPECT_EQ(b.rt, 30);
    EXPECT_FALSE(b.group1);
    SgiTrap c = decode_sgi_trap(sysreg_esr(3, 0, 12, 11, 7, 31, false));
    EXPECT_EQ(c.reg, SgiReg::Sgi0r);
    EXPECT_EQ(c.rt, 31);
    EXPECT_FALSE(c.group1);
    // A read of a write-only register is still recognised, with the direction.
    SgiTrap r = decode_sgi_trap(sysreg_esr(3, 0, 12, 11, 5, 2, true));
    EXPECT_EQ(r.reg, SgiReg::Sgi1r);
    EXPECT_FALSE(r.write);
}

TEST(VgicHwSgi, RejectsEverythingElse) {
    // Neighbours in the ICC_* space: op2 0..4 (DIR, RPR, unallocated), CRm 12 (IAR1...), op1/op0 off.
    for (u64 op2 = 0; op2 < 5; ++op2)
        EXPECT_EQ(decode_sgi_trap(sysreg_esr(3, 0, 12, 11, op2, 0, false)).reg, SgiReg::None) << op2;
    EXPECT_EQ(decode_sgi_trap(sysreg_esr(3, 0, 12, 12, 5, 0, false)).reg, SgiReg::None);
    EXPECT_EQ(decode_sgi_trap(sysreg_esr(3, 1, 12, 11, 5, 0, false)).reg, SgiReg::None);
    EXPECT_EQ(decode_sgi_trap(sysreg_esr(3, 4, 12, 11, 5, 0, false)).reg, SgiReg::None); // ICH_ELRSR_EL2
    EXPECT_EQ(decode_sgi_trap(sysreg_esr(2, 0, 12, 11, 5, 0, false)).reg, SgiReg::None);
    EXPECT_EQ(decode_sgi_trap(sysreg_esr(3, 0, 13, 11, 5, 0, false)).reg, SgiReg::None);
    // Same ISS under another exception class (a data abort with these bits) is not a sysreg trap.
    u64 esr = sysreg_esr(3, 0, 12, 11, 5, 0, false);
    EXPECT_EQ(decode_sgi_trap((esr & ~(0x3full << 26)) | (0x24ull << 26)).reg, SgiReg::None);
}

// The model's LRs survive the trip through the hardware format: flush, encode, the "guest" acts on
// the 64-bit values as the CPU interface would, decode, fold.
TEST(VgicHwModel, FlushEncodeDecodeFold) {
    using namespace vgic_test;
    auto g = make(1, 32);
    setup_spi(*g, 40, 0x80, Cfg::Level); // software level: EOI maintenance
    setup_spi(*g, 41, 0x90, Cfg::Edge);
    setup_spi(*g, 42, 0xa0, Cfg::Level);
    ASSERT_TRUE(g->set_hw(42, 42).is_ok());
    ASSERT_TRUE(g->set_line(40, true).is_ok());
    ASSERT_TRUE(g->raise(41).is_ok());
    ASSERT_TRUE(g->set_line(42, true).is_ok());

    VgicLr lrs[vgic::MaxLrs];
    VgicFlush f = g->flush(0, lrs, 4);
    ASSERT_EQ(f.used, 3u);
    u64 hw[4] = {};
    for (u32 i = 0; i < f.used; ++i) {
        ASSERT_EQ(check_lr(lrs[i]), LrCheck::Ok) << i;
        hw[i] = encode_lr(lrs[i], 5);
    }
    // Find each LR by its vINTID and check what the CPU interface would see.
    auto find = [&](u32 vintid) {
        for (u32 i = 0; i < f.used; ++i)
            if (bits(hw[i], 31, 0) == vintid) return i;
        ADD_FAILURE() << vintid;
        return 0u;
    };
    u32 i40 = find(40), i41 = find(41), i42 = find(42);
    EXPECT_TRUE(hw[i40] & (1ull << 41));  // EOI
    EXPECT_FALSE(hw[i41] & (1ull << 41));
    EXPECT_TRUE(hw[i42] & (1ull << 61));  // HW
    EXPECT_EQ(bits(hw[i42], 44, 32), 42u);
    // Guest: acknowledges and deactivates 40 (line still low afterwards -> source lowered it),
    // takes 41 (active), leaves 42 pending. Hardware: 40 invalid with EOI -> EISR, not ELRSR.
    ASSERT_TRUE(g->set_line(40, false).is_ok());
    hw[i40] &= ~(3ull << 62);
    hw[i41] = (hw[i41] & ~(3ull << 62)) | (2ull << 62);
    VgicLr back[vgic::MaxLrs];
    for (u32 i = 0; i < f.used; ++i) back[i] = decode_lr(hw[i]);
    (void)g->fold(0, back, 0, 0);
    EXPECT_FALSE(state(*g, 40).active);
    EXPECT_FALSE(state(*g, 40).pending());
    EXPECT_TRUE(state(*g, 41).active);
    EXPECT_FALSE(state(*g, 41).pending());
    EXPECT_TRUE(state(*g, 42).pending());
    EXPECT_TRUE(g->lists_consistent());
}

// The contract between the model and this layer, under whatever a guest and its devices do:
// every LR the model hands out passes check_lr (so flush() never panics), for random
// configuration changes (trigger, enable, priority, pend, activate), HW links, line levels and
// guest actions on the LRs as the CPU interface performs them.
TEST(VgicHwModel, EveryFlushedLrIsEncodable) {
    using namespace vgic_test;
    auto g = make(2, 32);
    std::mt19937 rng(12345);
    auto pick = [&](u32 n) { return u32(rng() % n); };
    const u32 spis[] = {32, 33, 40, 41, 42, 50, 63};
    for (u32 s : spis) setup_spi(*g, s, u8(pick(256)), pick(2) ? Cfg::Edge : Cfg::Level, pick(2));
    for (u16 v = 0; v < 2; ++v)
        for (u32 p : {1u, 5u, 27u, 30u}) setup_private(*g, v, p, u8(pick(256)));
    ASSERT_TRUE(g->set_hw(42, 42).is_ok());
    ASSERT_TRUE(g->set_hw(27, 27, 0).is_ok());
    ASSERT_TRUE(g->set_hw(27, 27, 1).is_ok());
    u32 checked = 0, hw_seen = 0, pa_seen = 0, eoi_seen = 0;
    for (int round = 0; round < 4000; ++round) {
        // Sources and the guest's distributor writes.
        for (int k = 0; k < 3; ++k) {
            u32 spi = spis[pick(7)];
            switch (pick(9)) {
            case 0: (void)g->raise(spi); break;
            case 1: (void)g->set_line(spi, pick(2)); break;
            case 2: (void)g->set_line(27, pick(2), u16(pick(2))); break;
            case 3: (void)g->send_sgi(u16(pick(2)), (u64(pick(16)) << 24) | 3, pick(2)); break;
            case 4: { // ICFGR: flip edge/level
                u64 off = ICFGR + 4 * (spi / 16), b = 2ull << (2 * (spi % 16));
                wr(*g, off, rd(*g, off) ^ b);
                break;
            }
            case 5: wr(*g, word(pick(2) ? ISENABLER : ICENABLER, spi), mask(spi)); break;
            case 6: wr(*g, IPRIORITYR + spi, pick(256), 1); break;
            case 7: wr(*g, word(pick(2) ? ISPENDR : ICPENDR, spi), mask(spi)); break;
            case 8: wr(*g, word(pick(2) ? ISACTIVER : ICACTIVER, spi), mask(spi)); break;
            }
        }
        (void)g->take_kicks();
        for (u16 v = 0; v < 2; ++v) {
            VgicLr lrs[vgic::MaxLrs];
            VgicFlush f = g->flush(v, lrs, 4);
            u64 hw[4] = {};
            for (u32 i = 0; i < f.used; ++i) {
                ASSERT_EQ(check_lr(lrs[i]), LrCheck::Ok) << "round " << round << " vINTID " << lrs[i].vintid;
                hw[i] = encode_lr(lrs[i], 5);
                ++checked;
                hw_seen += lrs[i].hw;
                pa_seen += lrs[i].state == LrState::PendingActive;
                eoi_seen += lrs[i].eoi_maintenance;
            }
            // The guest: acknowledge (P -> A), deactivate (A -> I, P+A -> P), or leave it.
            u64 elrsr = 0;
            for (u32 i = 0; i < f.used; ++i) {
                u64 st = bits(hw[i], 63, 62), a = pick(3);
                if (a == 0 && st == 1) st = 2;
                else if (a == 1 && st == 2) st = 0;
                else if (a == 1 && st == 3) st = 1;
                hw[i] = (hw[i] & ~(3ull << 62)) | (st << 62);
                bool is_hw = hw[i] & (1ull << 61), eoi = !is_hw && (hw[i] & (1ull << 41));
                if (st == 0 && !eoi) elrsr |= 1ull << i;
            }
            VgicLr back[vgic::MaxLrs];
            for (u32 i = 0; i < f.used; ++i) back[i] = decode_lr(hw[i]);
            (void)g->fold(v, back, elrsr, f.lrenpie ? pick(2) : 0);
        }
        ASSERT_TRUE(g->lists_consistent()) << round;
    }
    // The run covered the interesting kinds of LR, or it proves little.
    EXPECT_GT(checked, 1000u);
    EXPECT_GT(hw_seen, 0u);
    EXPECT_GT(pa_seen, 0u);
    EXPECT_GT(eoi_seen, 0u);
}

// The live adds of the fast path (Vgic::raise_live / send_sgi_live) skip check_lr() in the image
// (vgic_hw.cpp live_commit): every one of them must pass it. A random story of sources, register
// writes, guest LR actions and live adds of the timer PPI and of SGIs to self.
TEST(VgicHwModel, EveryLiveAddIsEncodable) {
    using namespace vgic_test;
    auto g = make(2, 32);
    std::mt19937 rng(4242);
    auto pick = [&](u32 n) { return u32(rng() % n); };
    setup_spi(*g, 40, 0x40, Cfg::Edge, 0);
    setup_spi(*g, 41, 0xc0, Cfg::Level, 0);
    for (u16 v = 0; v < 2; ++v)
        for (u32 p : {1u, 2u, 5u, 27u}) setup_private(*g, v, p, u8(pick(256)));
    ASSERT_TRUE(g->set_hw(27, 27, 0).is_ok());
    u32 live = 0, refused = 0;
    for (int round = 0; round < 3000; ++round) {
        if (pick(4) == 0) (void)g->raise(40);
        if (pick(4) == 0) (void)g->set_line(41, pick(2));
        if (pick(8) == 0) (void)g->send_sgi(1, (u64(pick(3)) << 24) | 1); // from vCPU 1 to vCPU 0
        if (pick(16) == 0) rwr(*g, 0, SGI_BASE + IPRIORITYR + 2, pick(256), 1);
        const u32 nr = 1 + pick(4);
        u64 hw[vgic::MaxLrs] = {};
        u32 used = 0;
        bool idle = g->idle(0);
        if (!idle) {
            VgicLr lrs[vgic::MaxLrs];
            VgicFlush f = g->flush(0, lrs, nr);
            for (u32 i = 0; i < f.used; ++i) hw[i] = encode_lr(lrs[i], 5);
            used = f.used;
        }
        for (int step = 0; step < 4; ++step) {
            // The guest acts on its LRs, then an exit adds one interrupt live, or not.
            u64 elrsr = 0;
            for (u32 i = 0; i < used; ++i) {
                u64 st = bits(hw[i], 63, 62), a = pick(3);
                if (a == 0 && st == 1) st = 2;
                else if (a == 1 && st == 2) st = 0;
                hw[i] = (hw[i] & ~(3ull << 62)) | (st << 62);
                bool is_hw = hw[i] & (1ull << 61), eoi = !is_hw && (hw[i] & (1ull << 41));
                if (st == 0 && !eoi) elrsr |= 1ull << i;
            }
            vgic::LiveAdd add;
            const vgic::LiveLrs view{nr, idle ? 0 : elrsr, idle};
            const bool ok = pick(2) ? g->raise_live(27, 0, view, add)
                                    : g->send_sgi_live(0, (u64(1 + pick(2)) << 24) | 1, pick(4) != 0, view, add);
            if (!ok) { ++refused; continue; }
            ++live;
            ASSERT_EQ(check_lr(add.lr), LrCheck::Ok) << "round " << round << " vINTID " << add.lr.vintid;
            ASSERT_LT(add.index, nr);
            hw[add.index] = encode_lr(add.lr, 5);
            used = std::max(used, add.used);
            idle = false;
        }
        u64 elrsr = 0;
        VgicLr back[vgic::MaxLrs];
        for (u32 i = 0; i < used; ++i) {
            back[i] = decode_lr(hw[i]);
            bool is_hw = hw[i] & (1ull << 61), eoi = !is_hw && (hw[i] & (1ull << 41));
            if (bits(hw[i], 63, 62) == 0 && !eoi) elrsr |= 1ull << i;
        }
        if (!idle) (void)g->fold(0, back, elrsr, 0);
        ASSERT_TRUE(g->lists_consistent()) << round;
    }
    // Both outcomes happened often, or the story proves little.
    EXPECT_GT(live, 250u) << refused;
    EXPECT_GT(refused, 250u) << live;
}
