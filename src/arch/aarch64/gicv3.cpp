// GICv3 host driver. Register offsets from IHI 0069 chapter 12 (GICD_*, GICR_*), system registers
// ICC_* from 12.2. cxvisor uses Group 1 interrupts only and one priority. EOImode 1 (priority drop
// and deactivation split, IHI 0069H "Interrupt lifecycle", ICC_CTLR_EL1.EOImode): an interrupt
// handed to a guest through a hardware-linked list register (the virtual timer, passthrough SPIs)
// is only priority-dropped here and stays active until the guest deactivates it, so a level line
// cannot fire again in between; everything else is deactivated right after its handler.
#include "gicv3.hpp"
#include "vintc/gicv3_regs.hpp"
#include "arch.hpp"
#include "kernel/irq.hpp"
#include "kernel/log.hpp"
#include "kernel/percpu.hpp"

namespace arch {

namespace {

using namespace gicv3;
constexpr u8 PRIORITY = 0xA0;

GicInfo g_gic;

volatile u32& reg32(u64 addr) { return *reinterpret_cast<volatile u32*>(addr); }
volatile u64& reg64(u64 addr) { return *reinterpret_cast<volatile u64*>(addr); }

void wait_rwp() {
    while (reg32(g_gic.dist_base + GICD_CTLR) & GICD_CTLR_RWP) cpu_relax();
}

// Finds this CPU's redistributor by its affinity (GICR_TYPER[63:32], 12.11.37).
u64 find_redist(u64 mpidr) {
    u64 aff = (bits(mpidr, 39, 32) << 24) | bits(mpidr, 23, 0);
    for (u64 rd = g_gic.redist_base; rd < g_gic.redist_base + g_gic.redist_size; rd += GICR_FRAME) {
        u64 typer = reg64(rd + GICR_TYPER);
        if ((typer >> 32) == aff) return rd;
        if (typer & bit(4)) break; // Last
    }
    return 0;
}

u64 this_redist() {
    static u64 cache[MAX_CPUS];
    u64& rd = cache[cpu_id()];
    if (!rd) rd = find_redist(read_sysreg(mpidr_el1));
    return rd;
}

} // namespace

Result<void> gic_init(const GicInfo& info) {
    g_gic = info;
    u64 d = info.dist_base;
    reg32(d + GICD_CTLR) = 0;
    wait_rwp();
    u32 lines = 32 * ((reg32(d + GICD_TYPER) & 0x1F) + 1);
    if (lines > 1020) lines = 1020;
    for (u32 i = 32; i < lines; i += 32) {
        reg32(d + ICENABLER + i / 8) = ~0u;
        reg32(d + IGROUPR + i / 8) = ~0u; // all SPIs Group 1
    }
    for (u32 i = 32; i < lines; i += 4)
        reg32(d + IPRIORITYR + i) = PRIORITY * 0x01010101u;
    wait_rwp();
    reg32(d + GICD_CTLR) = GICD_CTLR_ARE | GICD_CTLR_GRP1;
    wait_rwp();
    return {};
}

void irq_cpu_init() {
    u64 rd = this_redist();
    if (!rd) panic("GICv3: no redistributor for MPIDR %lx", read_sysreg(mpidr_el1));
    // Wake the redistributor (12.11.42 GICR_WAKER): clear ProcessorSleep, wait for ChildrenAsleep=0.
    reg32(rd + GICR_WAKER) = reg32(rd + GICR_WAKER) & ~2u;
    while (reg32(rd + GICR_WAKER) & 4u) cpu_relax();
    reg32(rd + GICR_SGI + ICENABLER) = ~0u;
    reg32(rd + GICR_SGI + IGROUPR) = ~0u;
    for (u32 i = 0; i < 32; i += 4) reg32(rd + GICR_SGI + IPRIORITYR + i) = PRIORITY * 0x01010101u;
    // ICC_SRE_EL2 (12.2.22): system-register interface for EL2, and allow EL1 to use it (Enable)
    // so guests reach the virtual CPU interface.
    write_sysreg(icc_sre_el2, 0x9);
    isb();
    write_sysreg(icc_pmr_el1, 0xFF);
    write_sysreg(icc_bpr1_el1, 0);
    write_sysreg(icc_ctlr_el1, 2); // EOImode 1 (bit 1): see the top of this file
    write_sysreg(icc_igrpen1_el1, 1);
    isb();
    reg32(rd + GICR_SGI + ISENABLER) = 1u << SGI_KICK;
}

void irq_enable_shared_on(u32 intid, u64 mpidr) {
    // GICD_IROUTER<n> (12.9.22): Aff3.Aff2.Aff1.Aff0 of the target, IRM = 0.
    reg64(g_gic.dist_base + GICD_IROUTER + 8 * intid) = (bits(mpidr, 39, 32) << 32) | bits(mpidr, 23, 0);
    reg32(g_gic.dist_base + ISENABLER + (intid / 32) * 4) = 1u << (intid % 32);
    wait_rwp();
}

void irq_deactivate(u32 intid) {
    // GICD_ICACTIVER<n> (IHI 0069H): a forwarded SPI whose guest will never deactivate it (the VM
    // stopped or restarted) must not stay active, or it could never fire again.
    reg32(g_gic.dist_base + ICACTIVER + (intid / 32) * 4) = 1u << (intid % 32);
}

void irq_enable(u32 intid, bool enable) {
    if (intid < 32) {
        u64 rd = this_redist();
        reg32(rd + (enable ? GICR_SGI + ISENABLER : GICR_SGI + ICENABLER)) = 1u << intid;
        return;
    }
    if (enable) return irq_enable_shared_on(intid, this_cpu().hw_id); // routed to the CPU enabling it
    reg32(g_gic.dist_base + ICENABLER + (intid / 32) * 4) = 1u << (intid % 32);
    wait_rwp();
}

bool ppi_active(u32 intid) { return reg32(this_redist() + GICR_SGI + ISACTIVER) & (1u << intid); }

void ppi_set_active(u32 intid, bool active) {
    // GICR_ISACTIVER0 / GICR_ICACTIVER0 (IHI 0069H, their register descriptions): set or clear
    // the active state of one of this CPU's private interrupts.
    reg32(this_redist() + (active ? GICR_SGI + ISACTIVER : GICR_SGI + ICACTIVER)) = 1u << intid;
}

void send_ipi(u64 mpidr) {
    // ICC_SGI1R_EL1 (12.2.23): TargetList[15:0], Aff1[23:16], INTID[27:24], Aff2[39:32],
    // RS[47:44] (which group of 16 Aff0 values), Aff3[55:48].
    u64 aff0 = bits(mpidr, 7, 0);
    u64 v = (1ull << (aff0 % 16)) | (bits(mpidr, 15, 8) << 16) | (u64(SGI_KICK) << 24) |
            (bits(mpidr, 23, 16) << 32) | ((aff0 / 16) << 44) | (bits(mpidr, 39, 32) << 48);
    dsb_ishst(); // the state change the IPI announces must be visible first
    write_sysreg(icc_sgi1r_el1, v);
    isb();
}

u32 irq_acknowledge() { return u32(read_sysreg(icc_iar1_el1) & 0xFFFFFF); }
u32 irq_highest_pending() { return u32(read_sysreg(S3_0_C12_C12_2) & 0xFFFFFF); } // ICC_HPPIR1_EL1

void irq_handle_acknowledged(u32 intid) {
    if (intid >= 1020) return; // 1023: nothing pending
    IrqAction action = irq_dispatch(intid);
    write_sysreg(icc_eoir1_el1, intid); // priority drop
    if (action == IrqAction::Done) write_sysreg(S3_0_C12_C11_1, intid); // ICC_DIR_EL1: deactivate
}

void handle_pending_irqs() {
    for (;;) {
        const u32 intid = irq_acknowledge();
        if (intid >= 1020) return;
        irq_handle_acknowledged(intid);
    }
}

} // namespace arch
