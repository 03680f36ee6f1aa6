// Where a VM's emulated interrupt controller lives in its guest-physical space, and which device
// lines it has: one description per controller model, read by both sides of the package (the
// tool places and checks the windows and irqs of a config; the image checks the package again),
// so the sizes are stated once. The image binds its ISA's model with arch::vintc_layout; the tool
// picks one per guest board.
#pragma once
#include "abi/vm_package.hpp"

struct VintcLayout {
    const char* model;           // "vGICv3", "vPLIC": for messages
    uint32_t window_count;       // 1 or 2 register windows (VmRecord::intc_base, intc_base2)
    const char* window_name[2];  // each window, for messages
    uint64_t window_size[2];     // bytes of each window for this many vCPUs
    uint64_t align;              // each window's base alignment
    uint32_t first_line;         // the number of the first shared (device) line
    uint32_t max_lines;          // at most this many shared lines
    uint32_t line_multiple;      // a VM's line count is rounded up to a multiple of this
    const char* line_name;       // what the controller calls its shared lines ("SPIs")

    // Line number `n` is one of a VM with `lines` shared lines (lines already rounded).
    constexpr bool is_line(uint32_t n, uint32_t lines) const {
        return n >= first_line && uint64_t(n) < uint64_t(first_line) + lines;
    }
};

// The GICv3 (IHI 0069H): a 64 KiB distributor frame (12.1) and per vCPU a redistributor of two
// 64 KiB frames (RD_base + SGI_base, no VLPI frames: 12.10); SPIs are INTIDs 32..1019, implemented
// in groups of 32 (GICD_TYPER.ITLinesNumber, 12.9.38).
constexpr VintcLayout gicv3_layout(uint32_t vcpus) {
    return {"vGICv3", 2, {"the vGIC distributor (GICD)", "the vGIC redistributors (GICR)"},
            {vm_package::GICD_SIZE, uint64_t(vcpus) * vm_package::GICR_STRIDE}, 0x1'0000, 32,
            vm_package::MAX_SPIS, 32, "SPIs"};
}

// The RISC-V PLIC (riscv-plic-spec 1.0.0, ch. 3 "Memory Map"), laid out as QEMU's virt board
// reserves it: 0x60_0000 bytes cover priorities, pending bits, the enables and the
// threshold/claim pages of 1024 contexts (two per vCPU: M and S, as QEMU's DT numbers them);
// sources 1..1023 (source 0 does not exist, 1.0.0 ch. 2).
constexpr VintcLayout plic_layout(uint32_t) {
    return {"vPLIC", 1, {"the vPLIC", nullptr}, {0x60'0000, 0}, 0x1000, 1, 1023, 1, "PLIC sources"};
}

// The x86 local APIC (Intel SDM vol. 3A ch. 11; src/vintc/vlapic.hpp): one 4 KiB page at
// IA32_APIC_BASE (0xFEE0_0000, where cxvisor keeps it) that every vCPU reaches its own APIC
// through; device lines are GSIs 1..23, each delivered at a fixed vector to vCPU 0.
constexpr VintcLayout lapic_layout(uint32_t) {
    return {"vLAPIC", 1, {"the local APIC page", nullptr}, {0x1000, 0}, 0x1000, 1, 23, 1, "GSIs"};
}

// LoongArch virt's PCH-PIC (vintc/veiointc.hpp: with the EIOINTC behind it in IOCSR space, which
// takes no guest-physical window): one page at 0x1000_0000, device lines 1..63 (line 0 exists but
// irq 0 means "not connected" in a config).
constexpr VintcLayout pchpic_layout(uint32_t) {
    return {"PCH-PIC + EIOINTC", 1, {"the PCH-PIC", nullptr}, {0x1000, 0}, 0x1000, 1, 63, 1, "PCH-PIC lines"};
}

// The controller each ISA's guest board has (the package's PackageHeader::isa): the tool's boards
// and the image's package checks both ask here. An ISA without a model yet has no layout (an
// emulated controller is refused for it).
constexpr const VintcLayout* vintc_layout_of(uint32_t isa, uint32_t vcpus, VintcLayout& out) {
    switch (vm_package::Isa(isa)) {
    case vm_package::Isa::Aarch64: return &(out = gicv3_layout(vcpus));
    case vm_package::Isa::Riscv64: return &(out = plic_layout(vcpus));
    case vm_package::Isa::X86_64: return &(out = lapic_layout(vcpus));
    case vm_package::Isa::Loongarch64: return &(out = pchpic_layout(vcpus));
    default: return nullptr;
    }
}
