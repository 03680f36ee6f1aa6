// The aarch64 side of the virtual GICv3: turns the arch-neutral model's abstract list registers
// (vintc/vgic_types.hpp VgicLr, VgicFlush) into GICv3 virtual CPU interface state and back.
//
// Every field below is from Arm IHI 0069H ("GIC Architecture Specification, GICv3 and GICv4",
// issue H), chapter 12 "System register descriptions", section "Virtualization Control Registers"
// (ICH_*_EL2), register descriptions named at each block; the trap syndrome is from Arm ARM DDI0487
// K.a, "ISS encoding for an exception from MSR, MRS, or System instruction execution in AArch64
// state" (ESR_EL2, EC 0x18).
//
// The top half is pure constexpr bit work, host-tested (tests/unit/arch/vgic_hw_test.cpp). The
// bottom half (vgic_hw.cpp) touches ICH_* registers: arch::Vcpu calls flush/sync around every
// entry (present_interrupts / collect_interrupts) and raise_live/send_sgi_live from its level-1
// fast paths (docs/architecture.md, "Interrupt path" and "Live list registers").
#pragma once
#include "base/types.hpp"
#include "kernel/irq.hpp"
#include "vintc/vgic_types.hpp"

namespace vgic { class Vgic; }

namespace arch::vgichw {

using vgic::LrState;
using vgic::VgicFlush;
using vgic::VgicLr;

// ---------------------------------------------------------------------------------------------
// ICH_VTR_EL2 (IHI 0069H, "ICH_VTR_EL2, Interrupt Controller VGIC Type Register").
// ---------------------------------------------------------------------------------------------
struct Vtr {
    u32 list_regs = 0; // ListRegs[4:0] + 1 (capped at 16: only ICH_LR0..15_EL2 have encodings)
    u32 id_bits = 16;  // IDbits[25:23]: 0b000 = 16-bit vINTIDs, 0b001 = 24-bit
    u32 pre_bits = 0;  // PREbits[28:26] + 1: preemption levels, sets how many ICH_AP<g>R<n> exist
    u32 pri_bits = 0;  // PRIbits[31:29] + 1: implemented virtual priority bits (top bits of 8)
    bool seis = false; // SEIS[22]
    bool a3v = false;  // A3V[21]: non-zero Aff3 supported in ICC_SGI*R
    bool nv4 = false;  // nV4[20]: direct injection of virtual interrupts NOT supported
    bool tds = false;  // TDS[19]: ICH_HCR_EL2.TDIR supported
    // Active-priority registers per group (ICH_AP0R<n>/ICH_AP1R<n>): 5 bits -> 1, 6 -> 2, 7 -> 4.
    constexpr u32 apr_count() const { return pre_bits >= 7 ? 4 : pre_bits == 6 ? 2 : 1; }
};

constexpr Vtr decode_vtr(u64 v) {
    Vtr t;
    u32 lrs = u32(bits(v, 4, 0)) + 1;
    t.list_regs = lrs > vgic::MaxLrs ? vgic::MaxLrs : lrs;
    t.tds = bits(v, 19, 19);
    t.nv4 = bits(v, 20, 20);
    t.a3v = bits(v, 21, 21);
    t.seis = bits(v, 22, 22);
    t.id_bits = bits(v, 25, 23) == 1 ? 24 : 16; // other values reserved: the safe minimum
    t.pre_bits = u32(bits(v, 28, 26)) + 1;
    t.pri_bits = u32(bits(v, 31, 29)) + 1;
    return t;
}

// ---------------------------------------------------------------------------------------------
// ICH_LR<n>_EL2 (IHI 0069H, "ICH_LR<n>_EL2, Interrupt Controller List Registers").
// ---------------------------------------------------------------------------------------------
inline constexpr unsigned LR_VINTID_HI = 31, LR_VINTID_LO = 0;  // vINTID[31:0]
inline constexpr unsigned LR_PINTID_HI = 44, LR_PINTID_LO = 32; // pINTID[44:32] when HW = 1
inline constexpr unsigned LR_EOI = 41;                          // EOI, bit 41 of pINTID, when HW = 0
inline constexpr unsigned LR_PRIO_HI = 55, LR_PRIO_LO = 48;     // Priority[55:48]
inline constexpr unsigned LR_GROUP = 60;                        // Group: 1 = Group 1
inline constexpr unsigned LR_HW = 61;                           // HW: linked to a physical INTID
inline constexpr unsigned LR_STATE_HI = 63, LR_STATE_LO = 62;   // State: 00 I, 01 P, 10 A, 11 P+A

// The live part of an 8-bit priority when `pri_bits` (4..8) are implemented: the top bits. The
// other bits of ICH_LR<n>_EL2.Priority are RES0 ("the priority is the most significant bits").
constexpr u8 priority_mask(u32 pri_bits) {
    u32 b = pri_bits < 1 ? 1 : pri_bits > 8 ? 8 : pri_bits;
    return u8(0xff00u >> b);
}

// What the ISA code may put in a list register. The model (vgic.hpp) never asks for anything
// else; an LR that fails this check is a cxvisor bug, not something a guest can cause.
enum class LrCheck : u8 {
    Ok,
    BadVintid,     // 1020..1023 are special INTIDs, and the vINTID must fit ICH_VTR_EL2.IDbits
    BadPintid,     // HW = 1: pINTID must be a PPI or SPI (16..1019), the only ones that need deactivation
    EoiWithHw,     // EOI is bit 41 of pINTID: it only exists when HW = 0
    PendingActive, // P+A only for software edge LRs: a HW LR's pending state lives in the physical
                   // GIC, and a level LR with EOI must be seen inactive to re-sample its line
    InvalidState,  // the model hands out only LRs with something to show; Invalid encodes as 0
};

constexpr LrCheck check_lr(const VgicLr& lr, u32 id_bits = 16) {
    if (lr.state == LrState::Invalid) return LrCheck::InvalidState;
    if ((lr.vintid >= 1020 && lr.vintid <= 1023) || (id_bits < 32 && lr.vintid >= (1u << id_bits)))
        return LrCheck::BadVintid;
    if (lr.hw && (lr.pintid < vgic::SgiCount || lr.pintid >= 1020)) return LrCheck::BadPintid;
    if (lr.hw && lr.eoi_maintenance) return LrCheck::EoiWithHw;
    if (lr.state == LrState::PendingActive && (lr.hw || lr.eoi_maintenance)) return LrCheck::PendingActive;
    return LrCheck::Ok;
}

// VgicLr -> ICH_LR<n>_EL2. Only the implemented priority bits are written (the rest are RES0).
// An Invalid LR encodes as 0, the value of a free list register. The caller checks check_lr()
// first; fields are masked to their width so a bad value can never spill into another field.
constexpr u64 encode_lr(const VgicLr& lr, u32 pri_bits) {
    if (lr.state == LrState::Invalid) return 0;
    u64 v = u64(lr.vintid) & 0xffffffffull;
    if (lr.hw)
        v |= (u64(lr.pintid) & 0x1fffull) << LR_PINTID_LO | bit(LR_HW);
    else if (lr.eoi_maintenance)
        v |= bit(LR_EOI);
    v |= u64(lr.priority & priority_mask(pri_bits)) << LR_PRIO_LO;
    if (lr.group1) v |= bit(LR_GROUP);
    v |= u64(u8(lr.state)) << LR_STATE_LO;
    return v;
}

// ICH_LR<n>_EL2 -> VgicLr (what fold() needs: the state the guest left, and the identity).
constexpr VgicLr decode_lr(u64 v) {
    VgicLr lr;
    lr.vintid = u32(bits(v, LR_VINTID_HI, LR_VINTID_LO));
    lr.hw = bits(v, LR_HW, LR_HW);
    if (lr.hw)
        lr.pintid = u32(bits(v, LR_PINTID_HI, LR_PINTID_LO));
    else
        lr.eoi_maintenance = bits(v, LR_EOI, LR_EOI);
    lr.priority = u8(bits(v, LR_PRIO_HI, LR_PRIO_LO));
    lr.group1 = bits(v, LR_GROUP, LR_GROUP);
    lr.state = LrState(bits(v, LR_STATE_HI, LR_STATE_LO));
    return lr;
}

// ---------------------------------------------------------------------------------------------
// ICH_HCR_EL2 (IHI 0069H, "ICH_HCR_EL2, Interrupt Controller Hyp Control Register").
// ---------------------------------------------------------------------------------------------
struct Hcr {
    bool en = false;        // En[0]: virtual CPU interface enabled
    bool uie = false;       // UIE[1]: maintenance IRQ when at most one LR is valid
    bool lrenpie = false;   // LRENPIE[2]: maintenance IRQ while EOIcount != 0
    bool npie = false;      // NPIE[3]: maintenance IRQ when no LR is pending
    bool vgrp0eie = false;  // VGrp0EIE[4]: ... when the guest enables group 0 (ICH_VMCR.VENG0 = 1)
    bool vgrp0die = false;  // VGrp0DIE[5]: ... when it disables group 0
    bool vgrp1eie = false;  // VGrp1EIE[6]
    bool vgrp1die = false;  // VGrp1DIE[7]
    bool tc = false;        // TC[10]: trap EL1 accesses to common ICC_* registers
    bool tall0 = false;     // TALL0[11]: trap EL1 accesses to group-0 ICC_* registers
    bool tall1 = false;     // TALL1[12]: trap EL1 accesses to group-1 ICC_* registers
    bool tsei = false;      // TSEI[13]: trap locally generated SEIs
    bool tdir = false;      // TDIR[14]: trap EL1 writes to ICC_DIR_EL1 (needs ICH_VTR_EL2.TDS)
    u32 eoicount = 0;       // EOIcount[31:27]: guest EOIs that matched no LR (saturates at 31)
};

inline constexpr u64 HCR_EN = bit(0), HCR_UIE = bit(1), HCR_LRENPIE = bit(2), HCR_NPIE = bit(3);
inline constexpr u64 HCR_VGRP0EIE = bit(4), HCR_VGRP0DIE = bit(5), HCR_VGRP1EIE = bit(6), HCR_VGRP1DIE = bit(7);
inline constexpr u64 HCR_TC = bit(10), HCR_TALL0 = bit(11), HCR_TALL1 = bit(12), HCR_TSEI = bit(13), HCR_TDIR = bit(14);
inline constexpr unsigned HCR_EOICOUNT_HI = 31, HCR_EOICOUNT_LO = 27;

constexpr Hcr decode_hcr(u64 v) {
    Hcr h;
    h.en = v & HCR_EN;
    h.uie = v & HCR_UIE;
    h.lrenpie = v & HCR_LRENPIE;
    h.npie = v & HCR_NPIE;
    h.vgrp0eie = v & HCR_VGRP0EIE;
    h.vgrp0die = v & HCR_VGRP0DIE;
    h.vgrp1eie = v & HCR_VGRP1EIE;
    h.vgrp1die = v & HCR_VGRP1DIE;
    h.tc = v & HCR_TC;
    h.tall0 = v & HCR_TALL0;
    h.tall1 = v & HCR_TALL1;
    h.tsei = v & HCR_TSEI;
    h.tdir = v & HCR_TDIR;
    h.eoicount = u32(bits(v, HCR_EOICOUNT_HI, HCR_EOICOUNT_LO));
    return h;
}

constexpr u64 encode_hcr(const Hcr& h) {
    return (h.en ? HCR_EN : 0) | (h.uie ? HCR_UIE : 0) | (h.lrenpie ? HCR_LRENPIE : 0) |
           (h.npie ? HCR_NPIE : 0) | (h.vgrp0eie ? HCR_VGRP0EIE : 0) | (h.vgrp0die ? HCR_VGRP0DIE : 0) |
           (h.vgrp1eie ? HCR_VGRP1EIE : 0) | (h.vgrp1die ? HCR_VGRP1DIE : 0) | (h.tc ? HCR_TC : 0) |
           (h.tall0 ? HCR_TALL0 : 0) | (h.tall1 ? HCR_TALL1 : 0) | (h.tsei ? HCR_TSEI : 0) |
           (h.tdir ? HCR_TDIR : 0) | (u64(h.eoicount & 0x1f) << HCR_EOICOUNT_LO);
}

// ICH_HCR_EL2 for the next entry from the model's maintenance requests. EOIcount starts at 0 so
// that the value read back after the exit counts only this run's unmatched EOIs. No traps: the
// guest's ICC_* accesses go to the ICV_* registers (HCR_EL2.IMO/FMO), only SGI generation traps.
constexpr Hcr hcr_for_entry(const VgicFlush& f) {
    Hcr h;
    h.en = true;
    h.uie = f.uie;
    h.npie = f.npie;
    h.lrenpie = f.lrenpie;
    return h;
}

// ---------------------------------------------------------------------------------------------
// ICH_MISR_EL2 (IHI 0069H, "ICH_MISR_EL2, Interrupt Controller Maintenance Interrupt State
// Register"): why the maintenance interrupt is asserted. For reports and tests: the handling
// itself needs no decode, the exit it causes is what matters.
// ---------------------------------------------------------------------------------------------
struct Misr {
    bool eoi = false;     // EOI[0]: some LR has EOI = 1, HW = 0 and is now invalid (ICH_EISR_EL2 != 0)
    bool u = false;       // U[1]: UIE and at most one valid LR
    bool lrenp = false;   // LRENP[2]: LRENPIE and EOIcount != 0
    bool np = false;      // NP[3]: NPIE and no LR in the pending state
    bool vgrp0e = false;  // VGrp0E[4]
    bool vgrp0d = false;  // VGrp0D[5]
    bool vgrp1e = false;  // VGrp1E[6]
    bool vgrp1d = false;  // VGrp1D[7]
};

constexpr Misr decode_misr(u64 v) {
    Misr m;
    m.eoi = bits(v, 0, 0);
    m.u = bits(v, 1, 1);
    m.lrenp = bits(v, 2, 2);
    m.np = bits(v, 3, 3);
    m.vgrp0e = bits(v, 4, 4);
    m.vgrp0d = bits(v, 5, 5);
    m.vgrp1e = bits(v, 6, 6);
    m.vgrp1d = bits(v, 7, 7);
    return m;
}

// ICH_EISR_EL2 / ICH_ELRSR_EL2 (IHI 0069H, their register descriptions): bit n describes LR n,
// bits above the implemented LRs are RES0. EISR bit n: LR n is invalid, HW = 0, EOI = 1 (a
// maintenance-requesting LR the guest deactivated). ELRSR bit n: LR n is invalid and has no EOI
// request pending, so it is free: its contents need not be read back.
constexpr u32 lr_bitmap(u64 v, u32 nr_lrs) {
    return u32(v) & (nr_lrs >= 32 ? ~0u : (1u << nr_lrs) - 1);
}

// ---------------------------------------------------------------------------------------------
// ICH_VMCR_EL2 (IHI 0069H, "ICH_VMCR_EL2, Interrupt Controller Virtual Machine Control
// Register"): the guest's view of ICC_PMR/BPR/CTLR/IGRPEN. vcpu.cpp switches the register; the
// wake-up test of a halted vCPU needs its priority mask and group enables.
// ---------------------------------------------------------------------------------------------
struct Vmcr {
    bool veng0 = false; // VENG0[0]
    bool veng1 = false; // VENG1[1]
    bool vackctl = false; // VAckCtl[2]
    bool vfiqen = false;  // VFIQEn[3]
    bool vcbpr = false;   // VCBPR[4]
    bool veoim = false;   // VEOIM[9]: guest runs EOImode = 1 (split drop/deactivate)
    u8 vbpr1 = 0;         // VBPR1[20:18]
    u8 vbpr0 = 0;         // VBPR0[23:21]
    u8 vpmr = 0;          // VPMR[31:24]
};

constexpr Vmcr decode_vmcr(u64 v) {
    Vmcr m;
    m.veng0 = bits(v, 0, 0);
    m.veng1 = bits(v, 1, 1);
    m.vackctl = bits(v, 2, 2);
    m.vfiqen = bits(v, 3, 3);
    m.vcbpr = bits(v, 4, 4);
    m.veoim = bits(v, 9, 9);
    m.vbpr1 = u8(bits(v, 20, 18));
    m.vbpr0 = u8(bits(v, 23, 21));
    m.vpmr = u8(bits(v, 31, 24));
    return m;
}

// Whether a pending interrupt of `priority` and group passes the guest's virtual CPU interface:
// its group enabled and its priority higher (numerically lower) than the mask (IHI 0069H,
// "Priority masking": an interrupt is signalled only if its priority is higher than the PMR).
// Running priority (active interrupts) is not considered: a halted vCPU waits for anything that
// could preempt at its current mask.
constexpr bool vmcr_admits(const Vmcr& m, u8 priority, bool group1) {
    return (group1 ? m.veng1 : m.veng0) && priority < m.vpmr;
}

// ---------------------------------------------------------------------------------------------
// Trapped SGI generation (HCR_EL2.IMO traps ICC_SGI1R_EL1 / ICC_ASGI1R_EL1 writes, HCR_EL2.FMO
// ICC_SGI0R_EL1; IHI 0069H, the "Traps and enables" part of each register description). ESR_EL2 with
// EC 0x18 (DDI0487 K.a, ISS for MSR/MRS): Op0[21:20] Op2[19:17] Op1[16:14] CRn[13:10] Rt[9:5]
// CRm[4:1] Direction[0] (0 = write, MSR).
// ---------------------------------------------------------------------------------------------
enum class SgiReg : u8 {
    None,   // not an SGI generation register
    Sgi1r,  // ICC_SGI1R_EL1  S3_0_C12_C11_5
    Asgi1r, // ICC_ASGI1R_EL1 S3_0_C12_C11_6
    Sgi0r,  // ICC_SGI0R_EL1  S3_0_C12_C11_7
};

struct SgiTrap {
    SgiReg reg = SgiReg::None;
    bool write = false; // MSR; an MRS of these write-only registers is UNDEFINED for the guest
    u8 rt = 0;          // source register (31 = XZR)
    // Which groups the write may reach, for Vgic::send_sgi(): with GICD_CTLR.DS = 1 (the model's
    // single Security state) ICC_SGI1R_EL1 forwards to SGIs of either group; ICC_SGI0R_EL1 only
    // to group 0, and so does ICC_ASGI1R_EL1, there being no other Security state to target
    // (IHI 0069H, the table "Forwarding an SGI to a target PE" in the ICC_SGI*R descriptions).
    bool group1 = false;
};

inline constexpr u64 ESR_EC_SYSREG = 0x18;

constexpr SgiTrap decode_sgi_trap(u64 esr) {
    SgiTrap t;
    if (bits(esr, 31, 26) != ESR_EC_SYSREG) return t;
    u64 op0 = bits(esr, 21, 20), op2 = bits(esr, 19, 17), op1 = bits(esr, 16, 14);
    u64 crn = bits(esr, 13, 10), crm = bits(esr, 4, 1);
    if (op0 != 3 || op1 != 0 || crn != 12 || crm != 11) return t;
    switch (op2) {
    case 5: t.reg = SgiReg::Sgi1r; t.group1 = true; break;
    case 6: t.reg = SgiReg::Asgi1r; break;
    case 7: t.reg = SgiReg::Sgi0r; break;
    default: return t; // op2 1 ICC_DIR_EL1, 3 ICC_RPR_EL1 (ICV_* under IMO/FMO); 0, 2, 4 unallocated
    }
    t.write = bits(esr, 0, 0) == 0;
    t.rt = u8(bits(esr, 9, 5));
    return t;
}

// ---------------------------------------------------------------------------------------------
// Hardware part (vgic_hw.cpp): the running CPU's ICH_* registers. Not called from the run loop
// yet. Call order per run of vCPU v, on the CPU that runs it, with host interrupts masked:
//     flush(g, v, ctx); <enter guest>; sync(g, v, ctx);
// sync() leaves ICH_HCR_EL2 = 0 and every used LR zero, so no maintenance interrupt stays
// asserted in the host and nothing of v's LR state is left in the CPU: a vCPU switch
// (Vcpu::put/load) needs no LR save/restore. ICH_VMCR_EL2 and ICH_AP0R/AP1R<n>_EL2 hold state the
// guest owns across runs (its priority mask, nested active priorities) and are switched by
// Vcpu::load()/put() (vcpu.cpp), which must bracket flush/sync.
// ---------------------------------------------------------------------------------------------

// Per-vCPU bookkeeping between flush and sync (becomes a member of arch::Vcpu when wired).
struct LrContext {
    u32 used = 0;       // LRs written by the last flush
    bool flushed = false;
    bool idle = false;  // the last flush found nothing to present and touched no register
};

u64 read_lr(u32 n);           // ICH_LR<n>_EL2, n < 16 (a bad n is a cxvisor bug: panics)
void write_lr(u32 n, u64 v);
Vtr host_vtr();               // this CPU's ICH_VTR_EL2

// Once per physical CPU before its first guest entry: all implemented LRs and ICH_HCR_EL2 zero
// (their reset values are UNKNOWN).
void cpu_init();

// Before entering vCPU `vcpu`: the model picks its LRs (Vgic::flush), they are encoded into
// ICH_LR0..used-1 (the rest stay zero from the last sync/cpu_init) and ICH_HCR_EL2 gets En plus
// the maintenance requests. Returns the model's flush result (vCPUs to kick).
VgicFlush flush(vgic::Vgic& g, u16 vcpu, LrContext& ctx);
// After the exit: reads back the used LRs (skipping those ICH_ELRSR_EL2 marks free) and
// ICH_HCR_EL2.EOIcount, clears the hardware, and folds it into the model (Vgic::fold). Returns
// the vCPUs to kick.
vgic::VcpuSet sync(vgic::Vgic& g, u16 vcpu, LrContext& ctx);

// The level-1 fast path (Vcpu::run): inside the flush..sync bracket of vCPU `vcpu`, on its CPU
// with the guest stopped, one interrupt added to the live LRs without a sync and a new flush:
// Vgic::raise_live / send_sgi_live decide, from ICH_ELRSR_EL2 (not read after an idle flush,
// when every LR is zero), and the LR they choose is written here. After an idle flush the
// virtual CPU interface is turned on: the bracket is then an ordinary one, and sync() folds
// everything back. False: nothing was changed; the caller takes the full path.
bool raise_live(vgic::Vgic& g, u16 vcpu, u32 intid, LrContext& ctx);
bool send_sgi_live(vgic::Vgic& g, u16 vcpu, u64 sgi_reg_value, bool group1, LrContext& ctx);

// The maintenance interrupt (host PPI, INTID 25 on QEMU virt; the host DTB's GIC node names
// it). Its only job is to make the vCPU exit, which taking it at EL2 already did; sync() then
// deasserts it. The handler counts (diagnostics) and returns.
IrqAction maintenance_irq(u32 intid, void* ctx);
u64 maintenance_count();
// Boot CPU, once, before secondaries start (irq_register's rule): installs maintenance_irq.
void register_maintenance_irq(u32 intid);
// Each CPU: enables the PPI in its own redistributor (PPIs are banked per CPU).
void enable_maintenance_irq(u32 intid);

} // namespace arch::vgichw
