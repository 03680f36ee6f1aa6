// The x86_64 guest board: a PC's layout as cxvisor's SVM backend presents it (docs/porting.md "x86
// VMs"): RAM from 0, a 16550 in the I/O port space at 0x3f8 ("ns16550a-port") or in memory,
// the chipset's power ports emulated by the backend, a local APIC per vCPU (interrupt_mode
// "emulated"), no
// device tree (x86 guests learn their machine from CPUID and the fixed layout), and cxvisor's
// Multiboot image header.
#include "abi/vm_package.hpp"
#include "base/types.hpp"
#include "board.hpp"
#include <cstring>

namespace vmconfig {

namespace vp = vm_package;
namespace {

// cxvisor's x86_64 image header (src/arch/x86_64/boot.S): a 2-byte JMP, the Multiboot header at
// 0x4 (Multiboot 0.6.96, 3.1.1: magic, flags, checksum; 3.1.3 "the address fields": header_addr,
// load_addr, load_end_addr, bss_end_addr, entry_addr), package_offset at 0x28 and "CXV\0" at 0x30.
constexpr size_t HDR_MB_MAGIC = 0x4, HDR_LOAD_ADDR = 0x14, HDR_LOAD_END = 0x18, HDR_BSS_END = 0x1C,
                 HDR_PACKAGE_OFFSET = 0x28, HDR_TAG = 0x30;
constexpr uint32_t MULTIBOOT_MAGIC = 0x1BADB002;

uint32_t get32(const Bytes& b, size_t off) {
    uint32_t v;
    memcpy(&v, &b[off], 4);
    return v;
}
void put32(Bytes& b, size_t off, uint32_t v) { memcpy(&b[off], &v, 4); }

constexpr uint32_t NS16550A = uint32_t(vp::EmuType::Ns16550a);
constexpr uint64_t LAPIC_BASE = 0xFEE0'0000; // Intel SDM vol. 3A 11.4.1: the APIC base at power-up

class X86Board final : public GuestBoardWithoutIntc {
public:
    Isa isa() const override { return Isa::X86_64; }

    bool is_image(const Bytes& b) const override {
        return b.size() >= 64 && get32(b, HDR_MB_MAGIC) == MULTIBOOT_MAGIC && memcmp(&b[HDR_TAG], "CXV\0", 4) == 0;
    }
    bool check_image(const Bytes& img, const std::string& name, Diags& diags) const override {
        if (is_image(img)) return true;
        diags.push_back({name, 0, "",
                         "not a cxvisor image: no Multiboot header at 0x4 with the \"CXV\" tag at 0x30 (cxvisor.bin "
                         "of ARCH=x86_64)"});
        return false;
    }
    size_t package_offset_field() const override { return HDR_PACKAGE_OFFSET; }
    // The footprint is what the Multiboot loader places: load_addr up to bss_end_addr. With a
    // package both end addresses move past it, so the loader copies the package (and the zeroed
    // padding before it, which is the image's BSS) from the file, and cxvisor reserves it all.
    uint64_t image_size(const Bytes& b) const override { return get32(b, HDR_BSS_END) - get32(b, HDR_LOAD_ADDR); }
    const char* image_size_field() const override { return "bss_end_addr - load_addr (Multiboot header at 0x4)"; }
    void set_image_size(Bytes& b, uint64_t size) const override {
        const uint32_t end = uint32_t(get32(b, HDR_LOAD_ADDR) + size);
        put32(b, HDR_LOAD_END, end);
        put32(b, HDR_BSS_END, end);
    }

    // The vLAPIC (src/vintc/vlapic.hpp, layout.hpp lapic_layout): each vCPU's local APIC in the
    // page at IA32_APIC_BASE, device lines GSIs 1..23 delivered at vector 0x20 + GSI to vCPU 0
    // (no IOAPIC is emulated: docs/porting.md "x86 VMs: interrupts").
    bool has_intc() const override { return true; }
    IntcKeys intc_keys() const override { return {"lapic_base", nullptr, "gsi_count"}; }
    const char* intc_name() const override { return "local APIC"; }
    VintcLayout intc_layout(uint32_t vcpus) const override { return lapic_layout(vcpus); }
    uint64_t default_intc_base() const override { return LAPIC_BASE; }
    std::string intc_base_problem(uint64_t base) const override {
        return base == LAPIC_BASE ? ""
                                  : hex(base) + ": the local APIC stays at 0xfee00000 (IA32_APIC_BASE as cxvisor "
                                                "reports it; guests cannot move it)";
    }
    std::string line_problem(uint32_t irq, bool, uint32_t lines) const override {
        if (irq > lapic_layout(1).max_lines) return " is not a GSI the vLAPIC delivers (1..23)";
        if (lines && irq > lines)
            return " is above the VM's GSIs (devices.gsi_count " + std::to_string(lines) + "): raise gsi_count";
        return "";
    }
    std::string interrupt_mode_problem(const std::string& mode) const override {
        return mode == "passthrough"
                   ? "\"passthrough\" (the host's APIC handed to the guest) is not implemented by cxvisor: use "
                     "\"emulated\" (a virtual local APIC per vCPU) or \"no_irq\""
                   : "unknown mode \"" + mode + "\": cxvisor implements \"emulated\" (a virtual local APIC per vCPU) "
                     "and \"no_irq\"";
    }
    bool has_device(uint32_t type) const override { return type == NS16550A; }
    bool has_port_space() const override { return true; }

    // The x86 host is described by Multiboot and ACPI, which the tool cannot read: it cannot show
    // a host range safe, so it refuses identical and reserved regions and passthrough devices,
    // which cxvisor does not give x86 VMs yet either.
    const char* host_intc_name() const override { return "the host's IOAPIC"; }
    const char* forwardable_lines() const override { return "no host lines (x86 forwards none yet)"; }
    HostIrq host_irq(const uint32_t* c) const override {
        HostIrq h;
        h.line = c[0];
        h.text = "GSI " + std::to_string(c[0]);
        return h;
    }

    // No Linux boot protocol for x86 VMs yet (a bzImage's setup header, boot_params and e820 are a
    // later step): every kernel is a flat image entered at entry_point.
    const char* image_kind() const override { return "x86 kernel"; }

    // x86 guests get no device tree from cxvisor; a config that asks for a generated one gets a
    // tree with the root, memory and the UARTs only (dtb.cpp), which an x86 guest may ignore.
    void dt_cpus(FdtWriter&, const VmConfig&) const override {}
    std::string dt_uarts(FdtWriter&, const VmConfig&) const override { return ""; }
};

} // namespace

const GuestBoard& board_x86_64() {
    static const X86Board board;
    return board;
}

} // namespace vmconfig
