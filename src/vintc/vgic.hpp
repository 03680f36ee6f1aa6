// One VM's virtual GICv3 (Arm IHI 0069H): the per-interrupt state, an emulated distributor and
// one redistributor (RD_base + SGI_base frames) per vCPU as register models, each vCPU's pending
// list, the list-register scheduling (flush before entry, fold after exit) and SGI generation.
// It is arch-neutral: the ISA code encodes/decodes VgicLr into ICH_LR<n>_EL2 and turns VgicFlush
// into ICH_HCR_EL2 bits; nothing here touches a register.
//
// The guest-visible model is a GICv3 with a single Security state (GICD_CTLR.DS = 1) and
// affinity routing always on (ARE RAO/WI), no LPIs, no ITS, no extended SPI/PPI ranges, the SPI
// count from the VM config. This is the view a Linux guest entered at EL1 needs.
//
// Pending lists (after KVM's ap_list): every interrupt that is pending-and-deliverable or active
// sits on exactly one vCPU's list. The "oracle" decides which: an active interrupt stays with the
// vCPU that holds it; otherwise an enabled, pending interrupt of an enabled group goes to its
// route (SPIs: the vCPU whose MPIDR matches GICD_IROUTER; private interrupts: their owner); else
// none. Lists are fixed to the interrupt records themselves (intrusive links), so they need no
// memory beyond the Vgic object.
//
// Locking: one spinlock per VM (m_lock) protects all of it. Every public member takes it; it is
// a leaf lock (nothing is called out to while it is held), so callers may hold their own locks
// (device locks) when calling in. Kicks are never sent from inside: every operation that may make
// an interrupt deliverable to another vCPU reports the vCPUs to kick as a VcpuSet (return value,
// or accumulated for register writes and drained with take_kicks()). The caller then wakes a
// blocked vCPU or IPIs the CPU a running one is on; a vCPU that is the caller itself needs nothing,
// its next flush picks the interrupt up.
//
// Per-vCPU contract for the LR path: flush(v) right before entering v, fold(v) right after v
// exits, both on the CPU that runs v; every flush is followed by exactly one fold.
#pragma once
#include "base/result.hpp"
#include "kernel/spinlock.hpp"
#include "vintc/vgic_sgi.hpp"
#include "vintc/vgic_types.hpp"
#include "vintc/virt_intc.hpp"

namespace vgic {

class Vgic {
public:
    // Guest-physical window sizes (IHI 0069H, "The GIC Distributor register map" and "The GIC
    // Redistributor register map"): a 64 KiB distributor, and per vCPU RD_base + SGI_base.
    static constexpr u64 DistSize = 0x10000;
    static constexpr u64 RedistFrameSize = 0x10000;
    static constexpr u64 RedistStride = 2 * RedistFrameSize;

    // Allocates a Vgic in its reset state. InvalidArgument for 0 or more than MaxVcpus vCPUs,
    // pri_bits outside 4..8, more than MaxSpis SPIs, or two vCPUs with one affinity; NoMemory.
    // Called by the VM builder; delete it with `delete`.
    static Result<Vgic*> create(const VgicConfig& config);
    // The VM's model (VirtIntcModel, vintc/virt_intc.hpp): a vGIC of setup.vcpu_count vCPUs with
    // MPIDR Aff0 = vCPU index (the layout the aarch64 backend and the generated device tree give
    // every vCPU), setup.lines SPIs, and its distributor (at base[0]) and redistributor (at
    // base[1]) windows, which it owns.
    static Result<Vgic*> create_for_vm(const VintcSetup& setup);
    ~Vgic();
    usize window_count() const { return 2; }
    MmioDevice* window(usize i);
    bool is_shared_line(u32 intid) const { return intid >= SpiBase && intid < intid_limit(); }
    Result<void> set_hw(u32 intid, u32 pintid) { return set_hw(intid, pintid, 0); }
    Result<VcpuSet> raise(u32 intid) { return raise(intid, u16(0)); }

    // Back to the reset state (VM reset; no vCPU of the VM may be running). Line levels and
    // HW links are wiring, owned by their sources, and are kept.
    void reset();

    u32 vcpu_count() const { return m_vcpu_count; }
    u32 spi_count() const { return m_spi_count; }
    u32 intid_limit() const { return SpiBase + m_spi_count; } // first INTID not implemented

    // --- Interrupt sources (devices, timers, passthrough). Any CPU. ---
    // `vcpu` names the owner of a private INTID (< 32) and is ignored for SPIs.
    // OutOfRange: INTID not implemented, or private INTID with a vCPU the VM does not have.
    //
    // raise(): an edge/event (the interrupt becomes pending until acknowledged), whatever its
    // configured trigger; a level-configured one stays pending like an ISPENDR write. HW-linked
    // interrupts are raised this way when their physical interrupt arrives.
    Result<VcpuSet> raise(u32 intid, u16 vcpu);
    // set_line(): the level of the input line. Level-configured: pending while high (re-sampled
    // when the guest deactivates it). Edge-configured: a rising edge latches pending.
    Result<VcpuSet> set_line(u32 intid, bool level, u16 vcpu = 0);
    // Links `intid` (a PPI or SPI) to physical INTID `pintid` (16..1019): its LRs carry HW=1, so
    // guest deactivation deactivates the physical interrupt. OutOfRange for SGIs or bad INTIDs.
    Result<void> set_hw(u32 intid, u32 pintid, u16 vcpu);
    Result<void> clear_hw(u32 intid, u16 vcpu = 0);

