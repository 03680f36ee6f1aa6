// The riscv64 part of a decoded emulated-MMIO access (vcpu/exit.hpp: MmioAccess::insn): what
// Vcpu::complete_mmio needs to finish the trapped load or store, from the transformed instruction
// in htinst or from the instruction read at sepc (mmio_decode.hpp; RISC-V Unprivileged Spec
// 20191213, 2.6 "Load and Store Instructions", 16.3 "Load and Store Instructions" of the "C"
// extension; Privileged Spec 20211203, 8.6.3 "Transformed Instruction or Pseudoinstruction for
// mtinst or htinst"). Generic code carries it and never reads it.
#pragma once
#include "base/types.hpp"

namespace arch {

struct MmioInsn {
    bool sign_extend = false; // LB/LH/LW: the loaded value is sign-extended to 64 bits
    u8 reg = 0;               // x register: a load's rd, a store's rs2 (0: x0, reads as zero, writes ignored)
    u8 length = 4;            // bytes of the trapping instruction (2: compressed), added to sepc
};

} // namespace arch
