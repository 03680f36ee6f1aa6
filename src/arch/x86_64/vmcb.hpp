// The VMCB (virtual machine control block) of AMD SVM, laid out as AMD64 APM vol. 2 (publication
// 24593 rev. 3.42) appendix B "Layout of VMCB": table B-1 the control area (offsets 0x000-0x3FF),
// table B-2 the state save area (0x400-0xFFF). Exit codes from appendix C "SVM Intercept Exit
// Codes", intercept bits from 15.9-15.14 and EVENTINJ from 15.20 "Injecting Events". Pure data:
// the host unit tests check the offsets against the tables (tests/unit/arch/x86_svm_test.cpp) and
// the static_asserts below repeat them for the image.
#pragma once
#include "base/types.hpp"
#include "irq_plan.hpp"
#include <stddef.h>

namespace arch::svm {

// A segment register in the save area (table B-2): selector, attributes (the descriptor's type,
// S, DPL, P in bits 7:0 and AVL, L, D/B, G in bits 11:8), limit, base.
struct VmcbSegment {
    u16 selector;
    u16 attrib;
    u32 limit;
    u64 base;
};
static_assert(sizeof(VmcbSegment) == 16);

struct alignas(4096) Vmcb {
    // ---- control area (table B-1) ----
    u16 cr_read, cr_write, dr_read, dr_write; // 0x000
    u32 exceptions;                           // 0x008: bit n = exception vector n
    u32 intercept1;                           // 0x00C: INTERCEPT1_* (exit codes 0x60-0x7F)
    u32 intercept2;                           // 0x010: INTERCEPT2_* (exit codes 0x80-0x8D)
    u32 intercept3;                           // 0x014
    u8 reserved0[0x3C - 0x18];
    u16 pause_filter_threshold, pause_filter_count; // 0x03C
    u64 iopm_base_pa;                         // 0x040
    u64 msrpm_base_pa;                        // 0x048
    u64 tsc_offset;                           // 0x050
    u32 asid;                                 // 0x058
    u8 tlb_control;                           // 0x05C: TLB_CONTROL_*
    u8 reserved1[3];
    u64 v_intr;                               // 0x060: V_TPR 3:0, V_IRQ 8, V_INTR_PRIO 19:16, V_IGN_TPR 20, V_INTR_MASKING 24; V_INTR_VECTOR 39:32
    u64 interrupt_shadow;                     // 0x068: bit 0
    u64 exitcode;                             // 0x070
    u64 exitinfo1;                            // 0x078
    u64 exitinfo2;                            // 0x080
    u64 exitintinfo;                          // 0x088
    u64 np_enable;                            // 0x090: bit 0 nested paging
    u64 avic_apic_bar;                        // 0x098
    u64 ghcb_pa;                              // 0x0A0
    u64 eventinj;                             // 0x0A8
    u64 n_cr3;                                // 0x0B0
    u64 lbr_virt;                             // 0x0B8
    u32 clean;                                // 0x0C0
    u32 reserved2;
    u64 nrip;                                 // 0x0C8
    u8 insn_len;                              // 0x0D0
    u8 insn_bytes[15];
    u8 reserved3[0x400 - 0xE0];
    // ---- state save area (table B-2) ----
    VmcbSegment es, cs, ss, ds, fs, gs, gdtr, ldtr, idtr, tr; // 0x400 .. 0x49F
    u8 reserved4[0x4CB - 0x4A0];
    u8 cpl;                                   // 0x4CB
    u32 reserved5;
    u64 efer;                                 // 0x4D0
    u8 reserved6[0x548 - 0x4D8];
    u64 cr4, cr3, cr0, dr7, dr6, rflags, rip; // 0x548 .. 0x578
    u8 reserved7[0x5D8 - 0x580];
    u64 rsp;                                  // 0x5D8
    u64 s_cet, ssp, isst_addr;                // 0x5E0
    u64 rax;                                  // 0x5F8
    u64 star, lstar, cstar, sfmask, kernel_gs_base; // 0x600 .. 0x620
    u64 sysenter_cs, sysenter_esp, sysenter_eip;    // 0x628 .. 0x638
    u64 cr2;                                  // 0x640
    u8 reserved8[0x668 - 0x648];
    u64 g_pat;                                // 0x668
    u64 dbgctl;                               // 0x670
    u8 rest[0x1000 - 0x678];
};
static_assert(sizeof(Vmcb) == 4096);
// Table B-1.
static_assert(offsetof(Vmcb, exceptions) == 0x008 && offsetof(Vmcb, intercept1) == 0x00C &&
              offsetof(Vmcb, intercept2) == 0x010 && offsetof(Vmcb, iopm_base_pa) == 0x040 &&
              offsetof(Vmcb, msrpm_base_pa) == 0x048 && offsetof(Vmcb, tsc_offset) == 0x050 &&
              offsetof(Vmcb, asid) == 0x058 && offsetof(Vmcb, tlb_control) == 0x05C && offsetof(Vmcb, v_intr) == 0x060 &&
              offsetof(Vmcb, interrupt_shadow) == 0x068 && offsetof(Vmcb, exitcode) == 0x070 &&
              offsetof(Vmcb, exitinfo1) == 0x078 && offsetof(Vmcb, exitinfo2) == 0x080 &&
              offsetof(Vmcb, exitintinfo) == 0x088 && offsetof(Vmcb, np_enable) == 0x090 &&
              offsetof(Vmcb, eventinj) == 0x0A8 && offsetof(Vmcb, n_cr3) == 0x0B0 && offsetof(Vmcb, clean) == 0x0C0 &&
              offsetof(Vmcb, nrip) == 0x0C8 && offsetof(Vmcb, insn_len) == 0x0D0);
// Table B-2.
static_assert(offsetof(Vmcb, es) == 0x400 && offsetof(Vmcb, cs) == 0x410 && offsetof(Vmcb, ss) == 0x420 &&
              offsetof(Vmcb, ds) == 0x430 && offsetof(Vmcb, fs) == 0x440 && offsetof(Vmcb, gs) == 0x450 &&
              offsetof(Vmcb, gdtr) == 0x460 && offsetof(Vmcb, ldtr) == 0x470 && offsetof(Vmcb, idtr) == 0x480 &&
              offsetof(Vmcb, tr) == 0x490 && offsetof(Vmcb, cpl) == 0x4CB && offsetof(Vmcb, efer) == 0x4D0 &&
              offsetof(Vmcb, cr4) == 0x548 && offsetof(Vmcb, cr3) == 0x550 && offsetof(Vmcb, cr0) == 0x558 &&
              offsetof(Vmcb, dr7) == 0x560 && offsetof(Vmcb, dr6) == 0x568 && offsetof(Vmcb, rflags) == 0x570 &&
              offsetof(Vmcb, rip) == 0x578 && offsetof(Vmcb, rsp) == 0x5D8 && offsetof(Vmcb, rax) == 0x5F8 &&
              offsetof(Vmcb, star) == 0x600 && offsetof(Vmcb, kernel_gs_base) == 0x620 &&
              offsetof(Vmcb, sysenter_eip) == 0x638 && offsetof(Vmcb, cr2) == 0x640 && offsetof(Vmcb, g_pat) == 0x668 &&
              offsetof(Vmcb, dbgctl) == 0x670);

// 15.9-15.14: the intercept vector at 0x00C (exit code 0x60 + bit) and at 0x010 (0x80 + bit).
inline constexpr u32 INTERCEPT1_INTR = bit(0), INTERCEPT1_NMI = bit(1), INTERCEPT1_SMI = bit(2),
                     INTERCEPT1_INIT = bit(3), INTERCEPT1_VINTR = bit(4), INTERCEPT1_CPUID = bit(18),
                     INTERCEPT1_HLT = bit(24), INTERCEPT1_INVLPGA = bit(26), INTERCEPT1_IOIO = bit(27),
                     INTERCEPT1_MSR = bit(28), INTERCEPT1_SHUTDOWN = bit(31);
inline constexpr u32 INTERCEPT2_VMRUN = bit(0), INTERCEPT2_VMMCALL = bit(1), INTERCEPT2_VMLOAD = bit(2),
                     INTERCEPT2_VMSAVE = bit(3), INTERCEPT2_STGI = bit(4), INTERCEPT2_CLGI = bit(5),
                     INTERCEPT2_SKINIT = bit(6), INTERCEPT2_XSETBV = bit(13);

// Appendix C.
enum ExitCode : u64 {
    EXIT_EXCP_BASE = 0x40, // + vector
    EXIT_INTR = 0x60,
    EXIT_NMI = 0x61,
    EXIT_SMI = 0x62,
    EXIT_INIT = 0x63,
    EXIT_VINTR = 0x64,
    EXIT_CPUID = 0x72,
    EXIT_HLT = 0x78,
    EXIT_INVLPGA = 0x7A,
    EXIT_IOIO = 0x7B,
    EXIT_MSR = 0x7C,
    EXIT_SHUTDOWN = 0x7F,
    EXIT_VMRUN = 0x80,
    EXIT_VMMCALL = 0x81,
    EXIT_VMLOAD = 0x82,
    EXIT_VMSAVE = 0x83,
    EXIT_STGI = 0x84,
    EXIT_CLGI = 0x85,
    EXIT_SKINIT = 0x86,
    EXIT_XSETBV = 0x8D,
    EXIT_NPF = 0x400,
    EXIT_INVALID = 0xFFFF'FFFF, // -1; QEMU stores only the low 32 bits (x86-svm-notes.md)
};

// 15.16 "TLB Control": 0 nothing, 1 flush every ASID's entries, 3 this guest's ASID (needs
// FlushByAsid, CPUID 8000_000Ah EDX[6]).
inline constexpr u8 TLB_CONTROL_NONE = 0, TLB_CONTROL_FLUSH_ALL = 1, TLB_CONTROL_FLUSH_ASID = 3;

// 15.21.1 "Virtual Interrupt Masking": guest RFLAGS.IF masks only virtual interrupts.
inline constexpr u64 V_INTR_MASKING = bit(24);

// 15.20 "Injecting Events": vector 7:0, type 10:8, EV 11 (push the error code), V 31, error code 63:32.
enum class EventType : u8 { Intr = 0, Nmi = 2, Exception = 3, SoftInt = 4 };
inline constexpr u64 EVENTINJ_EV = bit(11), EVENTINJ_VALID = bit(31);
constexpr u64 eventinj(u8 vector, EventType type, bool has_error = false, u32 error = 0) {
    return u64(vector) | u64(u8(type)) << 8 | (has_error ? EVENTINJ_EV : 0) | EVENTINJ_VALID | u64(error) << 32;
}
// What to do with an external interrupt the virtual APIC has for the vCPU, right before VMRUN
// (15.20, 15.21.4; the decision is the one both backends share, irq_plan.hpp): EVENTINJ when the
// guest could take an interrupt now (IF = 1, no shadow after STI / MOV SS, no event being
// injected already: KVM's svm_interrupt_blocked); otherwise a virtual interrupt with the VINTR
// intercept asks for the exit that opens the window.
using arch::IrqPlan;
using arch::RFLAGS_IF;
constexpr IrqPlan irq_plan(bool pending, u64 rflags, u64 interrupt_shadow, u64 eventinj_field) {
    return arch::interrupt_plan(pending, rflags & RFLAGS_IF, interrupt_shadow & 1, eventinj_field & EVENTINJ_VALID);
}
// The window request: V_IRQ with priority 15 and V_IGN_TPR (the vLAPIC's TPR has decided already),
// in V_INTR (0x060: V_IRQ 8, V_INTR_PRIO 19:16, V_IGN_TPR 20, V_INTR_VECTOR 39:32).
inline constexpr u64 V_IRQ = bit(8), V_INTR_PRIO_MASK = u64(0xF) << 16, V_IGN_TPR = bit(20),
                     V_INTR_VECTOR_MASK = u64(0xFF) << 32;

// Exceptions that push an error code (APM vol. 2, 8.2 "Vectors", table 8-1): #DF 8, #TS 10, #NP
// 11, #SS 12, #GP 13, #PF 14, #AC 17, #CP 21. QEMU does not look at EV (x86-svm-notes.md 5), so
// it is set exactly for these.
constexpr bool exception_has_error_code(u8 v) { return v == 8 || (v >= 10 && v <= 14) || v == 17 || v == 21; }
inline constexpr u8 VEC_UD = 6, VEC_GP = 13, VEC_PF = 14;

// 15.10.2 "IN and OUT Behavior": EXITINFO1 of an IOIO intercept.
struct IoioInfo {
    u16 port;
    u8 size;      // 1, 2 or 4 bytes
    bool in;      // IN / INS (else OUT / OUTS)
    bool string;  // INS / OUTS
    bool rep;
};
constexpr IoioInfo decode_ioio(u64 info1) {
    const u8 size = info1 & bit(4) ? 1 : info1 & bit(5) ? 2 : info1 & bit(6) ? 4 : 0;
    return {u16(info1 >> 16), size, (info1 & bit(0)) != 0, (info1 & bit(2)) != 0, (info1 & bit(3)) != 0};
}

// 15.25.6 "Nested versus Guest Page Faults, Fault Ordering": EXITINFO1 of an NPF holds #PF-style
// error-code bits (P 0, W 1, U 2, RSVD 3, I/D 4) and bit 32 (fault on the final guest-physical
// address) / bit 33 (fault on a guest page-table access).
struct NpfInfo {
    bool present, write, fetch, reserved_bit, final_gpa, table_walk;
};
constexpr NpfInfo decode_npf(u64 info1) {
    return {(info1 & bit(0)) != 0, (info1 & bit(1)) != 0, (info1 & bit(4)) != 0,
            (info1 & bit(3)) != 0, (info1 & (u64(1) << 32)) != 0, (info1 & (u64(1) << 33)) != 0};
}

} // namespace arch::svm
