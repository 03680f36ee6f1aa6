// Vplic: gateways, core state, the register model and the notification bits. See vplic.hpp for the
// contracts; "PLIC spec" is the RISC-V Platform-Level Interrupt Controller Specification 1.0.0.
#include "vintc/vplic.hpp"
#include <new>

namespace vplic {

Result<Vplic*> Vplic::create(const VplicConfig& config) {
    if (config.vcpu_count == 0 || config.vcpu_count > MaxVcpus) return Error::InvalidArgument;
    if (config.sources == 0 || config.sources > MaxSources) return Error::InvalidArgument;
    if (config.priority_bits == 0 || config.priority_bits > MaxPriorityBits) return Error::InvalidArgument;
    Vplic* p = new (std::nothrow) Vplic(config);
    if (!p) return Error::NoMemory;
    return p;
}

Vplic::Vplic(const VplicConfig& config)
    : m_vcpu_count(config.vcpu_count), m_sources(config.sources),
      // PLIC spec "Interrupt Priorities": the register is WARL and every combination of its
      // variable bits is a valid level, so keeping the low priority_bits bits is conforming.
      m_pri_mask((1u << config.priority_bits) - 1), m_hw_complete(config.hw_complete),
      m_hw_complete_ctx(config.hw_complete_ctx), m_kick(config.kick), m_kick_ctx(config.kick_ctx),
      m_window(*this, config.base, window_size(config.vcpu_count)) {
    reset_locked();
}

void Vplic::reset() {
    u32 done[Words] = {}; // physical sources to complete, as a bitmap (no stack array of IDs)
    {
        SpinlockGuard g(m_lock);
        for (u32 s = 1; s <= m_sources; ++s) {
            const Source& src = m_src[s];
            // The host claimed the physical source and forwarded it; nobody completes it now.
            if (src.psource != NoPsource && (src.in_service || pending(s)))
                done[src.psource / 32] |= 1u << (src.psource % 32);
        }
        reset_locked();
    }
    if (!m_hw_complete) return;
    for (u32 w = 0; w < Words; ++w)
        for (u32 bitsw = done[w]; bitsw; bitsw &= bitsw - 1)
            m_hw_complete(m_hw_complete_ctx, w * 32 + static_cast<u32>(__builtin_ctz(bitsw)));
}

void Vplic::reset_locked() {
    // Reset values: the PLIC spec leaves them to the platform; QEMU's PLIC and Linux expect
    // everything zero (priority 0 = never interrupt, no enables, threshold 0).
    for (u32 w = 0; w < Words; ++w) m_ip[w] = 0;
    for (u32 s = 0; s <= m_sources; ++s) {
        Source& src = m_src[s];
        src.priority = 0;
        src.in_service = src.edge_latched = false;
    }
    for (u32 v = 0; v < m_vcpu_count; ++v) m_ctx[v] = Context{};
    // A level input still asserted is converted into a request by its (now idle) gateway.
    for (u32 s = 1; s <= m_sources; ++s)
        if (m_src[s].line) forward(s);
    (void)update_eip(); // all enables are off: every EIP drops to false
}

// --- Gateways and the core ---

void Vplic::forward(u32 s) {
    Source& src = m_src[s];
    if (src.in_service) return; // one request per source until its completion
    src.in_service = true;
    set_pending(s, true);
}

bool Vplic::deliverable(const Context& c) const {
    for (u32 w = 0; w <= m_sources / 32; ++w)
        for (u32 cand = m_ip[w] & c.enable[w]; cand; cand &= cand - 1) {
            u32 s = w * 32 + static_cast<u32>(__builtin_ctz(cand));
            // PLIC spec "Priority Thresholds": masked if priority <= threshold (so priority 0
            // never notifies, whatever the threshold).
            if (m_src[s].priority > c.threshold) return true;
        }
    return false;
}

u32 Vplic::best_pending(const Context& c) const {
    u32 best = 0, best_prio = 0;
    for (u32 w = 0; w <= m_sources / 32; ++w)
        for (u32 cand = m_ip[w] & c.enable[w]; cand; cand &= cand - 1) {
            u32 s = w * 32 + static_cast<u32>(__builtin_ctz(cand));
            // Ascending IDs and a strict comparison: ties go to the lowest ID ("Interrupt
            // Identifiers (IDs)"); priority 0 "never interrupts", so it is never claimed either.
            if (m_src[s].priority > best_prio) best = s, best_prio = m_src[s].priority;
        }
    return best;
}

VcpuSet Vplic::update_eip() {
    VcpuSet rose;
    for (u32 v = 0; v < m_vcpu_count; ++v) {
        const bool now = deliverable(m_ctx[v]);
        if (now == m_eip[v].load(std::memory_order_relaxed)) continue;
        m_eip[v].store(now, std::memory_order_release);
        if (now) rose.add(static_cast<u16>(v));
    }
    return rose;
}

// --- Sources ---

Result<VcpuSet> Vplic::set_line(u32 source, bool level, u16) {
    SpinlockGuard g(m_lock);
    Source* src = lookup(source);
    if (!src) return Error::OutOfRange;
    src->line = level;
    // PLIC spec "Interrupt Gateways": an assertion becomes a request if the gateway is idle; a
    // deassertion does not retract a forwarded request.
    if (level) forward(source);
    return update_eip();
}

Result<VcpuSet> Vplic::raise(u32 source) {
    SpinlockGuard g(m_lock);
    Source* src = lookup(source);
    if (!src) return Error::OutOfRange;
    if (!src->in_service) forward(source);
    else if (!pending(source)) src->edge_latched = true; // claimed: deliver it after completion
    return update_eip();
}

Result<void> Vplic::set_hw(u32 vsource, u32 psource) {
    if (!m_hw_complete) return Error::InvalidArgument;
    if (psource == 0 || psource > MaxSources) return Error::OutOfRange;
    SpinlockGuard g(m_lock);
    Source* src = lookup(vsource);
    if (!src) return Error::OutOfRange;
    src->psource = static_cast<u16>(psource);
    return {};
}

// --- Register model ---

void Vplic::count_bad(u64 offset) {
    m_bad_count.fetch_add(1, std::memory_order_relaxed);
    m_bad_last.store(offset, std::memory_order_relaxed);
}

u32 Vplic::word_mask(u64 w) const {
    // Bit 0 of word 0 is the non-existent source 0, hardwired to zero ("Interrupt Pending Bits",
    // "Interrupt Enables"); bits above the last source are not implemented.
    u32 m = ~0u;
    if (w == 0) m &= ~1u;
    if (w == m_sources / 32) m &= (2u << (m_sources % 32)) - 1; // wraps to all ones for bit 31
    return m;
}

Result<u64> Vplic::access(u64 offset, unsigned width, const u64* wv, u32* hw_done) {
    // PLIC spec "Memory Map": 32-bit registers, accessed atomically with LW and SW.
    if (width != 4 || offset % 4) return Error::InvalidArgument;
    const u32 ctxs = contexts(m_vcpu_count);
    const u32 val = wv ? static_cast<u32>(*wv) : 0;

    if (offset < PendingBase) { // "Interrupt Priorities": one register per source
        Source* src = lookup(static_cast<u32>(offset / 4));
        if (!src) return Error::OutOfRange; // source 0 does not exist; none above `sources`
        if (wv) src->priority = static_cast<u8>(val & m_pri_mask);
        return u64(src->priority);
    }
    if (offset < EnableBase) { // "Interrupt Pending Bits": read-only
        const u64 w = (offset - PendingBase) / 4;
        if (!word_implemented(w)) return Error::OutOfRange;
        return wv ? u64(0) : u64(m_ip[w]);
    }
    if (offset < ContextBase) { // "Interrupt Enables": a bitmap per context
        const u64 ctx = (offset - EnableBase) / EnableStride;
        const u64 w = (offset - EnableBase) % EnableStride / 4;
        if (ctx >= ctxs || !word_implemented(w)) return Error::OutOfRange;
        if (ctx % 2 == 0) return u64(0); // M-mode context: never the guest's, RAZ/WI
        u32& en = m_ctx[ctx / 2].enable[w];
        if (wv) en = val & word_mask(w);
        return u64(en);
    }
    // "Priority Thresholds", "Interrupt Claim Process", "Interrupt Completion": a page per context.
    const u64 ctx = (offset - ContextBase) / ContextStride;
    const u64 reg = (offset - ContextBase) % ContextStride;
    if (ctx >= ctxs || (reg != 0 && reg != ClaimOffset)) return Error::OutOfRange;
    if (ctx % 2 == 0) return u64(0);
    Context& c = m_ctx[ctx / 2];
    if (reg == 0) {
        if (wv) c.threshold = val & m_pri_mask; // WARL like the priorities
        return u64(c.threshold);
    }
    if (!wv) { // claim: the best source leaves the core's pending bits, stays in service
        const u32 s = best_pending(c);
        if (s) set_pending(s, false);
        return u64(s);
    }
    // Completion of `val`: ignored unless that source is enabled on this context and in service
    // (claimed). The spec does not require the completing context to be the claiming one.
    Source* src = lookup(val);
    if (!src || !((c.enable[val / 32] >> (val % 32)) & 1) || !src->in_service || pending(val))
        return u64(0);
    src->in_service = false;
    if (src->psource != NoPsource) *hw_done = src->psource;
    // The gateway may forward the next request: the level still asserted, or an edge that came
    // in service. Recomputing (update_eip, by the caller) rather than clearing the notification
    // is what keeps a second interrupt from being lost (hvisor #129).
    if (src->line || src->edge_latched) {
        src->edge_latched = false;
        forward(val);
    }
    return u64(0);
}

Result<u64> Vplic::mmio_read(u64 offset, unsigned width) {
    SpinlockGuard g(m_lock);
    u32 unused = 0;
    Result<u64> r = access(offset, width, nullptr, &unused);
    if (r.is_error()) count_bad(offset);
    // A claim can only lower notifications: nothing to kick, but the EIP bits must follow.
    else if (offset >= ContextBase) (void)update_eip();
    return r;
}

Result<VcpuSet> Vplic::mmio_write(u64 offset, unsigned width, u64 value) {
    u32 hw_done = 0;
    VcpuSet rose;
    {
        SpinlockGuard g(m_lock);
        Result<u64> r = access(offset, width, &value, &hw_done);
        if (r.is_error()) {
            count_bad(offset);
            return r.error();
        }
        rose = update_eip();
    }
    // Outside the lock: the host's completion of the physical source takes the host PLIC's
    // path (and may re-raise this source from the host interrupt handler on another CPU).
    if (hw_done && m_hw_complete) m_hw_complete(m_hw_complete_ctx, hw_done);
    return rose;
}

Result<u64> VplicWindow::read(u64 offset, unsigned width) { return m_p.mmio_read(offset, width); }

Result<void> VplicWindow::write(u64 offset, unsigned width, u64 value) {
    Result<VcpuSet> r = m_p.mmio_write(offset, width, value);
    if (r.is_error()) return r.error();
    if (!r.value().empty() && m_p.m_kick) m_p.m_kick(m_p.m_kick_ctx, r.value());
    return {};
}

} // namespace vplic
