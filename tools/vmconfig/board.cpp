// Choosing the guest board by ISA (board.hpp).
#include "board.hpp"

namespace vmconfig {

const char* isa_name(Isa isa) {
    switch (isa) {
    case Isa::Aarch64: return "aarch64";
    case Isa::Riscv64: return "riscv64";
    case Isa::X86_64: return "x86_64";
    case Isa::Loongarch64: return "loongarch64";
    }
    return "unknown";
}

std::optional<Isa> isa_from_name(const std::string& name) {
    for (Isa isa : {Isa::Aarch64, Isa::Riscv64, Isa::X86_64, Isa::Loongarch64})
        if (name == isa_name(isa)) return isa;
    return {};
}

const GuestBoard* guest_board(Isa isa) {
    switch (isa) {
    case Isa::Aarch64: return &board_aarch64();
    case Isa::Riscv64: return &board_riscv64();
    default: return nullptr; // no guest board yet: --arch refuses the ISA
    }
}

} // namespace vmconfig
