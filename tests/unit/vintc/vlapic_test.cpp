// The vLAPIC model (src/vintc/vlapic.*) against Intel SDM vol. 3A chapter 11, through its registers
// as a guest reaches them and the backend's deliverable()/acknowledge() as the CPU takes interrupts.
#include "vintc/vlapic.hpp"
#include <gtest/gtest.h>
#include <map>
#include <memory>

namespace {
using namespace vlapic;

// Offsets spelled out (SDM table 11-1) so the tests do not share the model's constants.
constexpr u64 R_ID = 0x20, R_VER = 0x30, R_TPR = 0x80, R_PPR = 0xA0, R_EOI = 0xB0, R_LDR = 0xD0, R_DFR = 0xE0,
              R_SVR = 0xF0, R_ISR = 0x100, R_TMR = 0x180, R_IRR = 0x200, R_ESR = 0x280, R_ICR_LO = 0x300,
              R_ICR_HI = 0x310, R_LVT_TIMER = 0x320, R_LVT_LINT0 = 0x350, R_TIMER_INIT = 0x380, R_TIMER_CUR = 0x390,
              R_TIMER_DIV = 0x3E0;
constexpr u64 HZ = 1'000'000'000; // host counter: 1 GHz, so 10 host ticks per timer tick at divide 1

struct Timers {
    std::map<u32, u64> armed; // vCPU -> deadline (~0 = disarmed)
    static void arm(Vlapic& l, u32 vcpu, u64 d) { static_cast<Timers*>(l.config().ctx)->armed[vcpu] = d; }
};

struct VlapicTest : ::testing::Test {
    Timers timers;
    std::unique_ptr<Vlapic> l;
    u64 now = 1000;
    void make(u32 vcpus, u32 lines = 4) {
        VlapicConfig c;
        c.vcpu_count = vcpus;
        c.lines = lines;
        c.host_hz = HZ;
        c.arm_timer = Timers::arm;
        c.ctx = &timers;
        auto r = Vlapic::create(c);
        ASSERT_TRUE(r.is_ok());
        l.reset(r.value());
    }
    u32 rd(u32 vcpu, u64 off) {
        auto r = l->mmio_read(vcpu, off, 4, now);
        EXPECT_TRUE(r.is_ok()) << std::hex << off;
        return r.is_ok() ? u32(r.value()) : 0xDEAD;
    }
    u32 wr(u32 vcpu, u64 off, u32 v) {
        auto r = l->mmio_write(vcpu, off, 4, v, now);
        EXPECT_TRUE(r.is_ok()) << std::hex << off;
        return r.is_ok() ? r.value().bits() : 0xDEAD;
    }
    void enable(u32 vcpu) { wr(vcpu, R_SVR, 0x1FF); }
    bool irr(u32 vcpu, u32 v) { return (rd(vcpu, R_IRR + 16 * (v / 32)) >> (v % 32)) & 1; }
    bool isr(u32 vcpu, u32 v) { return (rd(vcpu, R_ISR + 16 * (v / 32)) >> (v % 32)) & 1; }
    // A fixed self-IPI (ICR shorthand 01, 11.6.1).
    void self_ipi(u32 vcpu, u8 vector) { wr(vcpu, R_ICR_LO, (1u << 18) | vector); }
};

TEST_F(VlapicTest, ResetStateAndIdentity) {
    make(3);
    for (u32 i = 0; i < 3; ++i) {
        EXPECT_EQ(rd(i, R_ID), i << 24);
        EXPECT_EQ(rd(i, R_VER), 0x50014u);
        EXPECT_EQ(rd(i, R_SVR), 0xFFu);          // software disabled
        EXPECT_EQ(rd(i, R_DFR), 0xFFFF'FFFFu);
        EXPECT_EQ(rd(i, R_LVT_TIMER), 1u << 16); // masked
    }
    wr(1, R_ID, 7u << 24); // read-only here: ignored
    EXPECT_EQ(rd(1, R_ID), 1u << 24);
}

TEST_F(VlapicTest, DisabledApicAcceptsNothing) {
    make(1);
    self_ipi(0, 0x40);
    EXPECT_FALSE(irr(0, 0x40));
    EXPECT_EQ(l->deliverable(0), 0);
    enable(0);
    self_ipi(0, 0x40);
    EXPECT_TRUE(irr(0, 0x40));
    EXPECT_EQ(l->deliverable(0), 0x40);
    // Disabling again: nothing is presented, IRR is kept, LVTs are masked and stay masked.
    wr(0, R_SVR, 0xFF);
    EXPECT_EQ(l->deliverable(0), 0);
    EXPECT_TRUE(irr(0, 0x40));
    wr(0, R_LVT_LINT0, 0x30);
    EXPECT_EQ(rd(0, R_LVT_LINT0) & (1u << 16), 1u << 16);
}

TEST_F(VlapicTest, PriorityClassesTprAndPpr) {
    make(1);
    enable(0);
    wr(0, R_TPR, 0x50);
    self_ipi(0, 0x45); // class 4 <= TPR class 5: held
    EXPECT_EQ(l->deliverable(0), 0);
    self_ipi(0, 0x5F); // class 5: not above 5, held
    EXPECT_EQ(l->deliverable(0), 0);
    self_ipi(0, 0x61); // class 6: presented
    EXPECT_EQ(l->deliverable(0), 0x61);
    EXPECT_EQ(l->acknowledge(0), 0x61);
    EXPECT_TRUE(isr(0, 0x61));
    EXPECT_FALSE(irr(0, 0x61));
    EXPECT_EQ(rd(0, R_PPR), 0x60u); // ISRV class above TPR's
    wr(0, R_TPR, 0x00);
    EXPECT_EQ(rd(0, R_PPR), 0x60u);
    EXPECT_EQ(l->deliverable(0), 0); // 0x5F, 0x45 are below the in-service class
    self_ipi(0, 0x62);                // same class as in service: held too
    EXPECT_EQ(l->deliverable(0), 0);
    self_ipi(0, 0x70);
    EXPECT_EQ(l->deliverable(0), 0x70); // nests above
}

TEST_F(VlapicTest, EoiEndsTheHighestInService) {
    make(1);
    enable(0);
    self_ipi(0, 0x41);
    EXPECT_EQ(l->acknowledge(0), 0x41);
    self_ipi(0, 0x81);
    EXPECT_EQ(l->acknowledge(0), 0x81);
    self_ipi(0, 0x42);
    EXPECT_EQ(l->deliverable(0), 0); // class 4 under 0x81 in service
    wr(0, R_EOI, 0);
    EXPECT_FALSE(isr(0, 0x81));
    EXPECT_TRUE(isr(0, 0x41));
    EXPECT_EQ(l->deliverable(0), 0); // 0x42 is the same class as 0x41
    wr(0, R_EOI, 0);
    EXPECT_FALSE(isr(0, 0x41));
    EXPECT_EQ(l->deliverable(0), 0x42);
    wr(0, R_EOI, 0); // nothing in service: no effect
    EXPECT_EQ(l->deliverable(0), 0x42);
}

TEST_F(VlapicTest, IllegalVectorsSetEsr) {
    make(2);
    enable(0);
    enable(1);
    wr(0, R_ICR_HI, 1u << 24);
    wr(0, R_ICR_LO, 0x0F); // fixed, vector 15
    EXPECT_EQ(l->deliverable(1), 0);
    wr(0, R_ESR, 0);
    EXPECT_EQ(rd(0, R_ESR), 1u << 5); // send illegal vector
    wr(0, R_ESR, 0);
    EXPECT_EQ(rd(0, R_ESR), 0u);
}

TEST_F(VlapicTest, IcrPhysicalLogicalAndShorthands) {
    make(4);
    for (u32 i = 0; i < 4; ++i) enable(i);
    // Physical destination 2.
    wr(0, R_ICR_HI, 2u << 24);
    EXPECT_EQ(wr(0, R_ICR_LO, 0x50), 1u << 2);
    EXPECT_EQ(l->deliverable(2), 0x50);
    EXPECT_EQ(l->deliverable(1), 0);
    // A destination the VM does not have: nobody.
    wr(0, R_ICR_HI, 9u << 24);
    EXPECT_EQ(wr(0, R_ICR_LO, 0x51), 0u);
    // Broadcast 0xFF: everyone, the sender too.
    wr(0, R_ICR_HI, 0xFFu << 24);
    EXPECT_EQ(wr(0, R_ICR_LO, 0x52), 0xFu);
    // All but self.
    EXPECT_EQ(wr(1, R_ICR_LO, (3u << 18) | 0x53), 0b1101u);
    EXPECT_FALSE(irr(1, 0x53));
    EXPECT_TRUE(irr(3, 0x53));
    // Logical flat: LDR bits.
    wr(1, R_LDR, 0x02u << 24);
    wr(3, R_LDR, 0x08u << 24);
    wr(0, R_ICR_HI, 0x0Au << 24);
    EXPECT_EQ(wr(0, R_ICR_LO, (1u << 11) | 0x54), 0b1010u);
    // Lowest priority to both: the lowest-numbered takes it.
    EXPECT_EQ(wr(0, R_ICR_LO, (1u << 11) | (1u << 8) | 0x55), 0b0010u);
    EXPECT_TRUE(irr(1, 0x55));
    EXPECT_FALSE(irr(3, 0x55));
    // Logical cluster model: not emulated, counted.
    wr(3, R_DFR, 0x0FFF'FFFF);
    const u64 before = l->unsupported_ipis();
    EXPECT_EQ(wr(0, R_ICR_LO, (1u << 11) | 0x56), 0u);
    EXPECT_EQ(l->unsupported_ipis(), before + 1);
    // NMI: not delivered, counted.
    wr(0, R_ICR_HI, 1u << 24);
    EXPECT_EQ(wr(0, R_ICR_LO, (4u << 8)), 0u);
    EXPECT_EQ(l->unsupported_ipis(), before + 2);
    // Delivery status reads 0: sent.
    EXPECT_EQ(rd(0, R_ICR_LO) & (1u << 12), 0u);
}

TEST_F(VlapicTest, InitSipiStartsOnlyWaitingVcpus) {
    make(3);
    enable(0);
    EXPECT_EQ(l->start_requests(), 0u);
    // INIT assert to vCPU 1, then SIPI vector 0x08 twice (as Linux does).
    wr(0, R_ICR_HI, 1u << 24);
    wr(0, R_ICR_LO, (5u << 8) | (1u << 14));
    wr(0, R_ICR_LO, (6u << 8) | 0x08);
    wr(0, R_ICR_LO, (6u << 8) | 0x09);
    EXPECT_EQ(l->start_requests(), 1u << 1);
    u32 who = 99;
    u8 vec = 0;
    ASSERT_TRUE(l->take_start(who, vec));
    EXPECT_EQ(who, 1u);
    EXPECT_EQ(vec, 0x08); // the second SIPI found it running
    EXPECT_FALSE(l->take_start(who, vec));
    // SIPI to the boot vCPU (running) is ignored; INIT to a running vCPU is counted, not done.
    wr(1, R_ICR_HI, 0);
    wr(1, R_ICR_LO, (6u << 8) | 0x10);
    EXPECT_EQ(l->start_requests(), 0u);
    const u64 before = l->unsupported_ipis();
    wr(1, R_ICR_LO, (5u << 8) | (1u << 14));
    EXPECT_EQ(l->unsupported_ipis(), before + 1);
    EXPECT_EQ(rd(0, R_SVR), 0x1FFu); // vCPU 0's APIC untouched
    // INIT level de-assert: no effect at all.
    wr(0, R_ICR_HI, 2u << 24);
    wr(0, R_ICR_LO, (5u << 8) | (1u << 15));
    EXPECT_EQ(l->unsupported_ipis(), before + 1);
    // All-but-self SIPI reaches vCPU 2 only (1 is running).
    wr(0, R_ICR_LO, (3u << 18) | (6u << 8) | 0x20);
    EXPECT_EQ(l->start_requests(), 1u << 2);
    // reset(): back to power-on, requests dropped, 1 and 2 wait again.
    l->reset();
    EXPECT_EQ(l->start_requests(), 0u);
    wr(0, R_ICR_LO, (3u << 18) | (6u << 8) | 0x21);
    EXPECT_EQ(l->start_requests(), 0b110u);
}

TEST_F(VlapicTest, OneShotTimerArithmetic) {
    make(1);
    enable(0);
    wr(0, R_TIMER_DIV, 0xB); // divide by 1
    wr(0, R_LVT_TIMER, 0x40); // one-shot, vector 0x40, unmasked
    wr(0, R_TIMER_INIT, 1000); // 1000 timer ticks = 10 us = 10000 host ticks at 1 GHz / 100 MHz
    EXPECT_EQ(timers.armed[0], now + 10000);
    EXPECT_EQ(l->timer_deadline(0), now + 10000);
    now += 2500;
    EXPECT_EQ(rd(0, R_TIMER_CUR), 750u);
    // Early host timer: nothing yet, re-armed.
    EXPECT_TRUE(l->timer_fired(0, now).empty());
    EXPECT_EQ(timers.armed[0], 1000u + 10000);
    now = 1000 + 10000;
    EXPECT_EQ(l->timer_fired(0, now).bits(), 1u);
    EXPECT_EQ(l->deliverable(0), 0x40);
    EXPECT_EQ(rd(0, R_TIMER_CUR), 0u);
    EXPECT_EQ(timers.armed[0], ~0ull);
    EXPECT_EQ(rd(0, R_TIMER_INIT), 1000u);
    // Divide by 16 (0b0011): 1000 ticks = 160000 host ticks.
    wr(0, R_TIMER_DIV, 0x3);
    wr(0, R_TIMER_INIT, 1000);
    EXPECT_EQ(timers.armed[0], now + 160000);
    now += 16000;
    EXPECT_EQ(rd(0, R_TIMER_CUR), 900u);
    // Divide by 128 (0b1010) and by 2 (0b0000).
    wr(0, R_TIMER_DIV, 0xA);
    wr(0, R_TIMER_INIT, 10);
    EXPECT_EQ(timers.armed[0], now + 12800);
    wr(0, R_TIMER_DIV, 0x0);
    wr(0, R_TIMER_INIT, 10);
    EXPECT_EQ(timers.armed[0], now + 200);
    // Initial count 0 stops it.
    wr(0, R_TIMER_INIT, 0);
    EXPECT_EQ(timers.armed[0], ~0ull);
    EXPECT_EQ(rd(0, R_TIMER_CUR), 0u);
}

TEST_F(VlapicTest, PeriodicTimerReloadsAndMaskedTimerCounts) {
    make(1);
    enable(0);
    wr(0, R_TIMER_DIV, 0xB);
    wr(0, R_LVT_TIMER, (1u << 17) | 0x41); // periodic
    wr(0, R_TIMER_INIT, 100000);           // 1 ms: 1000000 host ticks
    const u64 t0 = now;
    now = t0 + 1000000;
    EXPECT_EQ(l->timer_fired(0, now).bits(), 1u);
    EXPECT_EQ(timers.armed[0], t0 + 2000000);
    EXPECT_EQ(l->acknowledge(0), 0x41);
    wr(0, R_EOI, 0);
    // The host was late by 2.5 periods: one interrupt, the next deadline stays in phase.
    now = t0 + 4500000;
    EXPECT_EQ(l->timer_fired(0, now).bits(), 1u);
    EXPECT_EQ(timers.armed[0], t0 + 5000000);
    EXPECT_EQ(rd(0, R_TIMER_CUR), 50000u);
    EXPECT_EQ(l->acknowledge(0), 0x41);
    wr(0, R_EOI, 0);
    // Masked: counts and reloads, raises nothing.
    wr(0, R_LVT_TIMER, (1u << 17) | (1u << 16) | 0x41);
    now = t0 + 5000000;
    EXPECT_TRUE(l->timer_fired(0, now).empty());
    EXPECT_EQ(l->deliverable(0), 0);
    EXPECT_EQ(timers.armed[0], t0 + 6000000);
    // To TSC-deadline mode (not offered): disarmed.
    wr(0, R_LVT_TIMER, (2u << 17) | 0x41);
    EXPECT_EQ(timers.armed[0], ~0ull);
}

TEST_F(VlapicTest, PeriodicTimerHasAFloorOneShotHasNot) {
    make(1);
    enable(0);
    wr(0, R_TIMER_DIV, 0xB);
    wr(0, R_LVT_TIMER, (1u << 17) | 0x41);
    wr(0, R_TIMER_INIT, 1); // 10 host ticks asked; 100 us = 100000 host ticks given
    EXPECT_EQ(timers.armed[0], now + MinPeriodUs * 1000);
    wr(0, R_LVT_TIMER, 0x41); // one-shot: as asked
    wr(0, R_TIMER_INIT, 1);
    EXPECT_EQ(timers.armed[0], now + 10);
}

TEST_F(VlapicTest, LevelLineReassertsAfterEoiWhileHigh) {
    make(2, 4);
    enable(0);
    EXPECT_TRUE(l->is_shared_line(4));
    EXPECT_FALSE(l->is_shared_line(5));
    EXPECT_FALSE(l->is_shared_line(0));
    EXPECT_EQ(l->set_line(5, true).error(), Error::OutOfRange);
    auto k = l->set_line(4, true);
    ASSERT_TRUE(k.is_ok());
    EXPECT_EQ(k.value().bits(), 1u); // vCPU 0
    EXPECT_EQ(l->deliverable(0), 0x24);
    EXPECT_EQ((rd(0, R_TMR + 16) >> 4) & 1, 1u); // vector 0x24: TMR word 1, bit 4: level
    EXPECT_EQ(l->acknowledge(0), 0x24);
    // Still high: no second request before the EOI (remote IRR).
    EXPECT_TRUE(l->set_line(4, true).value().empty());
    EXPECT_FALSE(irr(0, 0x24));
    wr(0, R_EOI, 0);
    EXPECT_EQ(l->deliverable(0), 0x24); // asserted again
    EXPECT_EQ(l->acknowledge(0), 0x24);
    ASSERT_TRUE(l->set_line(4, false).is_ok());
    wr(0, R_EOI, 0);
    EXPECT_EQ(l->deliverable(0), 0); // low now: done
    // An edge: once.
    EXPECT_EQ(l->raise(3).value().bits(), 1u);
    EXPECT_EQ(l->acknowledge(0), 0x23);
    wr(0, R_EOI, 0);
    EXPECT_EQ(l->deliverable(0), 0);
}

TEST_F(VlapicTest, BadAccessesAreRefusedAndCounted) {
    make(2);
    EXPECT_EQ(l->mmio_read(0, R_TPR, 8, now).error(), Error::InvalidArgument);
    EXPECT_EQ(l->mmio_read(0, R_TPR + 4, 4, now).error(), Error::InvalidArgument);
    EXPECT_EQ(l->mmio_read(0, 0x10, 4, now).error(), Error::InvalidArgument);  // reserved
    EXPECT_EQ(l->mmio_write(0, 0x3F0, 4, 0, now).error(), Error::InvalidArgument);
    EXPECT_EQ(l->mmio_read(2, R_TPR, 4, now).error(), Error::InvalidArgument); // no such vCPU
    EXPECT_EQ(l->bad_accesses(), 5u);
    wr(0, R_IRR, ~0u); // read-only: ignored
    EXPECT_EQ(rd(0, R_IRR), 0u);
    EXPECT_EQ(l->bad_accesses(), 6u);
    // A bad config is refused.
    VlapicConfig c;
    c.vcpu_count = 0;
    c.host_hz = HZ;
    EXPECT_EQ(Vlapic::create(c).error(), Error::InvalidArgument);
    c.vcpu_count = 1;
    c.lines = MaxLines + 1;
    EXPECT_EQ(Vlapic::create(c).error(), Error::InvalidArgument);
    c.lines = 1;
    c.host_hz = 0;
    EXPECT_EQ(Vlapic::create(c).error(), Error::InvalidArgument);
}

} // namespace
