// The riscv64 vCPU's register settings and the pure rules around them (RISC-V Privileged Spec
// 20211203, chapter 8), apart from the code that writes the CSRs (vcpu.cpp), so that host unit
// tests check them (tests/unit/arch/rv_vcpu_rules_test.cpp).
#pragma once
#include "base/types.hpp"

namespace arch::rv {

// hstatus (8.2.1).
inline constexpr u64 HSTATUS_GVA = bit(6), HSTATUS_SPV = bit(7), HSTATUS_SPVP = bit(8), HSTATUS_VTW = bit(21);
inline constexpr u64 HSTATUS_VSXL_64 = u64(2) << 32;
// sstatus (4.1.1): SPP, SPIE, SIE; FS [14:13] = Dirty.
inline constexpr u64 SSTATUS_SPP = bit(8), SSTATUS_SPIE = bit(5), SSTATUS_SIE_BIT = bit(1), SSTATUS_FS_DIRTY = u64(3) << 13;
inline constexpr u64 VSSTATUS_UXL_64 = u64(2) << 32;
// VS-level interrupts in hvip/hip/hideleg (8.2.3): VSSIP 2, VSTIP 6, VSEIP 10; the guest sees them
// as SSIP 1, STIP 5, SEIP 9 in its sip/sie (vsip/vsie).
inline constexpr u64 HVIP_VSSIP = bit(2), HVIP_VSTIP = bit(6), HVIP_VSEIP = bit(10);
inline constexpr u64 VSIE_SSIE = bit(1), VSIE_STIE = bit(5), VSIE_SEIE = bit(9);
// henvcfg.STCE (8.2.5): the guest's stimecmp is vstimecmp (Sstc).
inline constexpr u64 HENVCFG_STCE = bit(63);
// WFI (Unprivileged/Privileged 3.3.3 encoding) as stval shows it for a virtual instruction exception.
inline constexpr u64 INSN_WFI = 0x10500073;

// Exceptions the guest handles itself (hedeleg, 8.2.2): instruction address misaligned (0),
// illegal instruction (2), breakpoint (3), environment call from VU-mode (8), instruction, load
// and store/AMO page faults (12, 13, 15). Misaligned loads/stores (4, 6) are left to the M-mode
// firmware, which emulates them; access faults (1, 5, 7) come to cxvisor and are redirected.
inline constexpr u64 HEDELEG = bit(0) | bit(2) | bit(3) | bit(8) | bit(12) | bit(13) | bit(15);
// On a host without Sstc the guest's stimecmp does not exist: its accesses raise illegal
// instruction exceptions (the Sstc extension 1.0, "stimecmp"), which cxvisor must see to emulate
// the register the guest's device tree promises (vcpu.cpp): illegal instructions are not
// delegated there, and every other one is handed to the guest as it would have been.
constexpr u64 hedeleg_for(bool host_sstc) { return host_sstc ? HEDELEG : HEDELEG & ~bit(2); }
// VS-level interrupts go to VS-mode (hideleg, 8.2.2).
inline constexpr u64 HIDELEG = HVIP_VSSIP | HVIP_VSTIP | HVIP_VSEIP;
// hcounteren (8.2.6): the guest reads cycle, time and instret without trapping; time is offset by
// htimedelta.
inline constexpr u64 HCOUNTEREN = bit(0) | bit(1) | bit(2);

// vsstatus after an exception is delivered to the guest's handler, as the hardware would have
// written it had the trap been delegated (4.1.1 sstatus, whose VS copy vsstatus is, 8.2.11):
// SPP = the trapping privilege (VS: 1, VU: 0), SPIE = SIE, SIE = 0.
constexpr u64 trap_vsstatus(u64 vs, bool from_vs) {
    vs = from_vs ? vs | SSTATUS_SPP : vs & ~SSTATUS_SPP;
    vs = (vs & SSTATUS_SIE_BIT) ? vs | SSTATUS_SPIE : vs & ~SSTATUS_SPIE;
    return vs & ~SSTATUS_SIE_BIT;
}

// A Zicsr instruction (Unprivileged Spec 20191213, chapter 9: opcode SYSTEM 0x73, funct3 1-3
// CSRRW/CSRRS/CSRRC with rs1, 5-7 the immediate forms with a 5-bit zimm), decoded.
struct CsrInsn {
    bool valid = false;
    u32 csr = 0, rd = 0, rs1 = 0; // rs1: a register number, or the zimm of the immediate forms
    u32 op = 0;                   // 1 write, 2 set, 3 clear
    bool imm = false;
    // 9.1: CSRRW always writes; CSRRS/CSRRC (and their immediate forms) with x0 (zimm 0) read only.
    bool writes() const { return op == 1 || rs1 != 0; }
    // The value the CSR gets from its old value and the operand (rs1's value, or zimm).
    u64 result(u64 old, u64 operand) const { return op == 1 ? operand : op == 2 ? old | operand : old & ~operand; }
};
constexpr CsrInsn decode_csr(u32 insn) {
    CsrInsn c;
    const u32 funct3 = (insn >> 12) & 7;
    if ((insn & 0x7f) != 0x73 || (funct3 & 3) == 0) return c;
    c.valid = true;
    c.csr = insn >> 20;
    c.rd = (insn >> 7) & 31;
    c.rs1 = (insn >> 15) & 31;
    c.op = funct3 & 3;
    c.imm = (funct3 & 4) != 0;
    return c;
}
// The guest's stimecmp (Sstc 1.0; in VS-mode the register it names is vstimecmp).
inline constexpr u32 STIMECMP_NUMBER = 0x14D;

// The guest's timer (Sstc): VSTIP is pending while guest time = host time + htimedelta (8.2.7,
// modulo 2^64) has reached vstimecmp. ~0 is cxvisor's "no deadline" (nothing reaches it in
// practice: 58 000 years at 10 MHz).
constexpr bool guest_timer_pending(u64 vstimecmp, u64 htimedelta, u64 host_now) {
    return vstimecmp != ~0ull && host_now + htimedelta >= vstimecmp;
}
// The host counter value at which a blocked vCPU's timer fires, for the vCPU's wake-up timer:
// ~0 never, 0 already (ArchVcpu::wake_deadline). The compare is unsigned on guest time, so a
// guest time that wrapped (htimedelta pushes it past 2^64) is compared as the hardware does.
constexpr u64 wake_host_time(u64 vstimecmp, u64 htimedelta, u64 host_now) {
    if (vstimecmp == ~0ull) return ~0ull;
    if (guest_timer_pending(vstimecmp, htimedelta, host_now)) return 0;
    const u64 host = vstimecmp - htimedelta; // the host time where guest time equals vstimecmp
    return host > host_now ? host : ~0ull;   // guest time wraps before it gets there: never
}

} // namespace arch::rv
