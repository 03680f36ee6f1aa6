// Arch-neutral state of a virtual GICv3 (Arm IHI 0069H, "GIC Architecture Specification, GICv3 and
// GICv4"; register rules cite the register description by name): one record per virtual interrupt, the abstract list-register value the scheduler hands
// to the ISA code, and small value types shared by the distributor/redistributor models, the
// pending lists and SGI generation. Nothing here touches a register: arch/aarch64 encodes VgicLr
// into ICH_LR<n>_EL2 and decodes it back.
#pragma once
#include "base/types.hpp"

namespace vgic {

// INTID space (IHI 0069H, "INTIDs"): SGIs 0-15 and PPIs 16-31 are private to a PE, SPIs are
// 32-1019, 1020-1023 are special. No LPIs and no extended ranges are modelled.
inline constexpr u32 SgiCount = 16;
inline constexpr u32 PrivateCount = 32;
inline constexpr u32 SpiBase = 32;
inline constexpr u32 MaxSpis = 988;  // INTIDs 32..1019
inline constexpr u32 MaxVcpus = 16;  // per VM; equals vm_package::MAX_VCPUS (vintc sits below abi users)
inline constexpr u32 MaxLrs = 16;    // ICH_VTR_EL2.ListRegs is 4 bits: at most 16 list registers
inline constexpr u16 NoVcpu = 0xffff;

// A set of vCPU indices of one VM (bit i = vCPU i): who must be kicked after a state change.
class VcpuSet {
public:
    constexpr VcpuSet() = default;
    static constexpr VcpuSet of(u16 vcpu) { VcpuSet s; s.add(vcpu); return s; }
    static constexpr VcpuSet from_bits(u32 b) { VcpuSet s; s.m_bits = b & ((1u << MaxVcpus) - 1); return s; }
    constexpr void add(u16 vcpu) { if (vcpu < MaxVcpus) m_bits |= 1u << vcpu; }
    constexpr void add(VcpuSet o) { m_bits |= o.m_bits; }
    constexpr bool contains(u16 vcpu) const { return vcpu < MaxVcpus && (m_bits >> vcpu) & 1; }
    constexpr bool empty() const { return m_bits == 0; }
    constexpr u32 bits() const { return m_bits; }
    constexpr u32 count() const { return static_cast<u32>(__builtin_popcount(m_bits)); }
    constexpr bool operator==(const VcpuSet&) const = default;

private:
    u32 m_bits = 0;
};

enum class Trigger : u8 { Level, Edge };

// One virtual interrupt (IHI 0069H, "Interrupt lifecycle"; the field split follows the
// distributor registers that expose it). Owned by the Vgic; every field is read and written under
// the Vgic lock.
struct VIrq {
    u16 intid = 0;
    u8 priority = 0;          // GICD/GICR_IPRIORITYR byte, only the implemented (top) bits kept
    bool enabled = false;     // GICD/GICR_ISENABLER
    bool pending_latch = false; // edge seen, or ISPENDR write; cleared by ICPENDR, ack, or LR take-over
    bool line_level = false;  // input line as its source drives it (meaningful for level config)
    bool active = false;      // GICD/GICR_ISACTIVER
    bool group1 = false;      // GICD/GICR_IGROUPR (group 0 at reset)
    Trigger trigger = Trigger::Level; // GICD/GICR_ICFGR
    bool hw = false;          // linked to a physical INTID: guest deactivation deactivates it
    bool in_lr = false;       // presented in a list register of `queued_on` since the last flush
    u8 lr = 0;                // which one, while in_lr
    u16 pintid = 0;           // physical INTID when hw
    u16 target = NoVcpu;      // vCPU the route resolves to (private interrupts: their owner)
    u16 queued_on = NoVcpu;   // vCPU whose pending list holds this interrupt
    u64 irouter = 0;          // SPIs: GICD_IROUTER<n> as last written (Aff3.Aff2.Aff1.Aff0, IRM)
    VIrq* prev = nullptr;     // pending-list links (intrusive: an interrupt is on at most one list)
    VIrq* next = nullptr;

