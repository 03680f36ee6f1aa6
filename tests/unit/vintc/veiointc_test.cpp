// The LoongArch interrupt chain model (src/vintc/veiointc.hpp): a device line through the PCH-PIC
// (Loongson 7A1000 bridge manual, ch. 5; QEMU's register layout) to an EIOINTC vector (Loongson
// 3A5000 manual v1.03, 11.2) and a core's pin IPn, which is the guest's HWI n.
#include "vintc/veiointc.hpp"
#include <gtest/gtest.h>
#include <memory>

namespace {
using namespace veiointc;

struct Deleter {
    void operator()(Veiointc* m) const { delete m; }
};
using Ptr = std::unique_ptr<Veiointc, Deleter>;
Ptr make(u32 vcpus = 2) {
    Config c;
    c.vcpu_count = vcpus;
    c.base = GuestPhysAddr(DefaultBase);
    auto r = Veiointc::create(c);
    EXPECT_TRUE(r.is_ok());
    return Ptr(r.is_ok() ? r.value() : nullptr);
}

// What Linux's drivers and the uart-irq guest do for the UART (PCH-PIC line 2): vector 2, level,
// unmasked; EIOINTC vector 2 enabled, routed to `core`, its group on pin `pin`.
void route_line2(Veiointc& m, u32 core, u32 pin) {
    VcpuSet k;
    m.pic_write(PIC_HTMSI_VEC + 2, 1, 2, k);
    m.pic_write(PIC_INT_EDGE, 4, 0, k);
    m.pic_write(PIC_INT_MASK, 4, ~u64(1u << 2) & 0xFFFF'FFFF, k);
    m.iocsr_write(0, EIO_IPMAP, 1, 1u << pin, k);
    m.iocsr_write(0, EIO_COREMAP + 2, 1, 1u << core, k);
    m.iocsr_write(0, EIO_ENABLE, 4, 1u << 2, k);
}
} // namespace

TEST(Veiointc, ResetStateMasksEveryLine) {
    Ptr m = make();
    EXPECT_EQ(m->pic_read(PIC_INT_MASK, 8), ~0ull);
    EXPECT_EQ(m->pic_read(PIC_INT_ID, 4), 0x0700'0000u);
    EXPECT_EQ(m->pic_read(PIC_INT_ID + 4, 4), (63u << 16) | 1u);
    auto r = m->set_line(2, true);
    ASSERT_TRUE(r.is_ok());
    EXPECT_TRUE(r.value().empty()); // masked: nothing reaches a core
    EXPECT_EQ(m->hwi_lines(0), 0u);
    EXPECT_EQ(m->iocsr_read(0, EIO_ISR, 4), 0u);
}

TEST(Veiointc, ALevelLineReachesItsCoresPinAndFollowsTheLine) {
    Ptr m = make();
    route_line2(*m, 1, 0);
    auto r = m->set_line(2, true);
    ASSERT_TRUE(r.is_ok());
    EXPECT_TRUE(r.value().contains(1)); // the vCPU to kick
    EXPECT_EQ(m->hwi_lines(1), 1u);     // HWI0
    EXPECT_EQ(m->hwi_lines(0), 0u);
    EXPECT_EQ(m->iocsr_read(1, EIO_COREISR, 4), 1u << 2);
    EXPECT_EQ(m->iocsr_read(0, EIO_COREISR, 4), 0u); // COREISR is the accessing core's
    EXPECT_EQ(m->pic_read(PIC_INT_ISR, 4), 1u << 2);
    // The device drops the line (the guest drained the UART): no longer pending.
    auto r2 = m->set_line(2, false);
    EXPECT_TRUE(r2.value().contains(1));
    EXPECT_EQ(m->hwi_lines(1), 0u);
    EXPECT_EQ(m->iocsr_read(1, EIO_COREISR, 4), 0u);
}

TEST(Veiointc, AcknowledgingAStillAssertedLevelLineLeavesItPending) {
    Ptr m = make();
    route_line2(*m, 0, 2);
    (void)m->set_line(2, true);
    EXPECT_EQ(m->hwi_lines(0), 1u << 2); // IP2 = HWI2
    VcpuSet k;
    m->iocsr_write(0, EIO_COREISR, 4, 1u << 2, k); // ack while the UART still asserts it
    EXPECT_EQ(m->hwi_lines(0), 1u << 2);
    (void)m->set_line(2, false);
    EXPECT_EQ(m->hwi_lines(0), 0u);
}

TEST(Veiointc, AnEdgeLineLatchesUntilIntClearAndTheAck) {
    Ptr m = make();
    route_line2(*m, 0, 0);
    VcpuSet k;
    m->pic_write(PIC_INT_EDGE, 4, 1u << 2, k);
    (void)m->raise(2);
    EXPECT_EQ(m->hwi_lines(0), 1u);
    m->pic_write(PIC_INT_CLEAR, 4, 1u << 2, k);
    EXPECT_EQ(m->pic_read(PIC_INT_ISR, 4), 0u);
    m->iocsr_write(0, EIO_COREISR, 4, 1u << 2, k);
    EXPECT_EQ(m->hwi_lines(0), 0u);
}

TEST(Veiointc, MaskEnableAndCoremapChangesActAtOnce) {
    Ptr m = make();
    route_line2(*m, 0, 0);
    (void)m->set_line(2, true);
    VcpuSet k;
    m->iocsr_write(0, EIO_ENABLE, 4, 0, k); // disabled at the EIOINTC: not pending
    EXPECT_EQ(m->hwi_lines(0), 0u);
    EXPECT_TRUE(k.contains(0));
    k = {};
    m->iocsr_write(0, EIO_ENABLE, 4, 1u << 2, k); // enabled while asserted: pending again
    EXPECT_EQ(m->hwi_lines(0), 1u);
    k = {};
    m->iocsr_write(0, EIO_COREMAP + 2, 1, 1u << 1, k); // moved to core 1 with its pending state
    EXPECT_EQ(m->hwi_lines(0), 0u);
    EXPECT_EQ(m->hwi_lines(1), 1u);
    EXPECT_TRUE(k.contains(0) && k.contains(1));
    k = {};
    m->pic_write(PIC_INT_MASK, 8, ~0ull, k); // masked at the PCH-PIC
    EXPECT_EQ(m->hwi_lines(1), 0u);
}

TEST(Veiointc, PolarityInvertsALevelLine) {
    Ptr m = make();
    route_line2(*m, 0, 0);
    VcpuSet k;
    m->pic_write(PIC_INT_POL, 4, 1u << 2, k); // active low: the idle (low) line is asserted
    EXPECT_EQ(m->hwi_lines(0), 1u);
    (void)m->set_line(2, true);
    EXPECT_EQ(m->hwi_lines(0), 0u);
}

TEST(Veiointc, UnmodelledRegistersReadZeroIgnoreWritesAndAreCounted) {
    Ptr m = make();
    VcpuSet k;
    const u64 before = m->unmodelled();
    EXPECT_EQ(m->pic_read(0x300, 4), 0u);
    m->pic_write(0x300, 4, 0xFFFF'FFFF, k);
    EXPECT_EQ(m->pic_read(PIC_INT_MASK + 1, 1), 0u); // a byte of a 64-bit register
    EXPECT_EQ(m->iocsr_read(0, 0x1500, 4), 0u);
    m->iocsr_write(0, 0x1500, 4, 1, k);
    EXPECT_EQ(m->iocsr_read(0, EIO_ENABLE + 1, 2), 0u); // misaligned
    EXPECT_EQ(m->unmodelled(), before + 6);
    EXPECT_EQ(m->pic_read(PIC_INT_MASK, 8), ~0ull);
    EXPECT_TRUE(k.empty());
}

TEST(Veiointc, KeptRegistersReadBack) {
    Ptr m = make();
    VcpuSet k;
    m->pic_write(PIC_ROUTE_ENTRY, 8, 0x0101'0101'0101'0101ull, k);
    EXPECT_EQ(m->pic_read(PIC_ROUTE_ENTRY, 8), 0x0101'0101'0101'0101ull);
    m->pic_write(PIC_HTMSI_VEC + 4, 4, 0x0706'0504, k);
    EXPECT_EQ(m->pic_read(PIC_HTMSI_VEC + 4, 4), 0x0706'0504u);
    m->iocsr_write(0, EIO_BOUNCE, 8, 0x55, k);
    EXPECT_EQ(m->iocsr_read(0, EIO_BOUNCE, 8), 0x55u);
    m->iocsr_write(0, EIO_NODETYPE, 2, 0x1, k);
    EXPECT_EQ(m->iocsr_read(0, EIO_NODETYPE, 2), 0x1u);
    EXPECT_EQ(m->unmodelled(), 0u);
}

TEST(Veiointc, ShapeChecks) {
    EXPECT_FALSE(Veiointc::create(Config{0, GuestPhysAddr(DefaultBase)}).is_ok());
    EXPECT_FALSE(Veiointc::create(Config{MaxVcpus + 1, GuestPhysAddr(DefaultBase)}).is_ok());
    Ptr m = make(1);
    EXPECT_FALSE(m->set_line(Lines, true).is_ok());
    EXPECT_TRUE(m->is_shared_line(63));
    EXPECT_FALSE(m->is_shared_line(64));
    EXPECT_TRUE(is_eiointc(0x1800) && !is_eiointc(0x1040) && !is_eiointc(0x1D00));
}
