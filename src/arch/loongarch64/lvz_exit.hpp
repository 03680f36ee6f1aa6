// LVZ exit decoding: what a guest exit was, from the exception state recorded at the exit (ESTAT,
// BADV, BADI, and for the TLB refill entry TLBRERA/TLBRBADV). Pure: the backend (not written yet)
// records the state, this decides; tests/unit/arch/la_lvz_exit_test.cpp checks it on recorded
// states. Sources: LoongArch Reference Manual Vol. 1 v1.10 ("LA Vol. 1"): 7.4.5 ESTAT (Ecode
// [21:16], EsubCode [30:22], table 7-8: 0 INT, 1 PIL, 2 PIS, 0x16 GSPR, 0x17 HVC), 7.4.8 BADI,
// 7.5.x TLBRERA (bit 0 IsTLBR); instruction encodings of LA Vol. 1 appendix B (each checked by
// assembling it with clang-19 --target=loongarch64 and reading llvm-objdump-19's bytes). The exit
// codes are the ones measured on the LVZ QEMU (../shared/platform-notes.md, loongarch64).
#pragma once
#include "base/types.hpp"

namespace arch::lvz {

inline constexpr u32 ECODE_INT = 0x0, ECODE_PIL = 0x1, ECODE_PIS = 0x2, ECODE_PIF = 0x3, ECODE_PME = 0x4,
                     ECODE_PNR = 0x5, ECODE_PNX = 0x6, ECODE_PPI = 0x7, ECODE_GSPR = 0x16, ECODE_HVC = 0x17;

inline constexpr u32 estat_ecode(u64 estat) { return u32(estat >> 16) & 0x3F; }
inline constexpr u32 estat_subcode(u64 estat) { return u32(estat >> 22) & 0x1FF; }

// The state the exit handler records (ESTAT, BADV, BADI from the general exception entry; from the
// TLB refill entry, which leaves ESTAT as it was, TLBRERA and TLBRBADV).
struct ExitState {
    u64 estat = 0, badv = 0;
    u32 badi = 0;
    bool refill = false; // taken at TLBRENTRY (TLBRERA.IsTLBR = 1)
    u64 tlbrbadv = 0;
};

// A guest load or store to decode for MMIO: LA Vol. 1 2.2.7.1 (LD/ST with si12) and 2.2.7.2
// (LDX/STX, register index). The address itself is BADV (or TLBRBADV).
struct MemAccess {
    bool ok = false; // false: not a plain integer load/store (atomics, FP, bound checks: not emulated)
    bool store = false;
    bool sign_extend = false; // ld.b/h/w (and ldx), not the .bu/.hu/.wu forms
    u32 size = 0;             // bytes: 1, 2, 4, 8
    u32 rd = 0;               // the data register (destination of a load, source of a store)
};

inline constexpr MemAccess decode_mem_access(u32 insn) {
    // The three families share one layout of the access kind in 4 bits: 0..3 ld.{b,h,w,d},
    // 4..7 st.{b,h,w,d}, 8..10 ld.{bu,hu,wu}. si12 forms: bits [31:22] = 0xA0 + kind
    // (ld.b 0x280..., ld.wu 0x2A8...); register-index forms: bits [31:18] = 0xE00 + kind (ldx.b
    // 0x3800..., ldx.wu 0x3828...).
    u32 kind;
    if ((insn >> 22) >= 0xA0 && (insn >> 22) <= 0xAA) kind = (insn >> 22) - 0xA0;
    else if ((insn >> 18) >= 0xE00 && (insn >> 18) <= 0xE0A) kind = (insn >> 18) - 0xE00;
    else return {};
    MemAccess m;
    m.ok = true;
    m.store = kind >= 4 && kind <= 7;
    m.sign_extend = kind <= 3;
    m.size = 1u << (kind & 3);
    m.rd = insn & 0x1F;
    return m;
}

// The privileged instruction behind a GSPR exit (LA virtualization extension: cpucfg, iocsr
// accesses, idle and CSR accesses the guest may not do itself trap with Ecode 0x16), decoded.
enum class Gspr : u8 { Unknown, Cpucfg, IocsrRead, IocsrWrite, Idle, CsrRead, CsrWrite, CsrXchg };
struct GsprInsn {
    Gspr op = Gspr::Unknown;
    u32 rd = 0, rj = 0;
    u32 size = 0; // iocsr: bytes
    u32 csr = 0;  // csr: the CSR number (14 bits)
};

inline constexpr GsprInsn decode_gspr(u32 insn) {
    GsprInsn g;
    g.rd = insn & 0x1F;
    g.rj = (insn >> 5) & 0x1F;
    if ((insn >> 10) == 0x1B) g.op = Gspr::Cpucfg;                      // cpucfg rd, rj: 0x00006c00
    else if ((insn >> 15) == 0xC91) g.op = Gspr::Idle;                  // idle level: 0x06488000
    else if ((insn >> 10) >= 0x19200 && (insn >> 10) <= 0x19207) {      // iocsr{rd,wr}.{b,h,w,d}: 0x06480000
        const u32 k = (insn >> 10) - 0x19200;
        g.op = k < 4 ? Gspr::IocsrRead : Gspr::IocsrWrite;
        g.size = 1u << (k & 3);
    } else if ((insn >> 24) == 0x04) {                                  // csrrd/csrwr/csrxchg: 0x04000000
        g.csr = (insn >> 10) & 0x3FFF;
        g.op = g.rj == 0 ? Gspr::CsrRead : g.rj == 1 ? Gspr::CsrWrite : Gspr::CsrXchg;
    }
    return g;
}

enum class ExitKind : u8 { HostInterrupt, Hypercall, Privileged, GpaFault, Other };
// What a GPA fault was: the exception names the access (table 7-8: PIL/PNR load, PIS/PME store,
// PIF/PNX fetch; PPI, a privilege-level fault on a GPA leaf, which cxvisor's PLV 3 leaves never
// raise, as the load or store BADI shows).
enum class GpaAccess : u8 { Read, Write, Fetch };
struct Exit {
    ExitKind kind = ExitKind::Other;
    u32 ecode = 0, subcode = 0;
    u32 hvcl_code = 0; // Hypercall: the 15-bit code of hvcl (BADI [14:0])
    GsprInsn gspr;     // Privileged
    u64 gpa = 0;       // GpaFault: the guest physical address
    MemAccess access;  // GpaFault: the instruction, for MMIO
    GpaAccess kind_of_access = GpaAccess::Read; // GpaFault
};

inline constexpr Exit decode_exit(const ExitState& s) {
    Exit e;
    if (s.refill) { // a GPA without a host TLB entry: ESTAT is not updated, TLBRBADV is the GPA
        e.kind = ExitKind::GpaFault;
        e.gpa = s.tlbrbadv;
        e.access = decode_mem_access(s.badi);
        e.kind_of_access = e.access.ok && e.access.store ? GpaAccess::Write : GpaAccess::Read;
        return e;
    }
    e.ecode = estat_ecode(s.estat);
    e.subcode = estat_subcode(s.estat);
    switch (e.ecode) {
    case ECODE_INT: e.kind = ExitKind::HostInterrupt; break;
    case ECODE_HVC:
        e.kind = ExitKind::Hypercall;
        e.hvcl_code = s.badi & 0x7FFF;
        break;
    case ECODE_GSPR:
        e.kind = ExitKind::Privileged;
        e.gspr = decode_gspr(s.badi);
        break;
    case ECODE_PIL:
    case ECODE_PIS:
    case ECODE_PIF:
    case ECODE_PME:
    case ECODE_PNR:
    case ECODE_PNX:
    case ECODE_PPI:
        e.kind = ExitKind::GpaFault;
        e.gpa = s.badv;
        e.access = decode_mem_access(s.badi);
        e.kind_of_access = e.ecode == ECODE_PIF || e.ecode == ECODE_PNX         ? GpaAccess::Fetch
                           : e.ecode == ECODE_PIS || e.ecode == ECODE_PME       ? GpaAccess::Write
                           : e.ecode == ECODE_PPI && e.access.ok && e.access.store ? GpaAccess::Write
                                                                                 : GpaAccess::Read;
        break;
    default: break;
    }
    return e;
}

// Compiled into the image as well as the tests (vcpu.cpp includes this header): hvcl 5 and a
// page-invalid store (st.w $a0, $a1, 0) decode as the backend will rely on.
static_assert(decode_exit({u64(ECODE_HVC) << 16, 0, 0x002B'8005}).hvcl_code == 5);
static_assert(decode_exit({u64(ECODE_PIS) << 16, 0x1000, 0x2980'00A4}).access.store);

} // namespace arch::lvz
