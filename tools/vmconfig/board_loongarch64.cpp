// The loongarch64 guest board: QEMU's LoongArch virt layout as a VM sees it (low RAM from 0, the
// 16550 in the page of QEMU virt's UART at 0x1fe0_01e0, here at the page's start because emulated
// devices take whole pages), for "emulated" VMs QEMU virt's PCH-PIC at 0x1000_0000 with the EIOINTC
// in IOCSR space behind it (src/vintc/veiointc.hpp), and cxvisor's loongarch64 image header: an ELF64
// file header and one PT_LOAD program header (src/arch/loongarch64/boot.S), package_offset at 0x78
// and "CXV\0" at 0x80. Without LVZ the image refuses every VM at boot; this board is what the
// package for such an image (and later for the LVZ backend) is built against.
#include "abi/vm_package.hpp"
#include "base/types.hpp"
#include "board.hpp"
#include "vintc/layout.hpp"
#include <cstring>

namespace vmconfig {

namespace vp = vm_package;
namespace {

// ELF-64 Object File Format v1.5: e_ident at 0 ("\x7f" "ELF", ELFCLASS64 = 2, ELFDATA2LSB = 1),
// e_machine at 0x12 (LoongArch ELF psABI v2.20: EM_LOONGARCH = 258); the one program header at
// 0x40, so p_filesz at 0x60 and p_memsz at 0x68. Then cxvisor's own fields (boot.S).
constexpr size_t HDR_MACHINE = 0x12, HDR_PHNUM = 0x38, HDR_FILESZ = 0x60, HDR_MEMSZ = 0x68,
                 HDR_PACKAGE_OFFSET = 0x78, HDR_TAG = 0x80, HDR_SIZE = 0x84;
constexpr uint16_t EM_LOONGARCH = 258;

uint64_t get64(const Bytes& b, size_t off) {
    uint64_t v;
    memcpy(&v, &b[off], 8);
    return v;
}
uint16_t get16(const Bytes& b, size_t off) {
    uint16_t v;
    memcpy(&v, &b[off], 2);
    return v;
}

constexpr uint32_t NS16550A = uint32_t(vp::EmuType::Ns16550a);
constexpr uint64_t PCH_PIC_BASE = 0x1000'0000; // QEMU virt's VIRT_PCH_REG_BASE
// QEMU virt's ns16550 input clock (hw/loongarch/virt.c, the serial node's clock-frequency: 100 MHz).
constexpr uint32_t UART_CLOCK_HZ = 100'000'000;

class Loongarch64Board final : public GuestBoardWithoutIntc {
public:
    Isa isa() const override { return Isa::Loongarch64; }

    bool is_image(const Bytes& b) const override {
        return b.size() >= HDR_SIZE && memcmp(&b[0], "\x7f" "ELF\x02\x01", 6) == 0 &&
               get16(b, HDR_MACHINE) == EM_LOONGARCH && get16(b, HDR_PHNUM) == 1 && memcmp(&b[HDR_TAG], "CXV\0", 4) == 0;
    }
    bool check_image(const Bytes& img, const std::string& name, Diags& diags) const override {
        if (is_image(img)) return true;
        diags.push_back({name, 0, "",
                         "not a cxvisor image: no ELF64 LoongArch header (EM_LOONGARCH, one program header) with the "
                         "\"CXV\" tag at 0x80 (cxvisor.bin of ARCH=loongarch64)"});
        return false;
    }
    size_t package_offset_field() const override { return HDR_PACKAGE_OFFSET; }
    // The footprint is the PT_LOAD segment's p_memsz (BSS included). With a package the segment
    // grows over it: QEMU's ELF loader copies p_filesz bytes from the file, so both sizes move to
    // the package's end, and the zero padding before the package (the image's BSS) is copied too.
    uint64_t image_size(const Bytes& b) const override { return get64(b, HDR_MEMSZ); }
    const char* image_size_field() const override { return "p_memsz (the ELF program header at 0x40)"; }
    void set_image_size(Bytes& b, uint64_t size) const override {
        memcpy(&b[HDR_FILESZ], &size, 8);
        memcpy(&b[HDR_MEMSZ], &size, 8);
    }