    // Pending state seen by the guest: a latched edge/software pend, or a high level line.
    bool pending() const { return pending_latch || (trigger == Trigger::Level && line_level); }
};

// List register state (IHI 0069H, ICH_LR<n>_EL2.State).
enum class LrState : u8 { Invalid = 0, Pending = 1, Active = 2, PendingActive = 3 };

// An abstract list-register value: what the ISA code writes into one LR on entry and reads back
// after an exit (only `state` changes under the guest's hands).
struct VgicLr {
    u32 vintid = 0;
    u8 priority = 0;
    bool group1 = false;
    LrState state = LrState::Invalid;
    bool hw = false;
    u32 pintid = 0;            // only when hw
    bool eoi_maintenance = false; // ICH_LR.EOI: ask for a maintenance interrupt at deactivation (level, !hw)
};

// Maintenance requests the ISA code turns into ICH_HCR_EL2 bits for the next entry.
struct VgicFlush {
    u32 used = 0;          // LRs 0..used-1 are filled; the ISA code clears the others
    bool uie = false;      // underflow: more interrupts queued than LRs (exit when <= 1 LR is valid)
    bool npie = false;     // no-pending: pending interrupts left out (exit when no LR is pending)
    bool lrenpie = false;  // active interrupts left out: a guest EOI of one arrives as EOIcount
    VcpuSet kick;          // other vCPUs that got interrupts retargeted away from this one
};

// The hardware's view for a live add (Vgic::raise_live): what the ISA code reads from the running
// CPU's virtual interface before adding an LR.
struct LiveLrs {
    u32 nr_lrs = 0;    // implemented list registers
    u64 elrsr = 0;     // ICH_ELRSR_EL2: bit n = LR n is free (invalid, no EOI maintenance owed)
    bool idle = false; // the vCPU was entered without a flush (its list was empty): no LR in use
};

// The result of a live add: write `lr` into list register `index`; LRs 0..used-1 are now in use.
struct LiveAdd {
    u32 index = 0;
    u32 used = 0;
    VgicLr lr;
};

// Static shape of one VM's vGIC.
struct VgicConfig {
    u32 vcpu_count = 1;
    u32 spi_count = 0;     // rounded up to a multiple of 32 (the guest sees 32 per ITLinesNumber), max MaxSpis
    u32 pri_bits = 5;      // implemented priority bits, 4..8 (ICH_VTR_EL2.PRIbits + 1 on the host)
    u64 mpidr[MaxVcpus] = {}; // each vCPU's MPIDR_EL1 (only Aff3..Aff0 are used)
};

// MPIDR_EL1 affinity fields (Arm ARM DDI0487 K.a, register description "MPIDR_EL1").
constexpr u8 mpidr_aff0(u64 m) { return static_cast<u8>(bits(m, 7, 0)); }
constexpr u8 mpidr_aff1(u64 m) { return static_cast<u8>(bits(m, 15, 8)); }
constexpr u8 mpidr_aff2(u64 m) { return static_cast<u8>(bits(m, 23, 16)); }
constexpr u8 mpidr_aff3(u64 m) { return static_cast<u8>(bits(m, 39, 32)); }
// The affinity as one comparable number: Aff3.Aff2.Aff1.Aff0.
constexpr u32 affinity_key(u8 aff3, u8 aff2, u8 aff1, u8 aff0) {
    return (u32(aff3) << 24) | (u32(aff2) << 16) | (u32(aff1) << 8) | aff0;
}
constexpr u32 mpidr_affinity_key(u64 m) {
    return affinity_key(mpidr_aff3(m), mpidr_aff2(m), mpidr_aff1(m), mpidr_aff0(m));
}

} // namespace vgic
