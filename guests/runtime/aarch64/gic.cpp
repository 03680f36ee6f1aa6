// cxvisor test-guest runtime: GICv3 programming and the IRQ dispatcher (see gic.hpp).
#include "gic.hpp"

namespace rt::gic {
namespace {

struct Entry {
    Handler fn;
    void* arg;
};
Entry g_handlers[1020];

// One record per interrupt being handled on a vCPU (nested when a handler unmasks PSTATE.I).
struct Level {
    uint32_t intid;
    bool eoi_done, dir_done, keep_active;
};
constexpr unsigned MAX_NEST = 16; // more levels than a 5-bit priority space can preempt

struct PerCpu {
    Level level[MAX_NEST];
    unsigned depth;
    bool eoimode;
    uint64_t taken, spurious;
};
PerCpu g_cpu[MAX_CPUS];

PerCpu& me() { return g_cpu[cpu_index()]; }
unsigned cpu_or_me(unsigned cpu) { return cpu == ~0u ? cpu_index() : cpu; }

uint64_t word(uint64_t reg, uint32_t intid, unsigned cpu) {
    return bank(intid, cpu_or_me(cpu)) + reg + 4 * (intid / 32);
}
uint32_t bit(uint32_t intid) { return 1u << (intid % 32); }


// The innermost interrupt being handled on this vCPU, if it is `intid`.
Level* current(uint32_t intid) {
    PerCpu& c = me();
    if (c.depth == 0 || c.depth > MAX_NEST) return nullptr;
    Level& l = c.level[c.depth - 1];
    return l.intid == intid ? &l : nullptr;
}

} // namespace

// ---------------------------------------------------------------- distributor / redistributor
uint64_t g_gicd_base = VIRT_GICD_BASE, g_gicr_base = VIRT_GICR_BASE;
void set_layout(uint64_t gicd, uint64_t gicr) {
    g_gicd_base = gicd;
    g_gicr_base = gicr;
}

void wait_rwp(uint32_t intid) {
    // GICD_CTLR.RWP covers SPI enable changes, GICR_CTLR.RWP[3] SGI/PPI ones. Bounded: a GIC that
    // never clears it fails the test instead of hanging it.
    uint64_t reg = intid < 32 ? redist(cpu_index()) + GICR_CTLR : gicd_base() + GICD_CTLR;
    uint32_t rwp = intid < 32 ? 1u << 3 : CTLR_RWP;
    uint64_t end = counter() + counter_freq();
    while (read32(reg) & rwp)
        if (counter() > end) fail("RWP of %s stays set for 1 s", intid < 32 ? "GICR_CTLR" : "GICD_CTLR");
}

void dist_init() {
    write32(gicd_base() + GICD_CTLR, 0);
    wait_rwp(32);
    const uint32_t lines = (read32(gicd_base() + GICD_TYPER) & 0x1f) + 1; // 32 INTIDs each
    for (uint32_t w = 1; w < lines; ++w) {
        write32(gicd_base() + ICENABLER + 4 * w, ~0u);
        write32(gicd_base() + ICPENDR + 4 * w, ~0u);
        write32(gicd_base() + ICACTIVER + 4 * w, ~0u);
        write32(gicd_base() + IGROUPR + 4 * w, ~0u);
    }
    for (uint32_t i = 32; i < 32 * lines; i += 4) write32(gicd_base() + IPRIORITYR + i, 0xa0a0a0a0);
    wait_rwp(32);
    write32(gicd_base() + GICD_CTLR, CTLR_ARE | CTLR_GRP1 | CTLR_GRP0);
    wait_rwp(32);
}

void cpu_init(bool split) {
    const unsigned cpu = cpu_index();
    const uint64_t rd = redist(cpu), sgi = rd + GICR_SGI;
    // Wake the redistributor: clear ProcessorSleep, wait for ChildrenAsleep to clear (GICR_WAKER).
    write32(rd + GICR_WAKER, read32(rd + GICR_WAKER) & ~WAKER_PROCESSOR_SLEEP);
    uint64_t end = counter() + counter_freq();
    while (read32(rd + GICR_WAKER) & WAKER_CHILDREN_ASLEEP)
        if (counter() > end) fail("GICR_WAKER.ChildrenAsleep of vcpu %u stays set for 1 s", cpu);
    write32(sgi + ICENABLER, ~0u);
    wait_rwp(0);
    write32(sgi + ICPENDR, ~0u);
    write32(sgi + ICACTIVER, ~0u);
    write32(sgi + IGROUPR, ~0u);
    for (uint32_t i = 0; i < 32; i += 4) write32(sgi + IPRIORITYR + i, 0xa0a0a0a0);

    // CPU interface (IHI 0069H, ICC_SRE_EL1, ICC_PMR_EL1, ICC_BPR1_EL1, ICC_CTLR_EL1,
    // ICC_IGRPEN1_EL1): system-register interface on, every priority unmasked, the smallest
    // binary point (the GIC raises it to its minimum), EOImode, group 1 on.
    set_sre(sre() | 1);
    set_pmr(0xff);
    set_bpr1(0);
    g_cpu[cpu].depth = 0;
    set_eoimode(split);
    set_igrpen1(1);
}

void enable(uint32_t intid, unsigned cpu) { write32(word(ISENABLER, intid, cpu), bit(intid)); }
void disable(uint32_t intid, unsigned cpu) {
    write32(word(ICENABLER, intid, cpu), bit(intid));
    if (cpu == ~0u || cpu == cpu_index()) wait_rwp(intid);
}
void set_priority(uint32_t intid, uint8_t prio, unsigned cpu) {
    write8(bank(intid, cpu_or_me(cpu)) + IPRIORITYR + intid, prio);
}
uint8_t priority(uint32_t intid, unsigned cpu) { return read8(bank(intid, cpu_or_me(cpu)) + IPRIORITYR + intid); }
void set_group1(uint32_t intid, bool g1, unsigned cpu) {
    const uint64_t a = word(IGROUPR, intid, cpu);
    write32(a, g1 ? read32(a) | bit(intid) : read32(a) & ~bit(intid));
}
void set_trigger(uint32_t intid, Trigger t, unsigned cpu) {
    // GICD_ICFGR<n> / GICR_ICFGR<n>: 2 bits per INTID, Int_config[1] = 1 for edge.
    const uint64_t a = bank(intid, cpu_or_me(cpu)) + ICFGR + 4 * (intid / 16);
    const uint32_t b = 2u << (2 * (intid % 16));
    write32(a, t == Trigger::Edge ? read32(a) | b : read32(a) & ~b);
}
void pend(uint32_t intid, unsigned cpu) { write32(word(ISPENDR, intid, cpu), bit(intid)); }
void unpend(uint32_t intid, unsigned cpu) { write32(word(ICPENDR, intid, cpu), bit(intid)); }
bool is_pending(uint32_t intid, unsigned cpu) { return read32(word(ISPENDR, intid, cpu)) & bit(intid); }
bool is_active(uint32_t intid, unsigned cpu) { return read32(word(ISACTIVER, intid, cpu)) & bit(intid); }
void clear_active(uint32_t intid, unsigned cpu) { write32(word(ICACTIVER, intid, cpu), bit(intid)); }
void route(uint32_t spi, uint64_t aff) { write64(gicd_base() + GICD_IROUTER + 8 * spi, aff & 0xff00ffffffull); }
void route_any(uint32_t spi) { write64(gicd_base() + GICD_IROUTER + 8 * spi, IROUTER_IRM); }

void configure(uint32_t intid, uint8_t prio, Trigger t, unsigned target_cpu) {
    if (intid >= 32) disable(intid);
    set_group1(intid, true, ~0u);
    set_priority(intid, prio);
    if (intid >= 16) set_trigger(intid, t);
    if (intid >= 32) route(intid, target_cpu);
    enable(intid);
}

// ---------------------------------------------------------------- CPU interface
void set_eoimode(bool split) {
    me().eoimode = split;
    set_icc_ctlr(split ? icc_ctlr() | 2 : icc_ctlr() & ~2ull);
}
bool eoimode() { return me().eoimode; }

void ended(uint32_t intid, bool eoi_written, bool dir_written) {
    Level* l = current(intid);
    if (!l) return;
    l->eoi_done |= eoi_written;
    l->dir_done |= dir_written || (eoi_written && !me().eoimode);
}
void eoi(uint32_t intid) {
    write_eoir1(intid);
    asm volatile("isb" ::: "memory");
    ended(intid, true, false);
}
void deactivate(uint32_t intid) {
    write_dir(intid);
    asm volatile("isb" ::: "memory");
    ended(intid, false, true);
}
void keep_active() {
    PerCpu& c = me();
    if (c.depth && c.depth <= MAX_NEST) c.level[c.depth - 1].keep_active = true;
}

void set_handler(uint32_t intid, Handler fn, void* arg) {
    if (intid >= 1020) fail("set_handler: INTID %u is not a valid interrupt", intid);
    g_handlers[intid].arg = arg;
    __atomic_store_n(&g_handlers[intid].fn, fn, __ATOMIC_RELEASE);
}
uint64_t taken_count() { return me().taken; }
uint64_t spurious_count() { return me().spurious; }

} // namespace rt::gic

