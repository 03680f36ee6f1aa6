// cxvisor test-guest runtime: interrupts through a GICv3 (Arm IHI 0069H, "GIC Architecture
// Specification, GICv3 and GICv4"; registers cited by name) and the EL1 virtual timer.
//
// What a guest sees is the VM's GIC: cxvisor's emulated distributor and redistributors plus the
// GIC virtual CPU interface (ICC_* at EL1 reach ICV_*), or the real GIC when the guest runs
// directly on QEMU (`-M virt,gic-version=3`), which behaves the same for everything here. The
// layout is QEMU virt's, which is also a VM config's default (`gicd_base`, `gicr_base`); a program
// for another one calls set_layout() first. One redistributor per vCPU, RD_base then SGI_base,
// 128 KiB apart, vCPU i at gicr_base() + i * 128 KiB.
//
// Model of use:
//   gic::dist_init();             // boot vCPU, once: ARE + both groups on, every SPI off, group 1
//   gic::cpu_init();              // each vCPU: redistributor awake, SGIs/PPIs group 1 and off,
//                                 //   ICC_SRE/PMR/BPR1/CTLR/IGRPEN1 programmed
//   gic::set_handler(intid, fn);  // fn(intid, arg) runs at EL1 with PSTATE.I masked
//   gic::configure(intid, ...); gic::enable(intid); gic::irq_enable();
//
// The IRQ vector (runtime/aarch64/start.S: current EL with SP_EL0 or SP_ELx, and lower EL) saves the
// caller-saved registers and calls the dispatcher, which acknowledges through ICC_IAR1_EL1, calls
// the handler registered for that INTID, masks PSTATE.I again, and then ends the interrupt:
// ICC_EOIR1_EL1 (priority drop; with ICC_CTLR_EL1.EOImode = 0 also deactivation), and with
// EOImode = 1 also ICC_DIR_EL1 unless the handler called keep_active(). A handler that wants to
// end its interrupt itself (to time it, or to drop priority early) calls eoi()/deactivate(); the
// dispatcher then does not repeat it. A handler may call irq_enable() to let a higher-priority
// interrupt preempt it; the nested one runs on the same stack. An INTID without a handler ends
// the test with FAIL.
#pragma once
#include "rt.hpp"

