// The aarch64 part of a decoded emulated-MMIO access (vcpu/exit.hpp: MmioAccess::insn): what
// Vcpu::complete_mmio needs to finish the trapped load or store, from the syndrome (ESR_EL2.ISS
// with ISV = 1) or from the decoded instruction (mmio_decode.hpp; Arm ARM DDI0487 K.a, C3.3
// "Loads and stores"). Generic code carries it and never reads it.
#pragma once
#include "base/types.hpp"

namespace arch {

struct MmioInsn {
    bool sign_extend = false;
    bool reg_is_64 = false;
    u8 reg = 0; // transfer register (31: the zero register)
    bool writeback = false; // pre/post-indexed forms: the base register moves
    u8 base_reg = 0;        // 31: SP
    i64 writeback_delta = 0;
};

} // namespace arch
