// PLACEHOLDER until the riscv64 vCPU backend (helper H2, branch wip/rvvcpu) lands: the riscv64
// part of a decoded emulated-MMIO access. Generic code carries it and never reads it; with no
// backend nothing ever decodes an access (see arch_vcpu.hpp).
#pragma once
#include "base/types.hpp"

namespace arch {

struct MmioInsn {
    u8 reg = 0; // transfer register
    bool sign_extend = false;
};

} // namespace arch
