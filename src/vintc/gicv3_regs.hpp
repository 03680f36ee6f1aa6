// GICv3 memory-mapped register offsets (Arm IHI 0069H, chapter "Programmers' Model", register
// descriptions cited by name). One list for both sides of cxvisor's GIC work: the host driver
// (arch/aarch64/gicv3.cpp) programs the physical distributor and redistributors with them, and the
// vGIC model (vintc/vgic_regs.cpp) emulates the same registers for guests.
#pragma once
#include "base/types.hpp"

namespace gicv3 {

// Distributor (GICD), and the per-interrupt banks it shares with the redistributor's SGI_base
// frame (which holds word 0 of each: INTIDs 0-31).
inline constexpr u64 GICD_CTLR = 0x0000;
inline constexpr u64 GICD_TYPER = 0x0004;
inline constexpr u64 GICD_IIDR = 0x0008;
inline constexpr u64 GICD_TYPER2 = 0x000c;
inline constexpr u64 IGROUPR = 0x0080;
inline constexpr u64 ISENABLER = 0x0100;
inline constexpr u64 ICENABLER = 0x0180;
inline constexpr u64 ISPENDR = 0x0200;
inline constexpr u64 ICPENDR = 0x0280;
inline constexpr u64 ISACTIVER = 0x0300;
inline constexpr u64 ICACTIVER = 0x0380;
inline constexpr u64 IPRIORITYR = 0x0400;
inline constexpr u64 ICFGR = 0x0c00;
inline constexpr u64 IGRPMODR = 0x0d00;
inline constexpr u64 NSACR = 0x0e00;
inline constexpr u64 GICD_IROUTER = 0x6000; // IROUTER<n> at 0x6000 + 8n, n < 1020

// GICD_CTLR with one Security state (DS = 1): RWP[31], ARE[4], EnableGrp1[1], EnableGrp0[0].
inline constexpr u32 GICD_CTLR_RWP = 1u << 31;
inline constexpr u32 GICD_CTLR_ARE = 1u << 4;
inline constexpr u32 GICD_CTLR_GRP1 = 1u << 1;

// Redistributor: RD_base frame, then the SGI_base frame 64 KiB above it (GICv3: two frames each).
inline constexpr u64 GICR_CTLR = 0x0000;
inline constexpr u64 GICR_IIDR = 0x0004;
inline constexpr u64 GICR_TYPER = 0x0008;
inline constexpr u64 GICR_WAKER = 0x0014;
inline constexpr u64 GICR_PROPBASER = 0x0070;
inline constexpr u64 GICR_PENDBASER = 0x0078;
inline constexpr u64 GICR_WAKER_ProcessorSleep = 1u << 1;
inline constexpr u64 GICR_WAKER_ChildrenAsleep = 1u << 2;
inline constexpr u64 GICR_SGI = 0x10000;   // SGI_base, relative to RD_base
inline constexpr u64 GICR_FRAME = 0x20000; // one redistributor: RD_base + SGI_base

// Identification registers at the top of GICD and RD_base.
inline constexpr u64 PIDR2 = 0xffe8;

} // namespace gicv3