// ---------------------------------------------------------------- dispatcher (from start.S)
// Called by the IRQ vectors with PSTATE.I masked and the interrupted context's caller-saved
// registers, ELR_EL1 and SPSR_EL1 saved on the stack; returns with PSTATE.I masked.
extern "C" void rt_irq() {
    using namespace rt::gic;
    uint64_t iar;
    asm volatile("mrs %0, s3_0_c12_c12_0" : "=r"(iar)::"memory"); // ICC_IAR1_EL1
    const uint32_t intid = static_cast<uint32_t>(iar & 0xffffff);
    PerCpu& c = me();
    if (intid >= 1020) { // spurious: nothing was acknowledged, nothing to end
        ++c.spurious;
        return;
    }
    ++c.taken;
    const Entry e{__atomic_load_n(&g_handlers[intid].fn, __ATOMIC_ACQUIRE), g_handlers[intid].arg};
    if (!e.fn) rt::fail("vcpu %u: IRQ %u taken, but no handler is registered", rt::cpu_index(), intid);
    if (c.depth >= MAX_NEST) rt::fail("vcpu %u: IRQ %u nested %u deep", rt::cpu_index(), intid, c.depth);
    c.level[c.depth] = {intid, false, false, false};
    ++c.depth;
    e.fn(intid, e.arg);
    irq_disable(); // the handler may have unmasked it; ELR/SPSR are restored next
    Level l = c.level[c.depth - 1];
    --c.depth;
    if (!l.eoi_done) write_eoir1(intid);
    if (c.eoimode && !l.dir_done && !l.keep_active) write_dir(intid);
    // No ISB: the ERET that follows is a context synchronization event.
}
