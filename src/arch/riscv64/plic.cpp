// PLIC host driver (RISC-V PLIC Specification 1.0.0: chapter 3 memory map, 4 priorities,
// 5 pending bits, 6 enables, 7 priority thresholds, 8 claim, 9 completion) and the dispatch of
// the hart-local interrupts (RISC-V Privileged Spec 20211203, 4.1.3 sip/sie).
//
// Forwarding: a source handed to a guest (IrqAction::Forwarded) is claimed and left uncompleted;
// the PLIC's gateway forwards no new request for it until the completion (chapter 9), which
// irq_deactivate (or the vPLIC, when the guest completes it) writes. That is the "mask at the
// source until the guest ends it" of docs/porting.md.
#include "plic.hpp"
#include "arch.hpp"
#include "kernel/irq.hpp"
#include "kernel/percpu.hpp"
#include "kernel/spinlock.hpp"

namespace arch {

namespace {

constexpr u64 PRIORITY = 0x0, ENABLE = 0x2000, ENABLE_STRIDE = 0x80, CONTEXT = 0x200000, CONTEXT_STRIDE = 0x1000;
constexpr u64 THRESHOLD = 0x0, CLAIM = 0x4; // within a context's block
constexpr u32 NO_CONTEXT = ~0u;

PlicConfig g_cfg;
u32 g_priority_bits;
Spinlock g_lock;                 // enable words are shared by 32 sources each: read-modify-write
u32 g_route[MAX_IRQS] = {};      // PLIC source -> context it is (or was last) enabled in, + 1

volatile u32& reg(u64 off) { return *reinterpret_cast<volatile u32*>(g_cfg.base + off); }
volatile u32& priority(u32 src) { return reg(PRIORITY + 4 * u64(src)); }
volatile u32& enable_word(u32 ctx, u32 src) { return reg(ENABLE + ENABLE_STRIDE * ctx + 4 * (src / 32)); }
volatile u32& threshold(u32 ctx) { return reg(CONTEXT + CONTEXT_STRIDE * ctx + THRESHOLD); }
volatile u32& claim(u32 ctx) { return reg(CONTEXT + CONTEXT_STRIDE * ctx + CLAIM); }

bool is_source(u32 id) { return id >= 1 && id <= g_cfg.ndev; }

u32 context_of(u64 hartid) {
    for (u32 i = 0; i < g_cfg.hart_count; ++i)
        if (g_cfg.hartid[i] == hartid) return g_cfg.s_context[i];
    return NO_CONTEXT;
}
u32 this_context() { return context_of(this_cpu().hw_id); }

void set_enable(u32 ctx, u32 src, bool on) {
    const u32 bit = 1u << (src % 32);
    volatile u32& w = enable_word(ctx, src);
    w = on ? (w | bit) : (w & ~bit);
}

// Enables `src` in exactly context `ctx` (g_lock held). Priority 1: above threshold 0, so it is
// delivered (chapter 7: only priorities above the threshold interrupt).
void route(u32 src, u32 ctx) {
    const u32 old = g_route[src];
    if (old && old - 1 != ctx) set_enable(old - 1, src, false);
    priority(src) = 1;
    set_enable(ctx, src, true);
    g_route[src] = ctx + 1;
}

} // namespace

Result<void> plic_init(const PlicConfig& cfg) {
    if (!cfg.base || cfg.ndev == 0 || cfg.ndev >= MAX_IRQS || cfg.ndev > 1023) return Error::InvalidArgument;
    g_cfg = cfg;
    for (u32 i = 0; i < cfg.hart_count; ++i) {
        for (u32 src = 0; src <= cfg.ndev; src += 32) enable_word(cfg.s_context[i], src) = 0;
        threshold(cfg.s_context[i]) = 0;
    }
    // Chapter 4: an implementation keeps only some bits of a priority; the ones that stick after
    // writing all ones are the implemented ones.
    priority(1) = ~0u;
    g_priority_bits = u32(__builtin_popcount(priority(1)));
    for (u32 src = 1; src <= cfg.ndev; ++src) priority(src) = 0;
    return {};
}

u32 vintc_priority_bits() { return g_priority_bits; }

void irq_cpu_init() {
    // This hart's S-context takes everything routed to it (threshold 0), and the hart takes
    // external and software (IPI) interrupts; the timer is enabled by host_cpu_init.
    const u32 ctx = this_context();
    if (ctx != NO_CONTEXT) threshold(ctx) = 0;
    csr_set(sie, SIP_SEIP | SIP_SSIP);
}

void irq_enable(u32 id, bool enable) {
    if (id == IRQ_SOFT || id == IRQ_TIMER) {
        const u64 bit = 1ull << (id - IRQ_LOCAL_BASE);
        if (enable) csr_set(sie, bit);
        else csr_clear(sie, bit);
        return;
    }
    if (!is_source(id)) return;
    SpinlockGuard guard(g_lock);
    if (enable) {
        const u32 ctx = this_context();
        if (ctx != NO_CONTEXT) route(id, ctx);
    } else if (g_route[id]) {
        set_enable(g_route[id] - 1, id, false); // g_route keeps the context for irq_deactivate
    }
}

void irq_enable_shared_on(u32 id, u64 target_hw_id) {
    if (!is_source(id)) return;
    const u32 ctx = context_of(target_hw_id);
    if (ctx == NO_CONTEXT) return;
    SpinlockGuard guard(g_lock);
    route(id, ctx);
}

void irq_deactivate(u32 id) {
    if (!is_source(id)) return;
    SpinlockGuard guard(g_lock);
    if (!g_route[id]) return;
    const u32 ctx = g_route[id] - 1;
    // Chapter 9: a completion for a source not enabled in that context is silently ignored, and
    // the gateway would then hold the source for good. A source disabled meanwhile (a VM stopped
    // with it in service) is enabled just for the completion, at priority 0 so that it cannot
    // interrupt in between (chapter 4: priority 0 is "never interrupt").
    const u32 bit = 1u << (id % 32);
    const bool enabled = enable_word(ctx, id) & bit;
    const u32 prio = priority(id);
    if (!enabled) {
        priority(id) = 0;
        set_enable(ctx, id, true);
    }
    claim(ctx) = id;
    if (!enabled) {
        set_enable(ctx, id, false);
        priority(id) = prio;
    }
}

void handle_pending_irqs() {
    const u64 pending = csr_read(sip) & csr_read(sie);
    if (pending & SIP_SSIP) {
        // sip.SSIP is writable in S-mode (4.1.3): cleared before the handler, so an IPI sent
        // while it runs is not lost.
        csr_clear(sip, SIP_SSIP);
        irq_dispatch(IRQ_SOFT);
    }
    // STIP follows stimecmp (Sstc) or the firmware's timer (SBI set_timer): the handler's next
    // deadline (or timer_stop) clears it.
    if (pending & SIP_STIP) irq_dispatch(IRQ_TIMER);
    if (pending & SIP_SEIP) {
        const u32 ctx = this_context();
        if (ctx == NO_CONTEXT) return;
        // Chapter 8: a claim returns the highest-priority pending source enabled here (0: none)
        // and clears its pending bit.
        for (u32 id; (id = claim(ctx)) != 0;) {
            if (irq_dispatch(id) == IrqAction::Done) claim(ctx) = id; // completion (chapter 9)
        }
    }
}

} // namespace arch
