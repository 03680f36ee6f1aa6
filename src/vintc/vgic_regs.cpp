// Vgic register models: the distributor (GICD_*) and each vCPU's redistributor (GICR_* in RD_base,
// then the SGI_base frame). Register layouts and rules are from the register descriptions in
// Arm IHI 0069H, chapter "Programmers' Model" (cited by register name). The VM has one Security
// state (GICD_CTLR.DS = 1) and affinity routing on (ARE RAO/WI), so the GICv2-compatibility
// registers (ITARGETSR, SGIR, CPENDSGIR, SPENDSGIR) and the banked GICD words of INTIDs 0-31 do
// not apply.
//
// Access widths (IHI 0069H, "GIC memory-mapped register access"): 32-bit registers take 32-bit
// accesses only, except IPRIORITYR, which is also byte-accessible; 64-bit registers (IROUTER,
// GICR_TYPER, PROPBASER, PENDBASER) take 64-bit accesses and 32-bit accesses to either half.
// Anything else, or a misaligned access, is an error the caller turns into an external abort.
#include "vintc/vgic.hpp"
#include "vintc/gicv3_regs.hpp"

namespace vgic {

namespace {

using namespace gicv3;
constexpr u64 GICD_IROUTER_END = GICD_IROUTER + 8 * 1020; // IROUTER<n>, n < 1020

// Identification registers at the top of GICD and RD_base (IHI 0069H, "Identification registers").
constexpr u64 ID_REGS = 0xffd0;
// ArchRev[7:4] = 3 (GICv3); JEDEC[3] = 1 and DES_1[2:0] = 3 go with the Arm JEP106 code below.
constexpr u64 PIDR2_VALUE = (3u << 4) | (1u << 3) | 3u;

// GICD_IIDR / GICR_IIDR: Implementer 0x43B (Arm, JEP106) for the architecture it models,
// ProductID 0x43 ('C', cxvisor). Linux matches IIDR values to apply errata workarounds; this
// value matches none of them.
constexpr u64 IIDR_VALUE = (0x43u << 24) | 0x43b;

// GICD_IROUTER<n>: Aff3[39:32], IRM[31], Aff2[23:16], Aff1[15:8], Aff0[7:0]; the rest is RES0.
constexpr u64 IROUTER_MASK = 0x000000ff80ffffffull;

Result<void> check_access(u64 offset, unsigned width) {
    if (width != 1 && width != 2 && width != 4 && width != 8) return Error::InvalidArgument;
    if (offset % width) return Error::InvalidArgument;
    return {};
}

// 64-bit register accessed as a whole or by 32-bit half: read value.
Result<u64> read64(u64 reg, u64 offset, unsigned width) {
    if (width == 8) return reg;
    if (width == 4) return (offset & 4) ? reg >> 32 : reg & 0xffffffffull;
    return Error::InvalidArgument;
}
// Same for a write: the merged 64-bit value.
Result<u64> merge64(u64 reg, u64 offset, unsigned width, u64 value) {
    if (width == 8) return value;
    if (width != 4) return Error::InvalidArgument;
    if (offset & 4) return (reg & 0xffffffffull) | (value << 32);
    return (reg & ~0xffffffffull) | (value & 0xffffffffull);
}

} // namespace

void Vgic::count_unimplemented(u64 offset) {
    m_unimpl_count.fetch_add(1, std::memory_order_relaxed);
    m_unimpl_last.store(offset, std::memory_order_relaxed);
}

// --- Per-interrupt register helpers ---

u32 Vgic::read_bits(u16 vcpu, u32 first_intid, Bit b) {
    u32 v = 0;
    for (u32 i = 0; i < 32; ++i) {
        VIrq* irq = lookup(first_intid + i, vcpu);
        if (!irq) continue; // unimplemented INTIDs are RAZ/WI
        bool on = false;
        switch (b) {
        case Bit::Group: on = irq->group1; break;
        case Bit::Enable: on = irq->enabled; break;
        case Bit::Pending: on = irq->pending(); break;
        case Bit::Active: on = irq->active; break;
        }
        if (on) v |= 1u << i;
    }
    return v;
}

void Vgic::write_bits(u16 vcpu, u32 first_intid, Bit b, u32 value, bool set) {
    for (u32 i = 0; i < 32; ++i) {
        VIrq* irq = lookup(first_intid + i, vcpu);
        if (!irq) continue;
        bool one = (value >> i) & 1;
        if (b == Bit::Group) {
            // IGROUPR is a plain read/write register.
            if (irq->group1 == one) continue;
            irq->group1 = one;
        } else {
            // IS*R registers set on 1, IC*R registers clear on 1; 0 bits have no effect.
            if (!one) continue;
            switch (b) {
            case Bit::Enable: irq->enabled = set; break;
            // ISPENDR/ICPENDR act on the latch only: a level interrupt whose line is high stays
            // pending after ICPENDR (IHI 0069H, GICD_ICPENDR<n>).
            case Bit::Pending: irq->pending_latch = set; break;
            case Bit::Active: irq->active = set; break;
            case Bit::Group: break;
            }
        }
        m_kicks.add(update(*irq));
    }
}

// The GICD and SGI_base words that hold per-interrupt fields. `private_frame`: the SGI_base frame
// of `vcpu` (INTIDs 0-31 only); otherwise the distributor (SPIs; its words for INTIDs 0-31 are
// RAZ/WI with affinity routing on). NotFound: not such a register.
Result<u64> Vgic::irq_reg_access(u16 vcpu, bool private_frame, u64 offset, unsigned width, const u64* wv) {
    struct Range {
        u64 base;
        u32 dist_words, private_words; // words that exist in the GICD / in SGI_base
        u32 intids_per_word;
    };
    static constexpr Range Ranges[] = {
        {IGROUPR, 32, 1, 32},   {ISENABLER, 32, 1, 32}, {ICENABLER, 32, 1, 32},
        {ISPENDR, 32, 1, 32},   {ICPENDR, 32, 1, 32},   {ISACTIVER, 32, 1, 32},
        {ICACTIVER, 32, 1, 32}, {IPRIORITYR, 255, 8, 4}, {ICFGR, 64, 2, 16},
        {IGRPMODR, 32, 1, 32},  {NSACR, 64, 1, 16},
    };
    const Range* r = nullptr;
    for (const Range& c : Ranges) {
        u32 words = private_frame ? c.private_words : c.dist_words;
        if (offset >= c.base && offset < c.base + 4ull * words) { r = &c; break; }
    }
    if (!r) return Error::NotFound;

    u64 word_off = offset & ~3ull;
    u32 first = static_cast<u32>((word_off - r->base) / 4) * r->intids_per_word;
    bool byte_ok = r->base == IPRIORITYR;
    if (width != 4 && !(byte_ok && width == 1)) return Error::InvalidArgument;

    // IGRPMODR and NSACR are RAZ/WI when GICD_CTLR.DS = 1 (their register descriptions).
    if (r->base == IGRPMODR || r->base == NSACR) return u64(0);
    // Distributor words of the private INTIDs: RAZ/WI with affinity routing (the redistributor's
    // SGI_base frame holds them).
    if (!private_frame && first < PrivateCount) return u64(0);

    if (r->base == IPRIORITYR) {
        u32 n = width == 1 ? 1 : 4;
        u32 intid0 = static_cast<u32>(offset - IPRIORITYR);
        u64 v = 0;
        for (u32 i = 0; i < n; ++i) {
            VIrq* irq = lookup(intid0 + i, vcpu);
            if (!irq) continue;
            if (wv) irq->priority = mask_priority(*wv >> (8 * i));
            else v |= u64(irq->priority) << (8 * i);
        }
        return v;
    }
    if (r->base == ICFGR) {
        u64 v = 0;
        for (u32 i = 0; i < 16; ++i) {
            VIrq* irq = lookup(first + i, vcpu);
            if (!irq) continue;
            if (!wv) {
                if (irq->trigger == Trigger::Edge) v |= 2ull << (2 * i);
                continue;
            }
            // Int_config[1] per INTID (Int_config[0] is RES0). SGIs are always edge-triggered:
            // their field is read-only (GICR_ICFGR0).
            if (irq->intid < SgiCount) continue;
            Trigger t = (*wv >> (2 * i + 1)) & 1 ? Trigger::Edge : Trigger::Level;
            if (t == irq->trigger) continue;
            irq->trigger = t;
            m_kicks.add(update(*irq));
        }
        return v;
    }

    Bit b = Bit::Group;
    bool set = true;
    switch (r->base) {
    case IGROUPR: b = Bit::Group; break;
    case ISENABLER: b = Bit::Enable; break;
    case ICENABLER: b = Bit::Enable; set = false; break;
    case ISPENDR: b = Bit::Pending; break;
    case ICPENDR: b = Bit::Pending; set = false; break;
    case ISACTIVER: b = Bit::Active; break;
    case ICACTIVER: b = Bit::Active; set = false; break;
    }
    if (!wv) return u64(read_bits(vcpu, first, b));
    write_bits(vcpu, first, b, static_cast<u32>(*wv), set);
    return u64(0);
}

// --- Distributor ---

u32 Vgic::gicd_typer() const {
    u32 t = (m_spi_count + SpiBase + 31) / 32 - 1; // ITLinesNumber[4:0]: 32 * (N + 1) INTIDs
    t |= (10u - 1) << 19;                      // IDbits[23:19]: INTIDs below 1024 (no LPIs)
    t |= 1u << 24;                             // A3V: Aff3 is honoured in IROUTER and SGIs
    // RSS[26]: targeted SGIs can name Aff0 values 0-255 (ICC_SGI1R_EL1.RS). Needed only when a
    // vCPU has Aff0 > 15; Linux then also wants it in ICC_CTLR_EL1.RSS of each CPU.
    for (u32 v = 0; v < m_vcpu_count; ++v)
        if (mpidr_aff0(m_mpidr[v]) > 15) t |= 1u << 26;
    // ESPI[8], SecurityExtn[10], num_LPIs, MBIS[16], LPIS[17], DVIS, No1N[25] (1 of N is
    // supported): all 0. CPUNumber[7:5] only counts PEs for ARE = 0: 0.
    return t;
}

Result<u64> Vgic::dist_access(u64 offset, unsigned width, const u64* wv) {
    if (wv) stale_all_lrs();
    // By word: a narrow access inside a register is a bad width, not a reserved offset.
    switch (offset & ~3ull) {
    case GICD_CTLR:
        if (width != 4) return Error::InvalidArgument;
        if (wv) {
            // EnableGrp0/EnableGrp1 are the writable bits; ARE and DS are RAO/WI; RWP reads 0
            // since every write takes effect at once (Linux polls RWP after writes).
            u32 old = m_ctlr;
            m_ctlr = static_cast<u32>(*wv) & (GicdCtlrEnableGrp0 | GicdCtlrEnableGrp1);
            if (m_ctlr != old) requeue_all();
            return u64(0);
        }
        return u64(m_ctlr | GicdCtlrAre | GicdCtlrDs);
    case GICD_TYPER:
        if (width != 4) return Error::InvalidArgument;
        return wv ? 0 : u64(gicd_typer());
    case GICD_IIDR:
        if (width != 4) return Error::InvalidArgument;
        return wv ? 0 : IIDR_VALUE;
    case GICD_TYPER2: // GICv4.1 vPE fields only: 0 without GICv4.1
        if (width != 4) return Error::InvalidArgument;
        return u64(0);
    default: break;
    }

    auto r = irq_reg_access(NoVcpu, false, offset, width, wv);
    if (r.is_ok() || r.error() != Error::NotFound) return r;

    if (offset >= GICD_IROUTER && offset < GICD_IROUTER_END) {
        u32 n = static_cast<u32>((offset - GICD_IROUTER) / 8);
        if (width != 8 && width != 4) return Error::InvalidArgument;
        if (n < SpiBase) { // IROUTER<0..31> are reserved: private interrupts are not routed
            count_unimplemented(offset);
            return u64(0);
        }
        VIrq* irq = lookup(n, NoVcpu);
        if (!irq) return u64(0); // unimplemented SPI: RAZ/WI
        if (!wv) return read64(irq->irouter, offset, width);
        irq->irouter = TRY(merge64(irq->irouter, offset, width, *wv)) & IROUTER_MASK;
        resolve_route(*irq);
        m_kicks.add(update(*irq));
        return u64(0);
    }
    if (offset >= ID_REGS && offset < DistSize) {
        if (width != 4) return Error::InvalidArgument;
        return u64(!wv && offset == PIDR2 ? PIDR2_VALUE : 0);
    }
    count_unimplemented(offset);
    return u64(0);
}

Result<u64> Vgic::dist_read(u64 offset, unsigned width) {
    TRY(check_access(offset, width));
    if (offset >= DistSize) return Error::OutOfRange;
    SpinlockGuard g(m_lock);
    return dist_access(offset, width, nullptr);
}

Result<void> Vgic::dist_write(u64 offset, unsigned width, u64 value) {
    TRY(check_access(offset, width));
    if (offset >= DistSize) return Error::OutOfRange;
    SpinlockGuard g(m_lock);
    TRY(dist_access(offset, width, &value));
    return {};
}

// --- Redistributors ---

u64 Vgic::gicr_typer(u16 vcpu) const {
    u64 m = m_mpidr[vcpu];
    u64 t = u64(vcpu) << 8;                          // Processor_Number[23:8]
    if (vcpu + 1u == m_vcpu_count) t |= 1u << 4;     // Last: the final frame of the region
    t |= u64(mpidr_aff0(m)) << 32 | u64(mpidr_aff1(m)) << 40 | u64(mpidr_aff2(m)) << 48 |
         u64(mpidr_aff3(m)) << 56;                   // Affinity_Value[63:32]
    // PLPIS, VLPIS, DirectLPI, DPGS, CommonLPIAff, PPInum: 0 (no LPIs, no extended PPIs).
    return t;
}

Result<u64> Vgic::redist_access(u16 vcpu, u64 offset, unsigned width, const u64* wv) {
    if (wv) stale_all_lrs();
    if (offset >= RedistFrameSize) { // SGI_base frame
        u64 off = offset - RedistFrameSize;
        auto r = irq_reg_access(vcpu, true, off, width, wv);
        if (r.is_ok() || r.error() != Error::NotFound) return r;
        count_unimplemented(offset);
        return u64(0);
    }
    VcpuState& c = m_vcpus[vcpu];
    switch (offset & ~3ull) { // by word, as in dist_access
    case GICR_CTLR: // EnableLPIs is RES0 without LPIs; RWP/UWP read 0 (writes complete at once)
    case GICR_IIDR:
    case GICR_WAKER:
        if (width != 4) return Error::InvalidArgument;
        break;
    case GICR_TYPER:
    case GICR_TYPER + 4:
    case GICR_PROPBASER:
    case GICR_PROPBASER + 4:
    case GICR_PENDBASER:
    case GICR_PENDBASER + 4:
        if (width != 8 && width != 4) return Error::InvalidArgument;
        break;
    default:
        if (offset >= ID_REGS) {
            if (width != 4) return Error::InvalidArgument;
            return u64(!wv && offset == PIDR2 ? PIDR2_VALUE : 0);
        }
        count_unimplemented(offset);
        return u64(0);
    }
    switch (offset & ~7ull) {
    case GICR_TYPER: // read-only
        return wv ? 0 : read64(gicr_typer(vcpu), offset, width);
    case GICR_PROPBASER:
    case GICR_PENDBASER: // RES0 without LPIs (GICR_TYPER.PLPIS = 0)
        return u64(0);
    default: break;
    }
    if (offset == GICR_IIDR) return wv ? 0 : IIDR_VALUE;
    if (offset == GICR_WAKER) {
        // ProcessorSleep is kept; ChildrenAsleep follows it at once (the virtual interface has no
        // quiescing to wait for), so Linux's wake-up poll ends on its first read. An asleep
        // redistributor is left out of 1-of-N SPI routing; its own interrupts still reach it (a
        // guest that never wakes it keeps working, as under KVM where WAKER is RAZ/WI).
        if (!wv) return c.asleep ? u64(GICR_WAKER_ProcessorSleep | GICR_WAKER_ChildrenAsleep) : 0;
        bool sleep = *wv & GICR_WAKER_ProcessorSleep;
        if (sleep != c.asleep) {
            c.asleep = sleep;
            for (u32 i = 0; i < m_spi_count; ++i) {
                if (!(m_spis[i].irouter & bit(31))) continue;
                resolve_route(m_spis[i]);
                m_kicks.add(update(m_spis[i]));
            }
        }
        return u64(0);
    }
    return u64(0); // GICR_CTLR
}

Result<u64> Vgic::redist_read(u16 vcpu, u64 offset, unsigned width) {
    TRY(check_access(offset, width));
    if (vcpu >= m_vcpu_count || offset >= RedistStride) return Error::OutOfRange;
    SpinlockGuard g(m_lock);
    return redist_access(vcpu, offset, width, nullptr);
}

Result<void> Vgic::redist_write(u16 vcpu, u64 offset, unsigned width, u64 value) {
    TRY(check_access(offset, width));
    if (vcpu >= m_vcpu_count || offset >= RedistStride) return Error::OutOfRange;
    SpinlockGuard g(m_lock);
    TRY(redist_access(vcpu, offset, width, &value));
    return {};
}

Result<u64> Vgic::redist_region_read(u64 offset, unsigned width) {
    TRY(check_access(offset, width));
    u64 v = offset / RedistStride;
    if (v >= m_vcpu_count) { // past the last frame (Linux stops at GICR_TYPER.Last)
        count_unimplemented(offset);
        return u64(0);
    }
    SpinlockGuard g(m_lock);
    return redist_access(static_cast<u16>(v), offset % RedistStride, width, nullptr);
}

Result<void> Vgic::redist_region_write(u64 offset, unsigned width, u64 value) {
    TRY(check_access(offset, width));
    u64 v = offset / RedistStride;
    if (v >= m_vcpu_count) {
        count_unimplemented(offset);
        return {};
    }
    SpinlockGuard g(m_lock);
    TRY(redist_access(static_cast<u16>(v), offset % RedistStride, width, &value));
    return {};
}

} // namespace vgic