    // --- SGIs (trapped ICC_SGI1R_EL1 / ICC_ASGI1R_EL1 with group1 = true, ICC_SGI0R_EL1 false). ---
    // Makes the SGI pending on each target vCPU; returns those to kick. A group-0 sender
    // (SGI0R) only reaches SGIs the target configured as group 0; SGI1R reaches both (DS = 1, as
    // KVM). Unknown targets are ignored. InvalidArgument for a sender the VM does not have.
    Result<VcpuSet> send_sgi(u16 sender, u64 sgi_reg_value, bool group1 = true);

    // --- Register models. Any vCPU, any CPU. `offset` is relative to the frame/window, width
    // 1, 2, 4 or 8 bytes. Errors mean a width or alignment the register does not allow; the caller
    // injects an external abort. Reserved and unimplemented offsets read as zero, ignore writes
    // and are counted (unimplemented_accesses). ---
    Result<u64> dist_read(u64 offset, unsigned width);
    Result<void> dist_write(u64 offset, unsigned width, u64 value);
    // One vCPU's redistributor: offset 0..RedistStride (RD_base then SGI_base).
    Result<u64> redist_read(u16 vcpu, u64 offset, unsigned width);
    Result<void> redist_write(u16 vcpu, u64 offset, unsigned width, u64 value);
    // The contiguous redistributor region (vCPU i at i * RedistStride), as a guest DT describes it.
    Result<u64> redist_region_read(u64 offset, unsigned width);
    Result<void> redist_region_write(u64 offset, unsigned width, u64 value);
    static constexpr u64 redist_region_size(u32 vcpus) { return vcpus * RedistStride; }

    // vCPUs a register write made an interrupt deliverable to since the last call (then cleared).
    VcpuSet take_kicks();
    // Accesses to reserved/unimplemented offsets so far, and the last such offset (for reports).
    u64 unimplemented_accesses() const { return m_unimpl_count.load(std::memory_order_relaxed); }
    u64 last_unimplemented_offset() const { return m_unimpl_last.load(std::memory_order_relaxed); }

    // --- List registers (the vCPU's own CPU, vCPU not running). ---
    // Fills out[0..used) from v's pending list, at most `nr_lrs` (<= MaxLrs) entries, best first:
    // pending-not-active before the rest, then priority (lower value first), then HW-linked before
    // software ones, then lower INTID. Level and HW interrupts are never shown pending+active; a
    // level !hw LR asks for an EOI maintenance interrupt so the line is re-sampled. An edge
    // interrupt shown pending gives its latch to the LR (fold takes it back if still pending).
    // `out` has room for nr_lrs entries. Interrupts found on v's list that now belong elsewhere
    // are moved first (VgicFlush::kick). A flush of a vCPU whose last flush was not folded, or of
    // a vCPU the VM does not have, is a cxvisor bug and panics (so is such a fold).
    VgicFlush flush(u16 vcpu, VgicLr* out, u32 nr_lrs);
    // Takes back what the hardware left in the LRs filled by the last flush(v): lrs[0..used) as
    // read back (an LR whose bit is set in `elrsr` is free: its contents need not be read), and
    // `eoicount` (ICH_HCR_EL2.EOIcount: guest EOIs of active interrupts that were in no LR).
    // Updates active/pending state, re-samples level lines, drops what is no longer deliverable
    // and moves interrupts whose target changed; returns the vCPUs to kick for those.
    VcpuSet fold(u16 vcpu, const VgicLr* lrs, u64 elrsr, u32 eoicount);
    // Whether v has an interrupt to take (pending, enabled, group enabled): the WFI wake-up test.
    // `best_priority` (optional) gets the highest such priority, for comparison with the guest's
    // priority mask by the ISA code.
    bool has_pending(u16 vcpu, u8* best_priority = nullptr);
    // Without the lock: v's pending list is empty, so a flush would fill no LR and ask for nothing
    // (the exit path's shortcut). A racing source that queues something meanwhile also kicks v,
    // whose next exit then sees it; nothing is lost.
    bool idle(u16 vcpu) const { return vcpu < m_vcpu_count && __atomic_load_n(&m_vcpus[vcpu].head, __ATOMIC_ACQUIRE) == nullptr; }