namespace rt::gic {

inline constexpr uint64_t VIRT_GICD_BASE = 0x08000000, VIRT_GICR_BASE = 0x080A0000; // QEMU virt
// The VM's layout (the runtime is one object for every program, so it is a value, not a macro).
// set_layout: boot vCPU, before dist_init() and before starting other vCPUs.
extern uint64_t g_gicd_base, g_gicr_base;
inline uint64_t gicd_base() { return g_gicd_base; }
inline uint64_t gicr_base() { return g_gicr_base; }
void set_layout(uint64_t gicd, uint64_t gicr);
inline constexpr uint64_t GICR_STRIDE = 0x20000; // RD_base + SGI_base
inline constexpr uint64_t GICR_SGI = 0x10000;    // SGI_base, relative to RD_base

// Register offsets (IHI 0069H, "The GIC Distributor register map", "The GIC Redistributor register
// map"). Per-interrupt banks are shared by GICD (SPIs) and the SGI_base frame (INTIDs 0-31).
inline constexpr uint64_t GICD_CTLR = 0x0000, GICD_TYPER = 0x0004, GICD_IIDR = 0x0008;
inline constexpr uint64_t IGROUPR = 0x0080, ISENABLER = 0x0100, ICENABLER = 0x0180;
inline constexpr uint64_t ISPENDR = 0x0200, ICPENDR = 0x0280, ISACTIVER = 0x0300, ICACTIVER = 0x0380;
inline constexpr uint64_t IPRIORITYR = 0x0400, ICFGR = 0x0c00, GICD_IROUTER = 0x6000;
inline constexpr uint64_t GICR_CTLR = 0x0000, GICR_IIDR = 0x0004, GICR_TYPER = 0x0008, GICR_WAKER = 0x0014;
inline constexpr uint64_t PIDR2 = 0xffe8; // GICD_PIDR2 / GICR_PIDR2: ArchRev[7:4]

// GICD_CTLR with one Security state (DS = 1): RWP[31], DS[6], ARE[4], EnableGrp1[1], EnableGrp0[0].
inline constexpr uint32_t CTLR_RWP = 1u << 31, CTLR_DS = 1u << 6, CTLR_ARE = 1u << 4;
inline constexpr uint32_t CTLR_GRP1 = 1u << 1, CTLR_GRP0 = 1u << 0;
// GICR_WAKER: ChildrenAsleep[2], ProcessorSleep[1].
inline constexpr uint32_t WAKER_CHILDREN_ASLEEP = 1u << 2, WAKER_PROCESSOR_SLEEP = 1u << 1;
// GICR_TYPER: Affinity_Value[63:32], Processor_Number[23:8], Last[4].
inline constexpr uint64_t TYPER_LAST = 1u << 4;

inline constexpr uint32_t SPURIOUS = 1023; // ICC_IAR1_EL1: nothing to acknowledge
inline constexpr uint32_t PPI_VTIMER = 27; // EL1 virtual timer (QEMU virt, and every VM config)

enum class Trigger { Level, Edge };

// ---- distributor / redistributor ----
inline uint64_t redist(unsigned cpu) { return gicr_base() + cpu * GICR_STRIDE; }
// The frame holding `intid`'s per-interrupt registers: cpu's SGI_base for 0-31, else GICD.
inline uint64_t bank(uint32_t intid, unsigned cpu) { return intid < 32 ? redist(cpu) + GICR_SGI : gicd_base(); }

void dist_init();                    // boot vCPU only, before any cpu_init()
void cpu_init(bool eoimode = false); // each vCPU, on itself; redistributor of cpu_index()
// Waits until GICD_CTLR.RWP (or GICR_CTLR.RWP of this vCPU) is clear: after disabling an
// interrupt, the write has taken effect once RWP reads 0 (GICD_CTLR, GICR_CTLR).
void wait_rwp(uint32_t intid);

// `cpu` names the redistributor for INTIDs 0-31 (default: this vCPU's); SPIs ignore it.
void enable(uint32_t intid, unsigned cpu = ~0u);
void disable(uint32_t intid, unsigned cpu = ~0u); // ICENABLER, then waits for RWP
void set_priority(uint32_t intid, uint8_t prio, unsigned cpu = ~0u); // byte write to IPRIORITYR
uint8_t priority(uint32_t intid, unsigned cpu = ~0u);
void set_group1(uint32_t intid, bool group1, unsigned cpu = ~0u);
void set_trigger(uint32_t intid, Trigger t, unsigned cpu = ~0u); // ICFGR (SGIs are always edge)
void pend(uint32_t intid, unsigned cpu = ~0u);   // ISPENDR
void unpend(uint32_t intid, unsigned cpu = ~0u); // ICPENDR
bool is_pending(uint32_t intid, unsigned cpu = ~0u);
bool is_active(uint32_t intid, unsigned cpu = ~0u);
void clear_active(uint32_t intid, unsigned cpu = ~0u); // ICACTIVER
// GICD_IROUTER<n> of an SPI: to the vCPU with affinity Aff3.Aff2.Aff1.Aff0 = `mpidr_aff`
// (MPIDR_EL1 bits [39:32] and [23:0]), or to any (IRM = 1).
void route(uint32_t spi, uint64_t mpidr_aff);
void route_any(uint32_t spi);
inline constexpr uint64_t IROUTER_IRM = 1ull << 31;
// Group 1, priority, trigger, enabled; SPIs routed to vCPU `target_cpu` (Aff0 = vCPU index).
void configure(uint32_t intid, uint8_t prio, Trigger t, unsigned target_cpu = 0);

// ---- CPU interface (ICC_*_EL1; under cxvisor the hardware virtual interface, ICV_*) ----
#define CXV_SYSREG_RW(name, enc)                                                                   \
    inline uint64_t name() {                                                                      \
        uint64_t v;                                                                               \
        asm volatile("mrs %0, " #enc : "=r"(v)::"memory");                                        \
        return v;                                                                                 \
    }                                                                                             \
    inline void set_##name(uint64_t v) { asm volatile("msr " #enc ", %0\n isb" ::"r"(v) : "memory"); }
CXV_SYSREG_RW(pmr, s3_0_c4_c6_0)      // ICC_PMR_EL1: only priorities below (numerically) it are taken
CXV_SYSREG_RW(bpr1, s3_0_c12_c12_3)   // ICC_BPR1_EL1
CXV_SYSREG_RW(icc_ctlr, s3_0_c12_c12_4) // ICC_CTLR_EL1: EOImode[1]
CXV_SYSREG_RW(sre, s3_0_c12_c12_5)    // ICC_SRE_EL1: SRE[0]
CXV_SYSREG_RW(igrpen1, s3_0_c12_c12_7) // ICC_IGRPEN1_EL1
#undef CXV_SYSREG_RW
inline uint64_t rpr() { // ICC_RPR_EL1: running priority, 0xff when idle
    uint64_t v;
    asm volatile("mrs %0, s3_0_c12_c11_3" : "=r"(v)::"memory");
    return v;
}
inline uint64_t hppir1() { // ICC_HPPIR1_EL1: highest pending group 1 INTID, 1023 if none
    uint64_t v;
    asm volatile("mrs %0, s3_0_c12_c12_2" : "=r"(v)::"memory");
    return v;
}
// ICC_CTLR_EL1.EOImode (bit 1): 0 = EOIR drops priority and deactivates, 1 = EOIR only drops
// priority and DIR deactivates. Also tells the dispatcher which to do.
void set_eoimode(bool split);
bool eoimode();

// ICC_SGI1R_EL1 (IHI 0069H, "ICC_SGI1R_EL1"): Aff3[55:48], RS[47:44], IRM[40], Aff2[39:32],
// INTID[27:24], Aff1[23:16], TargetList[15:0]. The write is followed by an ISB, so a self SGI is
// pending (and, unmasked, taken) right after.
inline constexpr uint64_t SGI1R_IRM = 1ull << 40;
inline void write_sgi1r(uint64_t v) { asm volatile("msr s3_0_c12_c11_5, %0\n isb" ::"r"(v) : "memory"); }
inline void write_sgi0r(uint64_t v) { asm volatile("msr s3_0_c12_c11_7, %0\n isb" ::"r"(v) : "memory"); }
inline constexpr uint64_t sgi1r(uint32_t intid, uint16_t target_list) {
    return (uint64_t(intid & 0xf) << 24) | target_list; // Aff3.Aff2.Aff1 = 0, RS = 0
}
// SGI `intid` to the vCPUs whose index (Aff0, 0..15) has its bit set in `targets`.
inline void send_sgi(uint32_t intid, uint16_t targets) { write_sgi1r(sgi1r(intid, targets)); }
// SGI to every vCPU but the sender (IRM = 1).
inline void send_sgi_others(uint32_t intid) { write_sgi1r(SGI1R_IRM | sgi1r(intid, 0)); }

// Ends interrupt `intid` (ICC_EOIR1_EL1) / deactivates it (ICC_DIR_EL1), from its handler or
// later. Called for the interrupt being handled on this vCPU, the dispatcher will not do it again.
void eoi(uint32_t intid);
void deactivate(uint32_t intid);
// The bare register writes, for code that times them: call ended(intid) afterwards when it was
// the interrupt being handled, so the dispatcher does not end it again.
inline void write_eoir1(uint32_t intid) { asm volatile("msr s3_0_c12_c12_1, %0" ::"r"(uint64_t(intid)) : "memory"); }
inline void write_dir(uint32_t intid) { asm volatile("msr s3_0_c12_c11_1, %0" ::"r"(uint64_t(intid)) : "memory"); }
void ended(uint32_t intid, bool eoi_written, bool dir_written);
// EOImode = 1 only: leave the current interrupt active after its handler (priority dropped);
// deactivate() it later.
void keep_active();

// ---- PSTATE.I ----
inline void irq_enable() { asm volatile("msr daifclr, #2" ::: "memory"); }
inline void irq_disable() { asm volatile("msr daifset, #2" ::: "memory"); }
inline bool irqs_masked() {
    uint64_t v;
    asm volatile("mrs %0, daif" : "=r"(v));
    return v & (1u << 7);
}
inline void wfi() { asm volatile("dsb sy\n wfi" ::: "memory"); }

// ---- handlers ----
using Handler = void (*)(uint32_t intid, void* arg);
void set_handler(uint32_t intid, Handler fn, void* arg = nullptr); // INTIDs 0..1019, all vCPUs
// Interrupts taken on this vCPU (acknowledged with a valid INTID), and spurious acknowledges.
uint64_t taken_count();
uint64_t spurious_count();

} // namespace rt::gic

namespace rt {
// ---- EL1 virtual timer (Arm ARM DDI0487 K.a, D11.2.4; its interrupt is PPI 27) ----
// CNTV_CTL_EL0: ISTATUS[2], IMASK[1], ENABLE[0].
inline constexpr uint64_t CNTV_ENABLE = 1, CNTV_IMASK = 2, CNTV_ISTATUS = 4;
inline void vtimer_arm(uint64_t cval) {
    asm volatile("msr cntv_cval_el0, %0\n msr cntv_ctl_el0, %1\n isb" ::"r"(cval), "r"(CNTV_ENABLE)
                 : "memory");
}
inline void vtimer_stop() { asm volatile("msr cntv_ctl_el0, xzr\n isb" ::: "memory"); }
inline uint64_t vtimer_ctl() {
    uint64_t v;
    asm volatile("mrs %0, cntv_ctl_el0" : "=r"(v)::"memory");
    return v;
}
inline uint64_t vtimer_cval() {
    uint64_t v;
    asm volatile("mrs %0, cntv_cval_el0" : "=r"(v)::"memory");
    return v;
}
inline uint64_t ms_to_ticks(uint64_t ms) { return ms * counter_freq() / 1000; }
} // namespace rt
