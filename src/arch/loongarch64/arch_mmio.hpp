// The loongarch64 part of a decoded emulated-MMIO access (vcpu/exit.hpp: MmioAccess::insn). The
// decoder of the trapping load/store (BADI holds the instruction) comes with the LVZ backend
// (issue 11 part 2); until then no vCPU exists to decode for (arch_vcpu.hpp).
#pragma once
#include "base/types.hpp"

namespace arch {

struct MmioInsn {
    u8 reg = 0; // the load's destination or the store's source register (rd)
};

} // namespace arch
