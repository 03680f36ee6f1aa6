// The register-touching half of the aarch64 vGIC layer (vgic_hw.hpp): ICH_* accesses of the
// running CPU (Arm IHI 0069H, chapter 12, "Virtualization Control Registers"), called by
// arch::Vcpu around every guest entry and from its exit fast paths (docs/architecture.md,
// "Interrupt path").
#include "vgic_hw.hpp"
#include "arch.hpp"
#include "kernel/irq.hpp"
#include "kernel/log.hpp"
#include "vintc/vgic.hpp"
#include <atomic>

namespace arch::vgichw {

namespace {

// MRS/MSR take the register as an immediate, so each ICH_LR<n>_EL2 needs its own instruction:
// ICH_LR0..7_EL2 = S3_4_C12_C12_<0..7>, ICH_LR8..15_EL2 = S3_4_C12_C13_<0..7> (IHI 0069H,
// ICH_LR<n>_EL2 "Accessing the ICH_LR<n>_EL2").
#define CXV_LR_CASES(X)                                                                            \
    X(0, S3_4_C12_C12_0) X(1, S3_4_C12_C12_1) X(2, S3_4_C12_C12_2) X(3, S3_4_C12_C12_3)             \
    X(4, S3_4_C12_C12_4) X(5, S3_4_C12_C12_5) X(6, S3_4_C12_C12_6) X(7, S3_4_C12_C12_7)             \
    X(8, S3_4_C12_C13_0) X(9, S3_4_C12_C13_1) X(10, S3_4_C12_C13_2) X(11, S3_4_C12_C13_3)           \
    X(12, S3_4_C12_C13_4) X(13, S3_4_C12_C13_5) X(14, S3_4_C12_C13_6) X(15, S3_4_C12_C13_7)

u64 read_hcr() { return read_sysreg(S3_4_C12_C11_0); }       // ICH_HCR_EL2
void write_hcr(u64 v) { write_sysreg(S3_4_C12_C11_0, v); }
u64 read_elrsr() { return read_sysreg(S3_4_C12_C11_5); }     // ICH_ELRSR_EL2

std::atomic<u64> g_maintenance_count{0};
// ICH_VTR_EL2 decoded once (cpu_init): read on every entry otherwise. cxvisor runs on
// homogeneous CPUs (as vcpu.cpp's ID-register view assumes).
Vtr g_vtr;

} // namespace

u64 read_lr(u32 n) {
    switch (n) {
#define X(i, reg) case i: return read_sysreg(reg);
        CXV_LR_CASES(X)
#undef X
    }
    panic("vgic: ICH_LR%u_EL2 does not exist", n);
}

void write_lr(u32 n, u64 v) {
    switch (n) {
#define X(i, reg) case i: write_sysreg(reg, v); return;
        CXV_LR_CASES(X)
#undef X
    }
    panic("vgic: ICH_LR%u_EL2 does not exist", n);
}

Vtr host_vtr() { return decode_vtr(read_sysreg(S3_4_C12_C11_1)); } // ICH_VTR_EL2

void cpu_init() {
    write_hcr(0);
    g_vtr = host_vtr();
    const u32 nr = g_vtr.list_regs;
    for (u32 i = 0; i < nr; ++i) write_lr(i, 0);
}

VgicFlush flush(vgic::Vgic& g, u16 vcpu, LrContext& ctx) {
    if (ctx.flushed) panic("vgic: vCPU %u flushed twice without a sync", vcpu);
    // Nothing pending or active for this vCPU: no LR to fill, no maintenance to ask for, and
    // ICH_HCR_EL2 stays 0 (En = 0 only stops signalling; the guest's ICV_* registers work). The
    // model is not entered, so neither is its lock: most exits of a quiet guest cost nothing here.
    if (g.idle(vcpu)) {
        ctx.flushed = ctx.idle = true;
        return {};
    }
    const Vtr& vtr = g_vtr;
    VgicLr lrs[vgic::MaxLrs];
    VgicFlush f = g.flush(vcpu, lrs, vtr.list_regs);
    for (u32 i = 0; i < f.used; ++i) {
        // The model validated every source of these fields (set_hw, INTID ranges, level/HW never
        // P+A); a failure here is a cxvisor bug.
        LrCheck c = check_lr(lrs[i], vtr.id_bits);
        if (c != LrCheck::Ok) panic("vgic: LR for vINTID %u rejected (%u)", lrs[i].vintid, unsigned(c));
        write_lr(i, encode_lr(lrs[i], vtr.pri_bits));
    }
    // LRs at and above `used` are zero: cpu_init() cleared them and every sync() clears what its
    // flush wrote. En last: the ERET into the guest is the context synchronization the writes need.
    write_hcr(encode_hcr(hcr_for_entry(f)));
    ctx.used = f.used;
    ctx.flushed = true;
    return f;
}

vgic::VcpuSet sync(vgic::Vgic& g, u16 vcpu, LrContext& ctx) {
    if (!ctx.flushed) panic("vgic: vCPU %u synced without a flush", vcpu);
    if (ctx.idle) { // nothing was presented: nothing to take back (no active interrupt, so no EOIcount)
        ctx.flushed = ctx.idle = false;
        return {};
    }
    const u32 eoicount = decode_hcr(read_hcr()).eoicount;
    const u64 elrsr = lr_bitmap(read_elrsr(), ctx.used);
    VgicLr lrs[vgic::MaxLrs];
    for (u32 i = 0; i < ctx.used; ++i)
        if (!(elrsr & bit(i))) lrs[i] = decode_lr(read_lr(i));
    // Off before the host unmasks interrupts: ICH_HCR_EL2 = 0 clears En and every maintenance
    // enable (UIE, NPIE, LRENPIE, VGrp*IE), and the zeroed LRs clear ICH_EISR_EL2, so no condition
    // of ICH_MISR_EL2 (IHI 0069H) is left to hold the maintenance interrupt asserted in the host.
    // Zeroed LRs also leave no HW-linked state behind for another vCPU on this CPU.
    write_hcr(0);
    for (u32 i = 0; i < ctx.used; ++i) write_lr(i, 0);
    isb();
    ctx.used = 0;
    ctx.flushed = false;
    return g.fold(vcpu, lrs, elrsr, eoicount);
}

namespace {

vgic::LiveLrs live_view(const LrContext& ctx) {
    vgic::LiveLrs v;
    v.nr_lrs = g_vtr.list_regs;
    v.idle = ctx.idle;
    if (!ctx.idle) v.elrsr = lr_bitmap(read_elrsr(), ctx.used);
    return v;
}

void live_commit(const vgic::LiveAdd& add, LrContext& ctx) {
    // No check_lr() here, unlike flush(): a live add is always a private INTID (< 32) shown
    // Pending, built by the model's own LR rule, and its pINTID was checked by Vgic::set_hw; so
    // every rule of check_lr holds by construction (tests/unit/arch/vgic_hw_test.cpp checks every
    // live add of the model's fast-path stories against it). This is the SGI path's hottest code.
    write_lr(add.index, encode_lr(add.lr, g_vtr.pri_bits));
    if (ctx.idle) {
        // An idle entry left ICH_HCR_EL2 = 0; the model asks for no maintenance (its list is
        // this one interrupt), so En alone, as flush() would have written.
        write_hcr(HCR_EN);
        ctx.idle = false;
    }
    if (add.used > ctx.used) ctx.used = add.used;
    // The ERET into the guest is the context synchronization the LR write needs.
}

} // namespace

bool raise_live(vgic::Vgic& g, u16 vcpu, u32 intid, LrContext& ctx) {
    if (!ctx.flushed) return false;
    vgic::LiveAdd add;
    if (!g.raise_live(intid, vcpu, live_view(ctx), add)) return false;
    live_commit(add, ctx);
    return true;
}

bool send_sgi_live(vgic::Vgic& g, u16 vcpu, u64 value, bool group1, LrContext& ctx) {
    if (!ctx.flushed) return false;
    vgic::LiveAdd add;
    if (!g.send_sgi_live(vcpu, value, group1, live_view(ctx), add)) return false;
    live_commit(add, ctx);
    return true;
}

IrqAction maintenance_irq(u32, void*) {
    g_maintenance_count.fetch_add(1, std::memory_order_relaxed);
    return IrqAction::Done;
}
u64 maintenance_count() { return g_maintenance_count.load(std::memory_order_relaxed); }

void register_maintenance_irq(u32 intid) { irq_register(intid, maintenance_irq, nullptr); }
void enable_maintenance_irq(u32 intid) { irq_enable(intid, true); }

} // namespace arch::vgichw
