// Choosing the guest board by ISA (board.hpp).
#include "board.hpp"
#include <cstring>

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

std::optional<LinuxHeader> GuestBoard::linux_header(const Bytes& b) const {
    if (b.size() < 64 || memcmp(&b[0x38], linux_magic(), 4) != 0) return {};
    LinuxHeader h;
    memcpy(&h.text_offset, &b[0x08], 8);
    memcpy(&h.image_size, &b[0x10], 8);
    memcpy(&h.flags, &b[0x18], 8);
    return h;
}

const GuestBoard* guest_board(Isa isa) {
    switch (isa) {
    case Isa::Aarch64: return &board_aarch64();
    case Isa::Riscv64: return &board_riscv64();
    default: return nullptr; // no guest board yet: --arch refuses the ISA
    }
}

} // namespace vmconfig
