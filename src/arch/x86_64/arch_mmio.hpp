// The x86_64 part of a decoded emulated access (vcpu/exit.hpp: MmioAccess::insn), filled by the
// MOV decoder (mmio_decode.hpp) for an MMIO access and from the IOIO exit information for port
// I/O (vcpu.cpp): what complete_mmio does with the value and how far RIP moves.
#pragma once
#include "base/types.hpp"

namespace arch {

struct MmioInsn {
    enum class Op : u8 {
        StoreReg, // MOV r/m, r: the value is register `reg`
        StoreImm, // MOV r/m, imm: the value is `imm`
        Load,     // MOV r, r/m (and MOVZX): zero-extended into `reg` at dest_width
        LoadSx,   // MOVSX: sign-extended into `reg` at dest_width
        PortIn,   // IN: AL/AX/EAX
        PortOut,  // OUT: from AL/AX/EAX
    };
    u8 length = 0;     // bytes of the instruction, added to RIP when it completes
    Op op = Op::Load;
    u8 reg = 0;        // register number 0..15 (RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8..R15)
    bool high_byte = false; // AH/CH/DH/BH: a byte operand, reg 4..7 without REX (APM vol. 3, 1.4.3)
    u8 dest_width = 0; // bytes written into the register by a load: 1, 2, 4 (zero-extends to 64) or 8
    u64 imm = 0;
};

} // namespace arch
