// The loongarch64 part of a decoded emulated-MMIO access (vcpu/exit.hpp: MmioAccess::insn): the
// trapping load/store, decoded from BADI (lvz_exit.hpp decode_mem_access).
#pragma once
#include "base/types.hpp"

namespace arch {

struct MmioInsn {
    u8 reg = 0;               // the load's destination or the store's source register (rd)
    bool sign_extend = false; // ld.b/h/w (not .bu/.hu/.wu)
};

} // namespace arch