    // --- Live list registers: the level-1 fast path (the vCPU's own CPU, vCPU not running, inside
    // its flush..fold bracket, or an idle entry's). ---
    // raise_live() is raise(intid, vcpu) of a private interrupt, send_sgi_live() is send_sgi()
    // of a request that names the sender alone, both presented at once in a list register while
    // the others stay live in the hardware: no fold, no flush. They apply only where the result
    // is the one fold + the source + flush would give (same interrupts in the LRs in the same
    // states; only which LR holds which may differ, which the guest cannot see):
    //   - the LRs hold v's whole pending list, each with its full state (the last flush left
    //     nothing out, and no source, register write or retarget touched v since: `lr_exact`),
    //     or the entry was idle (hw.idle) and v's list is still empty;
    //   - the interrupt is enabled, its group enabled, and idle: neither pending nor active, or
    //     in an LR the hardware reports free (ICH_ELRSR_EL2: the guest took and deactivated it,
    //     and no EOI maintenance is owed) with its level line low;
    //   - an LR is free for it (its own, or one above those in use).
    // Otherwise they return false and change nothing: the caller takes the full path (raise() or
    // send_sgi(), then the run loop's fold and flush). On true, `out` is the LR to write; `used`
    // the LRs now in use (the next fold reads back lrs[0..used)).
    bool raise_live(u32 intid, u16 vcpu, const LiveLrs& hw, LiveAdd& out);
    bool send_sgi_live(u16 sender, u64 sgi_reg_value, bool group1, const LiveLrs& hw, LiveAdd& out);

    // Snapshot of one interrupt's state (tests, debug dumps). OutOfRange as for raise().
    Result<VIrq> irq_state(u32 intid, u16 vcpu = 0);
    // Number of interrupts on v's pending list (tests, debug dumps).
    u32 queued_count(u16 vcpu);
    // Checks the pending lists: links consistent, each entry's queued_on names its list, every
    // interrupt that claims a list is on it exactly once. False means a cxvisor bug (tests).
    bool lists_consistent();

private:
    static constexpr u32 GicdCtlrEnableGrp0 = 1u << 0; // GICD_CTLR with DS = 1
    static constexpr u32 GicdCtlrEnableGrp1 = 1u << 1;
    static constexpr u32 GicdCtlrAre = 1u << 4;
    static constexpr u32 GicdCtlrDs = 1u << 6;

    struct VcpuState {
        VIrq priv[PrivateCount];
        VIrq* head = nullptr;      // pending list
        bool asleep = true;        // GICR_WAKER.ProcessorSleep
        // The LRs filled since the last flush show the whole pending list with every state (see
        // raise_live). Set by flush, cleared by fold and by any change that concerns this vCPU
        // (update(), link(), register writes), so a live add never hides a change.
        bool lr_exact = false;
        u32 lr_used = 0;           // LRs filled by the last flush, not yet folded
        VIrq* lr_irq[MaxLrs] = {};
    };
    enum class Bit : u8 { Group, Enable, Pending, Active };

    explicit Vgic(const VgicConfig& config);
    void reset_locked();

    VIrq* lookup(u32 intid, u16 vcpu);
    u16 oracle(const VIrq& irq) const;
    bool deliverable_pending(const VIrq& irq) const;
    // Re-evaluates where `irq` belongs after any state change; returns the vCPU to kick.
    VcpuSet update(VIrq& irq);
    void link(VIrq& irq, u16 vcpu);
    void unlink(VIrq& irq);
    VcpuSet prune(u16 vcpu);
    void resolve_route(VIrq& irq);
    void resolve_all_routes();
    void requeue_all();
    u8 mask_priority(u64 v) const { return static_cast<u8>(v & m_pri_mask); }
    void count_unimplemented(u64 offset);
    // A register write may change anything: no vCPU's live LRs may be trusted until its next flush.
    void stale_all_lrs() { for (u32 v = 0; v < m_vcpu_count; ++v) m_vcpus[v].lr_exact = false; }
    bool add_live(u16 vcpu, VIrq& irq, const LiveLrs& hw, LiveAdd& out);

    // Register helpers; `wv` is the value to write, or null for a read. Caller holds m_lock.
    u32 read_bits(u16 vcpu, u32 first_intid, Bit b);
    void write_bits(u16 vcpu, u32 first_intid, Bit b, u32 value, bool set);
    Result<u64> irq_reg_access(u16 vcpu, bool private_frame, u64 offset, unsigned width, const u64* wv);
    Result<u64> dist_access(u64 offset, unsigned width, const u64* wv);
    Result<u64> redist_access(u16 vcpu, u64 offset, unsigned width, const u64* wv);
    u32 gicd_typer() const;
    u64 gicr_typer(u16 vcpu) const;

    Spinlock m_lock;
    // create_for_vm's register windows (a DistWindow and a RedistWindow, vgic_mmio.hpp), owned.
    MmioDevice* m_windows[2] = {};
    u32 m_vcpu_count;
    u32 m_spi_count;
    u8 m_pri_mask;
    u32 m_ctlr = 0;               // GICD_CTLR EnableGrp0/EnableGrp1 (the writable bits)
    VcpuSet m_kicks;              // accumulated by register writes
    std::atomic<u64> m_unimpl_count{0};
    std::atomic<u64> m_unimpl_last{0};
    VcpuState m_vcpus[MaxVcpus];
    u64 m_mpidr[MaxVcpus] = {};   // each vCPU's MPIDR_EL1, in the layout sgi_targets() takes
    VIrq m_spis[MaxSpis];
};

} // namespace vgic
