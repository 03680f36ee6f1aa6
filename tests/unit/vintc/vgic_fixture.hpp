// Shared helpers for the vGIC tests: a Vgic with vCPU i at MPIDR Aff0 = i (as cxvisor assigns
// them today) and shorthand for register accesses as a guest would make them.
#pragma once
#include "vintc/vgic.hpp"
#include <gtest/gtest.h>
#include <memory>

namespace vgic_test {
using namespace vgic;

// Register offsets (IHI 0069H register maps), spelled out here so the tests do not share the
// model's constants.
inline constexpr u64 GICD_CTLR = 0x0, GICD_TYPER = 0x4, GICD_IIDR = 0x8, GICD_TYPER2 = 0xc;
inline constexpr u64 IGROUPR = 0x80, ISENABLER = 0x100, ICENABLER = 0x180, ISPENDR = 0x200,
                     ICPENDR = 0x280, ISACTIVER = 0x300, ICACTIVER = 0x380, IPRIORITYR = 0x400,
                     ICFGR = 0xc00, IGRPMODR = 0xd00, NSACR = 0xe00, IROUTER = 0x6000, PIDR2 = 0xffe8;
inline constexpr u64 GICR_CTLR = 0x0, GICR_IIDR = 0x4, GICR_TYPER = 0x8, GICR_WAKER = 0x14,
                     GICR_PROPBASER = 0x70, GICR_PENDBASER = 0x78, SGI_BASE = 0x10000;

struct VgicDeleter {
    void operator()(Vgic* v) const { delete v; }
};
using VgicPtr = std::unique_ptr<Vgic, VgicDeleter>;

inline VgicConfig config(u32 vcpus, u32 spis, u32 pri_bits = 5) {
    VgicConfig c;
    c.vcpu_count = vcpus;
    c.spi_count = spis;
    c.pri_bits = pri_bits;
    for (u32 i = 0; i < vcpus && i < MaxVcpus; ++i) c.mpidr[i] = i;
    return c;
}

inline VgicPtr make(const VgicConfig& c) {
    auto r = Vgic::create(c);
    EXPECT_TRUE(r.is_ok());
    return VgicPtr(r.is_ok() ? r.value() : nullptr);
}
inline VgicPtr make(u32 vcpus, u32 spis, u32 pri_bits = 5) { return make(config(vcpus, spis, pri_bits)); }

inline u64 rd(Vgic& g, u64 off, unsigned w = 4) {
    auto r = g.dist_read(off, w);
    EXPECT_TRUE(r.is_ok()) << "GICD read at " << std::hex << off << " width " << w;
    return r.is_ok() ? r.value() : ~0ull;
}
inline void wr(Vgic& g, u64 off, u64 v, unsigned w = 4) {
    EXPECT_TRUE(g.dist_write(off, w, v).is_ok()) << "GICD write at " << std::hex << off << " width " << w;
}
inline u64 rrd(Vgic& g, u16 vcpu, u64 off, unsigned w = 4) {
    auto r = g.redist_read(vcpu, off, w);
    EXPECT_TRUE(r.is_ok()) << "GICR read at " << std::hex << off << " width " << w;
    return r.is_ok() ? r.value() : ~0ull;
}
inline void rwr(Vgic& g, u16 vcpu, u64 off, u64 v, unsigned w = 4) {
    EXPECT_TRUE(g.redist_write(vcpu, off, w, v).is_ok()) << "GICR write at " << std::hex << off;
}

// Word/bit of a 1-bit-per-INTID register.
inline u64 word(u64 base, u32 intid) { return base + 4 * (intid / 32); }
inline u32 mask(u32 intid) { return 1u << (intid % 32); }

enum class Cfg { Level, Edge };

// Configures an SPI the way Linux does: group 1, priority, trigger, route to `vcpu` (affinity =
// its MPIDR), enabled; and turns both groups on in GICD_CTLR.
inline void setup_spi(Vgic& g, u32 intid, u8 prio, Cfg cfg, u64 route_mpidr = 0) {
    wr(g, GICD_CTLR, 0x3);
    wr(g, word(IGROUPR, intid), rd(g, word(IGROUPR, intid)) | mask(intid));
    wr(g, IPRIORITYR + intid, prio, 1);
    u64 cfg_off = ICFGR + 4 * (intid / 16);
    u64 cfg_bit = 2ull << (2 * (intid % 16));
    u64 c = rd(g, cfg_off);
    wr(g, cfg_off, cfg == Cfg::Edge ? (c | cfg_bit) : (c & ~cfg_bit));
    wr(g, IROUTER + 8 * intid, route_mpidr, 8);
    wr(g, word(ISENABLER, intid), mask(intid));
}

// A private interrupt of `vcpu`, configured through its SGI_base frame.
inline void setup_private(Vgic& g, u16 vcpu, u32 intid, u8 prio) {
    wr(g, GICD_CTLR, 0x3);
    rwr(g, vcpu, SGI_BASE + IGROUPR, rrd(g, vcpu, SGI_BASE + IGROUPR) | mask(intid));
    rwr(g, vcpu, SGI_BASE + IPRIORITYR + intid, prio, 1);
    rwr(g, vcpu, SGI_BASE + ISENABLER, mask(intid));
}

inline VIrq state(Vgic& g, u32 intid, u16 vcpu = 0) {
    auto r = g.irq_state(intid, vcpu);
    EXPECT_TRUE(r.is_ok());
    return r.is_ok() ? r.value() : VIrq{};
}

} // namespace vgic_test
