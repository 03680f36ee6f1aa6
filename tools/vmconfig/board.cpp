// Choosing the guest board by ISA (board.hpp).
#include "board.hpp"
#include "base/types.hpp"
#include <algorithm>
#include <cstring>

namespace vmconfig {

std::optional<Isa> isa_from_name(const std::string& name) {
    for (Isa isa : {Isa::Aarch64, Isa::Riscv64, Isa::X86_64, Isa::Loongarch64})
        if (name == isa_name(isa)) return isa;
    return {};
}

bool GuestBoard::is_image(const Bytes& b) const { return b.size() >= 64 && memcmp(&b[0x38], linux_magic(), 4) == 0; }
uint64_t GuestBoard::image_size(const Bytes& b) const {
    uint64_t v;
    memcpy(&v, &b[0x10], 8);
    return v;
}
void GuestBoard::set_image_size(Bytes& b, uint64_t size) const { memcpy(&b[0x10], &size, 8); }

std::vector<IntcWindow> GuestBoard::intc_windows(const VmConfig& vm) const {
    const VintcLayout l = intc_layout(vm.cpu_num);
    std::vector<IntcWindow> out;
    const char* keys[2] = {intc_keys().base, intc_keys().base2};
    const uint64_t bases[2] = {vm.intc_base, vm.intc_base2};
    for (uint32_t i = 0; i < l.window_count && i < 2; ++i)
        out.push_back({l.window_name[i], l.window_name[i], keys[i], bases[i], l.window_size[i]});
    return out;
}

uint32_t GuestBoard::round_lines(uint64_t given) const {
    const VintcLayout l = intc_layout(1);
    return uint32_t(std::min<uint64_t>(align_up(given, l.line_multiple), l.max_lines));
}

uint32_t GuestBoard::default_lines(uint32_t highest) const {
    const VintcLayout l = intc_layout(1);
    uint64_t last = std::min<uint64_t>(highest, uint64_t(l.first_line) + l.max_lines - 1);
    uint64_t lines = align_up(last + 1 - l.first_line, l.line_multiple);
    return uint32_t(std::clamp<uint64_t>(lines, l.line_multiple, l.max_lines));
}

std::optional<LinuxHeader> GuestBoard::linux_header(const Bytes& b) const {
    if (b.size() < 64 || memcmp(&b[0x38], linux_magic(), 4) != 0) return {};
    LinuxHeader h;
    memcpy(&h.text_offset, &b[0x08], 8);
    memcpy(&h.image_size, &b[0x10], 8);
    memcpy(&h.flags, &b[0x18], 8);
    return h;
}

Bytes GuestBoardWithoutIntc::builtin_host_dtb() const { // an empty root: nothing to compare with
    FdtWriter w(256);
    w.begin("");
    w.u32("#address-cells", 2);
    w.u32("#size-cells", 2);
    return w.finish();
}

std::string dt_begin_ns16550(FdtWriter& w, uint64_t base, uint64_t size, uint32_t clock_hz) {
    std::string node = unit("serial", base);
    w.begin(node);
    w.str("compatible", "ns16550a");
    w.reg(base, size);
    w.u32("clock-frequency", clock_hz);
    w.u32("reg-shift", 0);
    w.u32("reg-io-width", 1);
    return node;
}

const GuestBoard* guest_board(Isa isa) {
    switch (isa) {
    case Isa::Aarch64: return &board_aarch64();
    case Isa::Riscv64: return &board_riscv64();
    case Isa::X86_64: return &board_x86_64();
    case Isa::Loongarch64: return &board_loongarch64();
    default: return nullptr; // no guest board yet: --arch refuses the ISA
    }
}

} // namespace vmconfig