    // The PCH-PIC + EIOINTC model (src/vintc/veiointc.hpp, layout.hpp pchpic_layout): the PCH-PIC's
    // page where QEMU virt has it, device lines 1..63 (QEMU virt's UART is line 2).
    bool has_intc() const override { return true; }
    IntcKeys intc_keys() const override { return {"pch_pic_base", nullptr, "pch_pic_lines"}; }
    const char* intc_name() const override { return "PCH-PIC"; }
    VintcLayout intc_layout(uint32_t vcpus) const override { return pchpic_layout(vcpus); }
    uint64_t default_intc_base() const override { return PCH_PIC_BASE; }
    uint64_t default_intc_base2() const override { return 0; }
    std::string intc_base_problem(uint64_t base) const override {
        return base == PCH_PIC_BASE ? ""
                                    : hex(base) + ": the PCH-PIC stays at 0x10000000, where QEMU virt and its "
                                                  "guests' drivers have it";
    }
    std::string line_problem(uint32_t irq, bool pt, uint32_t lines) const override {
        if (pt) return ": loongarch64 forwards no host lines (passthrough devices have irq 0)";
        if (irq > pchpic_layout(1).max_lines) return " is not a PCH-PIC line (1..63)";
        if (lines && irq > lines)
            return " is above the VM's PCH-PIC lines (devices.pch_pic_lines " + std::to_string(lines) + "): raise it";
        return "";
    }
    std::string interrupt_mode_problem(const std::string& mode) const override {
        return mode == "passthrough"
                   ? "\"passthrough\" (the host's PCH-PIC handed to the guest) is not implemented by cxvisor: use "
                     "\"emulated\" (a PCH-PIC and EIOINTC per VM) or \"no_irq\""
                   : "unknown mode \"" + mode + "\": cxvisor implements \"emulated\" (a PCH-PIC and EIOINTC per "
                     "VM) and \"no_irq\"";
    }
    bool has_device(uint32_t type) const override { return type == NS16550A; }

    // The tool does not run the image's loongarch64 platform reader (src/arch/loongarch64/
    // boot_info.cpp) yet: it cannot show a host range safe, so it refuses identical and reserved
    // regions and passthrough devices, which cxvisor does not give loongarch64 VMs either.
    const char* host_intc_name() const override { return "the host's PCH-PIC"; }
    const char* forwardable_lines() const override { return "no host lines (loongarch64 forwards none yet)"; }
    HostIrq host_irq(const uint32_t* c) const override {
        HostIrq h;
        h.line = c[0];
        h.text = "PCH-PIC line " + std::to_string(c[0]);
        return h;
    }

    // No Linux boot protocol for loongarch64 VMs yet (the EFI stub's header and boot arguments
    // come with the backend): every kernel is a flat image entered at entry_point.
    const char* image_kind() const override { return "loongarch64 kernel"; }

    // A generated tree: the CPUs and the UARTs (Linux bindings loongarch/cpus.yaml, serial/8250.yaml).
    void dt_cpus(FdtWriter& w, const VmConfig& vm) const override {
        w.begin("cpus");
        w.u32("#address-cells", 1);
        w.u32("#size-cells", 0);
        for (uint32_t i = 0; i < vm.cpu_num; ++i) { // reg = the core number CSR.CPUID reads: the index
            w.begin(unit("cpu", i));
            w.str("device_type", "cpu");
            w.str("compatible", "loongson,la464");
            w.u32("reg", i);
            w.end();
        }
        w.end();
    }
    std::string dt_uarts(FdtWriter& w, const VmConfig& vm) const override {
        std::string stdout_path;
        for (auto& d : vm.emu_devices) {
            if (d.type != NS16550A) continue;
            std::string node = dt_begin_ns16550(w, d.base, d.length, UART_CLOCK_HZ);
            w.end();
            if (stdout_path.empty()) stdout_path = "/" + node;
        }
        return stdout_path;
    }
};

} // namespace

const GuestBoard& board_loongarch64() {
    static const Loongarch64Board board;
    return board;
}

} // namespace vmconfig
