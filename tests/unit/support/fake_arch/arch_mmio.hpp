// Fake ISA: the backend's part of a decoded MMIO access (vcpu/exit.hpp MmioAccess::insn): the
// register the fake backend reads a store's value from.
#pragma once
#include "base/types.hpp"

namespace arch {

struct MmioInsn {
    u8 reg = 0;
};

} // namespace arch
