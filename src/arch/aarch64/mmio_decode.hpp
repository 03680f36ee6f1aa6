// Decoding a guest's trapped MMIO access from a stage-2 Data Abort (EC 0x24, lower EL).
//
// With ESR_EL2.ISS.ISV = 1 the hardware has done the work (decode_data_abort_iss +
// access_from_iss). With ISV = 0 (writeback forms, and whatever the CPU chooses not to syndrome),
// the caller fetches the 32-bit instruction at the guest's ELR and calls decode_load_store().
// All functions are pure: any CPU, no locks.
#pragma once
#include "base/result.hpp"

namespace arch {

// ESR_EL2 fields for a Data Abort (Arm ARM DDI0487 D17.2.40 "ESR_EL2", ISS encoding for an
// exception from a Data Abort).
struct DataAbortIss {
    u8 ec;            // ESR[31:26]; 0x24 = Data Abort from a lower Exception level
    bool il;          // ESR[25]: 32-bit instruction
    bool isv;         // ISS[24]: SAS/SSE/SRT/SF/AR are valid
    u8 width;         // ISS[23:22] SAS as bytes: 1, 2, 4, 8
    bool sign_extend; // ISS[21] SSE
    u8 srt;           // ISS[20:16] SRT: transfer register, 31 = XZR/WZR
    bool sf;          // ISS[15] SF: 64-bit register
    bool ar;          // ISS[14] AR: acquire/release semantics
    bool fnv;         // ISS[10] FnV: FAR_EL2 is not valid
    bool ea;          // ISS[9] EA: external abort type
    bool cm;          // ISS[8] CM: cache maintenance / address translation instruction
    bool s1ptw;       // ISS[7] S1PTW: fault on a stage-1 translation table walk
    bool wnr;         // ISS[6] WnR: write
    u8 dfsc;          // ISS[5:0] DFSC: fault status code
};

constexpr u8 EcDataAbortLowerEl = 0x24;

constexpr DataAbortIss decode_data_abort_iss(u64 esr) {
    return DataAbortIss{
        .ec = u8(bits(esr, 31, 26)), .il = bits(esr, 25, 25) != 0, .isv = bits(esr, 24, 24) != 0,
        .width = u8(1u << bits(esr, 23, 22)), .sign_extend = bits(esr, 21, 21) != 0,
        .srt = u8(bits(esr, 20, 16)), .sf = bits(esr, 15, 15) != 0, .ar = bits(esr, 14, 14) != 0,
        .fnv = bits(esr, 10, 10) != 0, .ea = bits(esr, 9, 9) != 0, .cm = bits(esr, 8, 8) != 0,
        .s1ptw = bits(esr, 7, 7) != 0, .wnr = bits(esr, 6, 6) != 0, .dfsc = u8(bits(esr, 5, 0)),
    };
}

// One decoded guest load/store to emulate.
struct DecodedAccess {
    bool is_write;
    u8 width;         // bytes: 1, 2, 4, 8
    bool sign_extend; // loads: sign-extend the value from `width` to the register size
    u8 reg;           // Rt 0..30; 31 = XZR/WZR (a store writes 0, a load result is discarded)
    bool reg_is_64;   // loads: Xt (else Wt: the upper 32 bits of Xt are zeroed)
    bool writeback;   // pre/post-index: after the access the caller adds writeback_delta to base_reg
    u8 base_reg;      // Rn; 31 = SP (of the guest's current EL) for the base, never XZR
    i64 writeback_delta;
};

// The access described by a valid syndrome. Unsupported when ISV = 0 (fetch the instruction) or
// for cache maintenance (CM) aborts, which are not loads or stores.
Result<DecodedAccess> access_from_iss(const DataAbortIss& iss);

// Decodes a general-purpose-register LDR/STR family instruction (C4.1 "Loads and Stores": load/store
// register with unsigned immediate, unscaled immediate, immediate pre/post-indexed, unprivileged,
// and register offset; sizes B/H/W/X, LDRSB/LDRSH/LDRSW). The faulting address itself comes from
// FAR_EL2/HPFAR_EL2, so offsets and extend/shift amounts are validated but not computed.
// Unsupported for everything else — LDP/STP, exclusives, atomics, SIMD&FP, prefetch, literal loads,
// and CONSTRAINED UNPREDICTABLE writeback with Rt == Rn — so the caller can stop the VM naming the
// instruction word.
Result<DecodedAccess> decode_load_store(u32 insn);

} // namespace arch
