// The x86_64 part of a decoded emulated-MMIO access (vcpu/exit.hpp: MmioAccess::insn). The MOV
// decoder that fills it comes with the SVM vCPU backend (issue 10 part 3); until then no vCPU
// exists to decode for (arch_vcpu.hpp), and the record only carries the instruction length.
#pragma once
#include "base/types.hpp"

namespace arch {

struct MmioInsn {
    u8 length = 0; // bytes of the trapping instruction, added to RIP when it completes
};

} // namespace arch
