// Vgic core: interrupt records, routing, pending lists, sources, SGIs and the list-register
// scheduling. The register models are in vgic_regs.cpp. See vgic.hpp for the contracts.
#include "vintc/vgic.hpp"
#include "vintc/vgic_mmio.hpp"
#include "kernel/log.hpp"
#include <new>

namespace vgic {

Result<Vgic*> Vgic::create(const VgicConfig& config) {
    if (config.vcpu_count == 0 || config.vcpu_count > MaxVcpus) return Error::InvalidArgument;
    if (config.pri_bits < 4 || config.pri_bits > 8) return Error::InvalidArgument;
    if (config.spi_count > MaxSpis) return Error::InvalidArgument;
    // Affinity is the only name a GIC has for a PE (IROUTER, GICR_TYPER, SGIs): it must be unique.
    for (u32 i = 0; i < config.vcpu_count; ++i)
        for (u32 j = i + 1; j < config.vcpu_count; ++j)
            if (mpidr_affinity_key(config.mpidr[i]) == mpidr_affinity_key(config.mpidr[j]))
                return Error::InvalidArgument;
    Vgic* v = new (std::nothrow) Vgic(config);
    if (!v) return Error::NoMemory;
    return v;
}

Result<Vgic*> Vgic::create_for_vm(const VintcSetup& setup) {
    VgicConfig cfg;
    cfg.vcpu_count = setup.vcpu_count;
    cfg.spi_count = setup.lines;
    cfg.pri_bits = setup.priority_bits;
    // vCPU i reports MPIDR Aff0 = i: the backend decodes firmware CPU ids back to vCPU indexes
    // the same way, and the generated device tree's cpu reg values say the same.
    for (u32 i = 0; i < setup.vcpu_count && i < MaxVcpus; ++i) cfg.mpidr[i] = i;
    Vgic* g = TRY(create(cfg));
    g->m_windows[0] = new (std::nothrow) DistWindow(*g, setup.base[0], setup.kick, setup.kick_ctx);
    g->m_windows[1] = new (std::nothrow) RedistWindow(*g, setup.base[1], setup.kick, setup.kick_ctx);
    if (!g->m_windows[0] || !g->m_windows[1]) {
        delete g;
        return Error::NoMemory;
    }
    return g;
}

Vgic::~Vgic() {
    // Windows are MmioDevices, never deleted through the base: each as what it is.
    delete static_cast<DistWindow*>(m_windows[0]);
    delete static_cast<RedistWindow*>(m_windows[1]);
}

MmioDevice* Vgic::window(usize i) { return i < 2 ? m_windows[i] : nullptr; }

Vgic::Vgic(const VgicConfig& config)
    : m_vcpu_count(config.vcpu_count),
      // GICD_TYPER.ITLinesNumber advertises INTIDs in blocks of 32, so the SPI count is rounded
      // up to fill the last block (1020-1023 are special: at most 988 SPIs).
      m_spi_count(static_cast<u32>(align_up(config.spi_count, 32)) > MaxSpis
                      ? MaxSpis
                      : static_cast<u32>(align_up(config.spi_count, 32))),
      // Only the top pri_bits of a priority byte are implemented (IHI 0069H, "Interrupt
      // prioritization": unimplemented low-order bits are RAZ/WI).
      m_pri_mask(static_cast<u8>(0xff00u >> config.pri_bits)) {
    for (u32 v = 0; v < m_vcpu_count; ++v) {
        m_mpidr[v] = config.mpidr[v];
        for (u32 i = 0; i < PrivateCount; ++i) m_vcpus[v].priv[i].intid = static_cast<u16>(i);
    }
    for (u32 i = 0; i < MaxSpis; ++i) m_spis[i].intid = static_cast<u16>(SpiBase + i);
    reset_locked();
}

void Vgic::reset() {
    SpinlockGuard g(m_lock);
    reset_locked();
}

void Vgic::reset_locked() {
    // Reset values (IHI 0069H register descriptions): everything disabled, inactive, not pending,
    // group 0, priority 0; SGIs are edge-triggered by definition, PPIs and SPIs start level (their
    // ICFGR reset value is IMPLEMENTATION DEFINED; Linux programs them). Redistributors start
    // asleep (GICR_WAKER.ProcessorSleep resets to 1).
    auto reset_irq = [](VIrq& irq, Trigger t) {
        irq.priority = 0;
        irq.enabled = irq.pending_latch = irq.active = irq.group1 = irq.in_lr = false;
        irq.trigger = t;
        irq.queued_on = NoVcpu;
        irq.irouter = 0;
        irq.prev = irq.next = nullptr;
    };
    m_ctlr = 0;
    m_kicks = {};
    for (u32 v = 0; v < m_vcpu_count; ++v) {
        VcpuState& c = m_vcpus[v];
        c.head = nullptr;
        c.asleep = true;
        c.lr_exact = false;
        c.lr_used = 0;
        for (u32 i = 0; i < PrivateCount; ++i) {
            reset_irq(c.priv[i], i < SgiCount ? Trigger::Edge : Trigger::Level);
            c.priv[i].target = static_cast<u16>(v);
        }
    }
    for (u32 i = 0; i < m_spi_count; ++i) reset_irq(m_spis[i], Trigger::Level);
    resolve_all_routes();
}

VIrq* Vgic::lookup(u32 intid, u16 vcpu) {
    if (intid < PrivateCount) return vcpu < m_vcpu_count ? &m_vcpus[vcpu].priv[intid] : nullptr;
    if (intid < intid_limit()) return &m_spis[intid - SpiBase];
    return nullptr;
}

// --- Routing and the pending lists ---

void Vgic::resolve_route(VIrq& irq) {
    if (irq.intid < PrivateCount) return; // private: target fixed to the owner
    irq.target = NoVcpu;
    if (irq.irouter & bit(31)) {
        // IRM = 1 (IHI 0069H, GICD_IROUTER<n>): any participating PE. A PE whose redistributor is
        // asleep does not participate; pick the lowest-numbered awake one, else vCPU 0.
        irq.target = 0;
        for (u32 v = 0; v < m_vcpu_count; ++v)
            if (!m_vcpus[v].asleep) { irq.target = static_cast<u16>(v); break; }
        return;
    }
    u32 key = affinity_key(static_cast<u8>(bits(irq.irouter, 39, 32)), static_cast<u8>(bits(irq.irouter, 23, 16)),
                           static_cast<u8>(bits(irq.irouter, 15, 8)), static_cast<u8>(bits(irq.irouter, 7, 0)));
    // No matching PE: the interrupt stays pending in the distributor and is forwarded nowhere.
    for (u32 v = 0; v < m_vcpu_count; ++v)
        if (mpidr_affinity_key(m_mpidr[v]) == key) { irq.target = static_cast<u16>(v); return; }
}

void Vgic::resolve_all_routes() {
    for (u32 i = 0; i < m_spi_count; ++i) resolve_route(m_spis[i]);
}

bool Vgic::deliverable_pending(const VIrq& irq) const {
    bool group_on = m_ctlr & (irq.group1 ? GicdCtlrEnableGrp1 : GicdCtlrEnableGrp0);
    return irq.enabled && group_on && irq.pending();
}

u16 Vgic::oracle(const VIrq& irq) const {
    // Active interrupts stay where the guest took them, even if disabled or retargeted since: the
    // guest still has to deactivate them there (dropping them would leave a HW-linked physical
    // interrupt active for ever).
    if (irq.active) return irq.queued_on != NoVcpu ? irq.queued_on : irq.target;
    if (deliverable_pending(irq)) return irq.target;
    return NoVcpu;
}

void Vgic::link(VIrq& irq, u16 vcpu) {
    VcpuState& c = m_vcpus[vcpu];
    c.lr_exact = false; // something new on the list: the live LRs no longer show all of it
    irq.prev = nullptr;
    irq.next = c.head;
    if (c.head) c.head->prev = &irq;
    c.head = &irq;
    irq.queued_on = vcpu;
}

void Vgic::unlink(VIrq& irq) {
    VcpuState& c = m_vcpus[irq.queued_on];
    if (irq.prev) irq.prev->next = irq.next; else c.head = irq.next;
    if (irq.next) irq.next->prev = irq.prev;
    irq.prev = irq.next = nullptr;
    irq.queued_on = NoVcpu;
}

VcpuSet Vgic::update(VIrq& irq) {
    u16 t = oracle(irq);
    if (irq.queued_on != NoVcpu) {
        // Any change to a queued interrupt concerns its vCPU: its live LRs may not show it.
        m_vcpus[irq.queued_on].lr_exact = false;
        // Shown in a list register of a vCPU that may be running: only that vCPU may touch it,
        // at its next fold. Kick it so that happens soon (also re-delivers a repeated edge).
        if (irq.in_lr) return VcpuSet::of(irq.queued_on);
        if (t == irq.queued_on) return VcpuSet::of(t);
        unlink(irq);
    }
    if (t == NoVcpu) return {};
    link(irq, t);
    return VcpuSet::of(t);
}

void Vgic::requeue_all() {
    for (u32 v = 0; v < m_vcpu_count; ++v)
        for (VIrq& irq : m_vcpus[v].priv) m_kicks.add(update(irq));
    for (u32 i = 0; i < m_spi_count; ++i) m_kicks.add(update(m_spis[i]));
}

VcpuSet Vgic::prune(u16 vcpu) {
    VcpuSet kicks;
    VIrq* next;
    for (VIrq* irq = m_vcpus[vcpu].head; irq; irq = next) {
        next = irq->next;
        u16 t = oracle(*irq);
        if (t == vcpu) continue;
        unlink(*irq);
        if (t == NoVcpu) continue;
        link(*irq, t);
        kicks.add(t);
    }
    return kicks;
}

// --- Sources ---

Result<VcpuSet> Vgic::raise(u32 intid, u16 vcpu) {
    SpinlockGuard g(m_lock);
    VIrq* irq = lookup(intid, vcpu);
    if (!irq) return Error::OutOfRange;
    irq->pending_latch = true;
    return update(*irq);
}

Result<VcpuSet> Vgic::set_line(u32 intid, bool level, u16 vcpu) {
    SpinlockGuard g(m_lock);
    VIrq* irq = lookup(intid, vcpu);
    if (!irq) return Error::OutOfRange;
    // An edge-triggered interrupt latches on the rising edge of its input (IHI 0069H, "Edge-
    // triggered and level-sensitive interrupts").
    if (irq->trigger == Trigger::Edge && level && !irq->line_level) irq->pending_latch = true;
    irq->line_level = level;
    return update(*irq);
}

Result<void> Vgic::set_hw(u32 intid, u32 pintid, u16 vcpu) {
    SpinlockGuard g(m_lock);
    stale_all_lrs(); // the HW link is part of what an LR shows
    VIrq* irq = lookup(intid, vcpu);
    // SGIs cannot be HW-linked: their pending state is per source and never physical.
    if (!irq || intid < SgiCount || pintid < SgiCount || pintid >= 1020) return Error::OutOfRange;
    irq->hw = true;
    irq->pintid = static_cast<u16>(pintid);
    return {};
}

Result<void> Vgic::clear_hw(u32 intid, u16 vcpu) {
    SpinlockGuard g(m_lock);
    stale_all_lrs(); // the HW link is part of what an LR shows
    VIrq* irq = lookup(intid, vcpu);
    if (!irq) return Error::OutOfRange;
    irq->hw = false;
    irq->pintid = 0;
    return {};
}

// --- SGIs ---

VcpuSet sgi_targets(const SgiRequest& req, u16 sender, const u64* mpidr, u32 count) {
    VcpuSet out;
    if (req.irm) {
        for (u32 v = 0; v < count; ++v)
            if (v != sender) out.add(static_cast<u16>(v));
        return out;
    }
    // One pass over the vCPUs (this is on the SGI exit path): a vCPU is named when Aff3.Aff2.Aff1
    // match and its Aff0 is RS * 16 + b for a set TargetList bit b.
    const u32 high = affinity_key(req.aff3, req.aff2, req.aff1, 0);
    for (u32 v = 0; v < count; ++v) {
        const u32 key = mpidr_affinity_key(mpidr[v]);
        const u32 aff0 = key & 0xFF;
        if ((key & ~0xFFu) == high && aff0 / 16 == req.rs && (req.target_list >> (aff0 % 16)) & 1)
            out.add(static_cast<u16>(v));
    }
    return out;
}

Result<VcpuSet> Vgic::send_sgi(u16 sender, u64 value, bool group1) {
    SpinlockGuard g(m_lock);
    if (sender >= m_vcpu_count) return Error::InvalidArgument;
    SgiRequest req = decode_sgi1r(value);
    VcpuSet targets = sgi_targets(req, sender, m_mpidr, m_vcpu_count);
    VcpuSet kicks;
    for (u16 v = 0; v < m_vcpu_count; ++v) {
        if (!targets.contains(v)) continue;
        VIrq& irq = m_vcpus[v].priv[req.intid];
        // A group-0 request (ICC_SGI0R_EL1) only generates SGIs configured as group 0; a group-1
        // request generates either (single Security state; KVM behaves the same).
        if (!group1 && irq.group1) continue;
        irq.pending_latch = true;
        kicks.add(update(irq));
    }
    return kicks;
}

// --- List registers ---

namespace {
// Presentation order when the list does not fit the LRs.
bool better(const VIrq& a, bool a_pend_only, const VIrq& b, bool b_pend_only) {
    if (a_pend_only != b_pend_only) return a_pend_only;
    if (a.priority != b.priority) return a.priority < b.priority;
    if (a.hw != b.hw) return a.hw; // HW first: its physical interrupt is held active meanwhile
    return a.intid < b.intid;
}
bool lr_pending(LrState s) { return s == LrState::Pending || s == LrState::PendingActive; }
// The LR that shows `irq` as pending (p) and/or active (a). Field by field: a struct copy of a
// VgicLr is a memcpy call in the image (strict alignment), on the hottest path there is.
void fill_lr(VgicLr& lr, const VIrq& irq, bool p, bool a) {
    lr.vintid = irq.intid;
    lr.priority = irq.priority;
    lr.group1 = irq.group1;
    lr.state = p && a ? LrState::PendingActive : p ? LrState::Pending : LrState::Active;
    lr.hw = irq.hw;
    lr.pintid = irq.hw ? irq.pintid : 0;
    lr.eoi_maintenance = !irq.hw && irq.trigger == Trigger::Level;
}
bool lr_active(LrState s) { return s == LrState::Active || s == LrState::PendingActive; }
} // namespace

VgicFlush Vgic::flush(u16 vcpu, VgicLr* out, u32 nr_lrs) {
    SpinlockGuard g(m_lock);
    VgicFlush res;
    if (vcpu >= m_vcpu_count) panic("vgic: flush of vCPU %u of %u", vcpu, m_vcpu_count);
    VcpuState& c = m_vcpus[vcpu];
    if (c.lr_used != 0) panic("vgic: flush of vCPU %u whose LRs were not folded", vcpu);
    u32 nr = nr_lrs < MaxLrs ? nr_lrs : MaxLrs;

    // Everything left on the list after pruning is active here or deliverable to this vCPU.
    res.kick = prune(vcpu);
    VIrq* best[MaxLrs];
    bool best_pend_only[MaxLrs];
    u32 n = 0, total = 0;
    for (VIrq* irq = c.head; irq; irq = irq->next) {
        ++total;
        bool po = deliverable_pending(*irq) && !irq->active;
        if (nr == 0) continue;
        u32 pos;
        if (n < nr) {
            pos = n++;
        } else if (better(*irq, po, *best[nr - 1], best_pend_only[nr - 1])) {
            pos = nr - 1;
        } else {
            continue;
        }
        while (pos > 0 && better(*irq, po, *best[pos - 1], best_pend_only[pos - 1])) {
            best[pos] = best[pos - 1];
            best_pend_only[pos] = best_pend_only[pos - 1];
            --pos;
        }
        best[pos] = irq;
        best_pend_only[pos] = po;
    }

    bool any_lr_pending = false, hidden = false;
    for (u32 i = 0; i < n; ++i) {
        VIrq& irq = *best[i];
        bool p = deliverable_pending(irq);
        bool a = irq.active;
        // Never pending+active for level or HW interrupts: a level line must be re-sampled after
        // the guest deactivates it (EOI maintenance), which P+A would skip, and a HW interrupt's
        // pending state lives in the physical GIC, which re-signals it (KVM's rule). Show it
        // active only; the pending part stays here for the next flush.
        if (p && a && (irq.trigger == Trigger::Level || irq.hw)) p = false, hidden = true;
        fill_lr(out[i], irq, p, a);
        // The LR now holds the edge; fold gives it back if the guest did not take it.
        if (p && irq.trigger == Trigger::Edge) irq.pending_latch = false;
        irq.in_lr = true;
        irq.lr = static_cast<u8>(i);
        c.lr_irq[i] = &irq;
        any_lr_pending |= p;
    }
    c.lr_used = n;
    c.lr_exact = total == n && !hidden;
    res.used = n;

    if (total > n) {
        bool left_pending = false, left_active = false;
        for (VIrq* irq = c.head; irq; irq = irq->next) {
            if (irq->in_lr) continue;
            left_pending |= deliverable_pending(*irq);
            left_active |= irq->active;
        }
        // Each request must be unable to fire at once, or the vCPU would exit in a loop without
        // running: NP fires when no LR is pending, U when at most one LR is valid.
        res.npie = left_pending && any_lr_pending;
        res.uie = n >= 2;
        res.lrenpie = left_active;
    }
    return res;
}

VcpuSet Vgic::fold(u16 vcpu, const VgicLr* lrs, u64 elrsr, u32 eoicount) {
    SpinlockGuard g(m_lock);
    if (vcpu >= m_vcpu_count) panic("vgic: fold of vCPU %u of %u", vcpu, m_vcpu_count);
    VcpuState& c = m_vcpus[vcpu];

    // EOIcount counts guest EOIs (EOImode 0) that matched no LR: they deactivate active
    // interrupts left out of the LRs. The guest EOIs in priority order, so it is the highest-
    // priority such interrupt each time.
    for (u32 k = 0; k < eoicount; ++k) {
        VIrq* top = nullptr;
        for (VIrq* irq = c.head; irq; irq = irq->next)
            if (irq->active && !irq->in_lr && (!top || irq->priority < top->priority)) top = irq;
        if (!top) break;
        top->active = false;
    }

    for (u32 i = 0; i < c.lr_used; ++i) {
        VIrq& irq = *c.lr_irq[i];
        c.lr_irq[i] = nullptr;
        irq.in_lr = false;
        LrState s = (elrsr >> i) & 1 ? LrState::Invalid : lrs[i].state;
        irq.active = lr_active(s);
        if (irq.trigger == Trigger::Edge) {
            // Still pending in the LR: the guest has not taken it; keep the edge (a new edge
            // raised meanwhile has set the latch already and is kept either way).
            if (lr_pending(s)) irq.pending_latch = true;
        } else if (!lr_pending(s)) {
            // The guest acknowledged it: a software pend (ISPENDR, raise()) is consumed. A line
            // still high keeps it pending, and prune() below leaves it queued for the next flush.
            irq.pending_latch = false;
        }
    }
    c.lr_used = 0;
    c.lr_exact = false;
    return prune(vcpu);
}

// --- Live list registers (the level-1 fast path) ---

bool Vgic::add_live(u16 vcpu, VIrq& irq, const LiveLrs& hw, LiveAdd& out) {
    VcpuState& c = m_vcpus[vcpu];
    // The LRs must show v's whole list: then the hardware, which takes the highest-priority
    // pending LR, makes the choice a flush would make, and nothing waits behind them.
    if (hw.idle ? (c.lr_used != 0 || c.head != nullptr) : !c.lr_exact) return false;
    const u32 nr = hw.nr_lrs < MaxLrs ? hw.nr_lrs : MaxLrs;
    u32 index = c.lr_used;
    if (irq.in_lr) {
        // Its LR must be one the guest has finished with: fold would find it Invalid, make it
        // inactive and (level) consume the latch; a level line still high would keep it pending,
        // which is the full path's re-sampling.
        index = irq.lr;
        if (index >= c.lr_used || c.lr_irq[index] != &irq || !((hw.elrsr >> index) & 1)) return false;
        if (irq.trigger == Trigger::Level && irq.line_level) return false;
    } else {
        if (irq.queued_on != NoVcpu || irq.active || irq.pending() || index >= nr) return false;
    }
    const bool group_on = m_ctlr & (irq.group1 ? GicdCtlrEnableGrp1 : GicdCtlrEnableGrp0);
    if (!irq.enabled || !group_on || irq.target != vcpu) return false;

    if (!irq.in_lr) {
        link(irq, vcpu);
        irq.in_lr = true;
        irq.lr = static_cast<u8>(index);
        c.lr_irq[index] = &irq;
        c.lr_used = index + 1;
    }
    irq.active = false;
    // As flush after the source's latch: an edge's latch moves into the LR, a level
    // interrupt keeps it until fold sees the LR taken.
    irq.pending_latch = irq.trigger == Trigger::Level;
    c.lr_exact = true; // link() cleared it; the LRs show everything again
    out.index = index;
    out.used = c.lr_used;
    fill_lr(out.lr, irq, true, false);
    return true;
}

bool Vgic::raise_live(u32 intid, u16 vcpu, const LiveLrs& hw, LiveAdd& out) {
    SpinlockGuard g(m_lock);
    if (intid >= PrivateCount || vcpu >= m_vcpu_count) return false;
    return add_live(vcpu, m_vcpus[vcpu].priv[intid], hw, out);
}

bool Vgic::send_sgi_live(u16 sender, u64 value, bool group1, const LiveLrs& hw, LiveAdd& out) {
    SpinlockGuard g(m_lock);
    if (sender >= m_vcpu_count) return false;
    const SgiRequest req = decode_sgi1r(value);
    // Live only when the request names the sender alone, which needs no pass over the vCPUs: one
    // TargetList bit, and it names the sender's own affinity (affinities are unique, so that bit
    // names nobody else). Any other request takes send_sgi(), even one whose other bits name no
    // vCPU (sgi_targets() decides those).
    const u32 key = mpidr_affinity_key(m_mpidr[sender]);
    const u32 aff0 = key & 0xFF;
    if (req.irm || req.target_list != (1u << (aff0 % 16)) || req.rs != aff0 / 16 ||
        (key & ~0xFFu) != affinity_key(req.aff3, req.aff2, req.aff1, 0))
        return false;
    VIrq& irq = m_vcpus[sender].priv[req.intid];
    if (!group1 && irq.group1) return false; // generates nothing: send_sgi() says so
    return add_live(sender, irq, hw, out);
}

bool Vgic::has_pending(u16 vcpu, u8* best_priority) {
    SpinlockGuard g(m_lock);
    if (vcpu >= m_vcpu_count) return false;
    bool found = false;
    u8 best = 0xff;
    for (VIrq* irq = m_vcpus[vcpu].head; irq; irq = irq->next) {
        if (!deliverable_pending(*irq) || oracle(*irq) != vcpu) continue;
        if (!found || irq->priority < best) best = irq->priority;
        found = true;
    }
    if (found && best_priority) *best_priority = best;
    return found;
}

Result<VIrq> Vgic::irq_state(u32 intid, u16 vcpu) {
    SpinlockGuard g(m_lock);
    VIrq* irq = lookup(intid, vcpu);
    if (!irq) return Error::OutOfRange;
    return *irq;
}

u32 Vgic::queued_count(u16 vcpu) {
    SpinlockGuard g(m_lock);
    u32 n = 0;
    if (vcpu < m_vcpu_count)
        for (VIrq* irq = m_vcpus[vcpu].head; irq; irq = irq->next) ++n;
    return n;
}

bool Vgic::lists_consistent() {
    SpinlockGuard g(m_lock);
    u32 listed = 0, claimed = 0;
    const u32 total = m_vcpu_count * PrivateCount + m_spi_count;
    for (u32 v = 0; v < m_vcpu_count; ++v) {
        const VIrq* prev = nullptr;
        for (const VIrq* irq = m_vcpus[v].head; irq; prev = irq, irq = irq->next) {
            if (irq->prev != prev || irq->queued_on != v || ++listed > total) return false;
        }
        for (const VIrq& irq : m_vcpus[v].priv) claimed += irq.queued_on != NoVcpu;
    }
    for (u32 i = 0; i < m_spi_count; ++i) claimed += m_spis[i].queued_on != NoVcpu;
    return listed == claimed;
}

VcpuSet Vgic::take_kicks() {
    SpinlockGuard g(m_lock);
    VcpuSet k = m_kicks;
    m_kicks = {};
    return k;
}

} // namespace vgic
