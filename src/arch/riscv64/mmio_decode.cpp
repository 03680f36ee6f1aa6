// riscv64 trapped load/store decoding (mmio_decode.hpp). Field positions from RISC-V Unprivileged
// Spec 20191213, 2.2/2.6 (I-type and S-type formats), 16.2 "Compressed Instruction Formats"
// (CL/CS/CI/CSS) and 16.8 Tables 16.5-16.7 (RVC opcode map).
#include "mmio_decode.hpp"

namespace arch::rv {
namespace {

constexpr u32 field(u32 v, u32 hi, u32 lo) { return (v >> lo) & ((1u << (hi - lo + 1)) - 1); }

RvDecode reject(const char* reason) {
    RvDecode d;
    d.kind = RvDecode::Kind::Rejected;
    d.reason = reason;
    return d;
}
RvDecode access(bool write, u8 width, bool sign, u32 reg, u8 length) {
    RvDecode d;
    d.kind = RvDecode::Kind::Access;
    d.access = RvAccess{write, width, sign, u8(reg), length};
    return d;
}

// The 32-bit LOAD (0000011) and STORE (0100011) major opcodes; funct3 = [14:12] gives width and
// signedness: 0 B, 1 H, 2 W, 3 D, 4 BU, 5 HU, 6 WU (loads); 0-3 (stores).
RvDecode decode_32(u32 insn, u8 length) {
    const u32 opcode = field(insn, 6, 0), funct3 = field(insn, 14, 12);
    switch (opcode) {
    case 0x03: // LOAD: rd = [11:7]
        if (funct3 == 7) return reject("reserved LOAD encoding (funct3 7)");
        return access(false, u8(1u << (funct3 & 3)), funct3 < 3, field(insn, 11, 7), length);
    case 0x23: // STORE: rs2 = [24:20]
        if (funct3 > 3) return reject("reserved STORE encoding (funct3 > 3)");
        return access(true, u8(1u << funct3), false, field(insn, 24, 20), length);
    case 0x07: return reject("floating-point or vector load (LOAD-FP) on emulated MMIO");
    case 0x27: return reject("floating-point or vector store (STORE-FP) on emulated MMIO");
    case 0x2f: return reject("atomic memory operation or LR/SC (AMO) on emulated MMIO");
    case 0x0f: return reject("fence or cache-block operation (MISC-MEM) on emulated MMIO");
    default: return reject("not a load or store");
    }
}

// RVC quadrants 0 and 2 (bits[1:0] = 00 / 10), funct3 = [15:13].
RvDecode decode_16(u32 c) {
    const u32 op = field(c, 1, 0), funct3 = field(c, 15, 13);
    const u32 rd_rs2_prime = 8 + field(c, 4, 2); // CL rd' / CS rs2': x8..x15
    if (op == 0) {
        switch (funct3) {
        case 2: return access(false, 4, true, rd_rs2_prime, 2);  // C.LW
        case 3: return access(false, 8, false, rd_rs2_prime, 2); // C.LD (RV64)
        case 6: return access(true, 4, false, rd_rs2_prime, 2);  // C.SW
        case 7: return access(true, 8, false, rd_rs2_prime, 2);  // C.SD (RV64)
        case 1: return reject("C.FLD (floating-point load) on emulated MMIO");
        case 5: return reject("C.FSD (floating-point store) on emulated MMIO");
        case 4: return reject("Zcb compressed byte/halfword load or store (not decoded)");
        default: return reject("compressed instruction that is not a load or store");
        }
    }
    if (op == 2) {
        const u32 rd = field(c, 11, 7), rs2 = field(c, 6, 2);
        switch (funct3) {
        case 2: // C.LWSP: rd = 0 is reserved
            if (rd == 0) return reject("reserved C.LWSP with rd = x0");
            return access(false, 4, true, rd, 2);
        case 3: // C.LDSP (RV64): rd = 0 is reserved
            if (rd == 0) return reject("reserved C.LDSP with rd = x0");
            return access(false, 8, false, rd, 2);
        case 6: return access(true, 4, false, rs2, 2); // C.SWSP
        case 7: return access(true, 8, false, rs2, 2); // C.SDSP (RV64)
        case 1: return reject("C.FLDSP (floating-point load) on emulated MMIO");
        case 5: return reject("C.FSDSP (floating-point store) on emulated MMIO");
        default: return reject("compressed instruction that is not a load or store");
        }
    }
    return reject("compressed instruction that is not a load or store"); // quadrant 1: ALU, jumps, branches
}

} // namespace

RvDecode decode_load_store(u32 insn) {
    switch (insn_length(u16(insn))) {
    case 2: return decode_16(insn & 0xffff);
    case 4: return decode_32(insn, 4);
    default: return reject("instruction longer than 32 bits");
    }
}

RvDecode decode_htinst(u64 htinst) {
    RvDecode d;
    if (htinst == 0x2000 || htinst == 0x3000 || htinst == 0x2020 || htinst == 0x3020) {
        d.kind = RvDecode::Kind::Stage1Walk;
        d.walk_write = (htinst & 0x20) != 0;
        return d;
    }
    if ((htinst & 1) == 0 || htinst >> 32) { // 0, or a custom value: read the instruction itself
        d.kind = RvDecode::Kind::Fetch;
        return d;
    }
    // A transformed standard instruction: decode it as the 32-bit form (bit 1 set back), whatever
    // the original length was, then take the length from bit 1.
    const u8 length = (htinst & 2) ? 4 : 2;
    d = decode_32(u32(htinst) | 2, length);
    return d;
}

} // namespace arch::rv
