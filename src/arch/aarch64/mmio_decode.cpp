#include "arch/aarch64/mmio_decode.hpp"

namespace arch {

Result<DecodedAccess> access_from_iss(const DataAbortIss& iss) {
    if (!iss.isv || iss.cm) return Error::Unsupported;
    return DecodedAccess{
        .is_write = iss.wnr, .width = iss.width, .sign_extend = iss.sign_extend, .reg = iss.srt,
        .reg_is_64 = iss.sf, .writeback = false, .base_reg = 0, .writeback_delta = 0,
    };
}

namespace {
constexpr i64 sign_extend_imm9(u32 insn) { return i64(bits(insn, 20, 12) ^ 0x100) - 0x100; }
} // namespace

Result<DecodedAccess> decode_load_store(u32 insn) {
    // All forms handled here share size[31:30], bits[29:27] = 0b111, V[26] = 0 (general-purpose
    // registers; V = 1 is SIMD&FP), opc[23:22], Rn[9:5], Rt[4:0]. They differ in bits[25:24] and,
    // when those are 0b00, in bit[21] and bits[11:10] (C4.1 "Loads and Stores" encoding table).
    bool writeback = false;
    i64 delta = 0;
    if ((insn & 0x3F000000) == 0x39000000) {
        // Load/store register (unsigned immediate): bits[25:24] = 0b01, imm12 scaled, no writeback.
    } else if ((insn & 0x3F200000) == 0x38000000) {
        // bits[25:24] = 0b00, bit[21] = 0, imm9, op[11:10]: 00 unscaled (LDUR/STUR),
        // 01 post-indexed, 10 unprivileged (LDTR/STTR: stage 1 already checked EL0 permission,
        // so for the device it is a plain access), 11 pre-indexed.
        u32 op = bits(insn, 11, 10);
        writeback = op == 0b01 || op == 0b11;
        if (writeback) delta = sign_extend_imm9(insn);
    } else if ((insn & 0x3F200C00) == 0x38200800) {
        // Load/store register (register offset): bit[21] = 1, bits[11:10] = 0b10. option[15:13]
        // must be UXTW (010), LSL/UXTX (011), SXTW (110) or SXTX (111): option<1> = 0 is unallocated.
        if (!bits(insn, 14, 14)) return Error::Unsupported;
    } else {
        return Error::Unsupported;
    }

    u32 size = bits(insn, 31, 30), opc = bits(insn, 23, 22);
    u8 rt = u8(bits(insn, 4, 0)), rn = u8(bits(insn, 9, 5));
    DecodedAccess a{
        .is_write = opc == 0b00, .width = u8(1u << size), .sign_extend = false, .reg = rt,
        .reg_is_64 = size == 0b11, .writeback = writeback, .base_reg = rn, .writeback_delta = delta,
    };
    if (opc >= 0b10) {
        // opc 1x: sign-extending loads LDRSB/LDRSH (opc 10 -> Xt, 11 -> Wt) and LDRSW (size 10,
        // opc 10). size 11 opc 10 is PRFM/PRFUM; size 10 opc 11 and size 11 opc 11 are unallocated.
        if (size == 0b11 || (size == 0b10 && opc == 0b11)) return Error::Unsupported;
        a.sign_extend = true;
        a.reg_is_64 = opc == 0b10;
    }
    // Writeback with Rt == Rn (Rn != SP) is CONSTRAINED UNPREDICTABLE (C6.2 LDR/STR (immediate)).
    if (writeback && rt == rn && rn != 31) return Error::Unsupported;
    return a;
}

} // namespace arch
