// Which devicetree nodes describe hardware that can reach memory on its own (a bus master: it
// reads and writes RAM by DMA) or that decides what such masters reach (an IOMMU). Handing such a
// device to a VM would let the guest program it to read or overwrite any host memory, unless an
// IOMMU that cxvisor programs confined it; cxvisor programs no IOMMU yet, so every reason below
// says so. Status does not matter: a "disabled" node is still silicon a guest could program.
//
// One rule in one place: header-only and pure (it only reads the blob through Fdt), so the image
// (read_platform, arch/aarch64/dt_platform.cpp) and the host config tool (cxv-vmconfig, which runs
// the same read_platform on a host DTB) classify every node the same way.
//
// The evidence a DTB gives, most specific first (devicetree spec v0.4 and Linux v6.1
// Documentation/devicetree/bindings/):
//   compatible "virtio,mmio"        virtio/mmio.yaml: virtio devices move all data by DMA
//   compatible "qemu,fw-cfg-mmio"   firmware/qemu,fw-cfg-mmio.yaml: its DMA interface copies to
//                                   and from any guest-given address
//   device_type "pci"               pci/pci.txt, pci/host-generic-pci.yaml: a host bridge; devices
//                                   behind it are bus masters. Its reg (config space) and its
//                                   `ranges` windows (I/O, 32- and 64-bit MMIO) are all refused
//   compatible "arm,pl330"          dma/arm,pl330.yaml: a DMA controller
//   "#dma-cells"                    dma/dma-controller.yaml: required in every DMA controller
//   "#iommu-cells"                  iommu/iommu.txt: an IOMMU; whoever programs it decides what
//                                   the masters behind it reach
//   "iommus", "iommu-map"           iommu/iommu.txt, pci/pci-iommu.txt: a master behind an IOMMU
//   "msi-parent", "msi-map"         interrupt-controller/msi.txt: it raises MSIs, i.e. writes memory
//   "dma-ranges"                    spec 2.3.9: a bus or bridge whose masters address memory
//   "dma-coherent"                  spec 2.3.10: its DMA is cache-coherent, so it does DMA
//   "dma-noncoherent"               spec 2.3.11: its DMA is not coherent, but it does DMA
// Not evidence: "dmas" (a client of a DMA controller; the controller is the master and is caught
// by the rules above). On QEMU virt (7.2) this finds fw-cfg, the 32 virtio-mmio slots and the
// PCIe host bridge (all marked dma-coherent as well); the PL011s, PL031 RTC, PL061 GPIO and the
// flash carry none of it.
#pragma once
#include "base/string.hpp"
#include "fdt/fdt.hpp"

// What one pass over a node's properties tells the host-owned rules. Every node of the host DTB
// goes through this at boot, so it reads each property once instead of once per rule.
struct DtNodeFacts {
    FdtProp reg{"reg", nullptr, 0};
    bool has_reg = false;
    FdtStringList compatible{"", 0}; // empty when absent or malformed
    const char* device_type = "";    // "" when absent or malformed
    const char* dma_why = nullptr;   // why n can reach memory (for the refusal message, naming the
                                     // strongest evidence), or nullptr
};

inline DtNodeFacts dt_node_facts(const Fdt& fdt, FdtNode n) {
    struct Rule {
        const char* name;
        const char* why;
    };
    // Most specific first: the first rule that matches names the evidence.
    static constexpr Rule kCompatibles[] = {
        {"virtio,mmio", "a DMA-capable device (virtio,mmio): cxvisor programs no IOMMU yet"},
        {"qemu,fw-cfg-mmio", "a DMA-capable device (qemu,fw-cfg-mmio, which has a DMA interface): cxvisor "
                             "programs no IOMMU yet"},
        {"arm,pl330", "a DMA controller (arm,pl330): cxvisor programs no IOMMU yet"},
    };
    static constexpr const char* kPciWhy =
        "a PCI host bridge (device_type \"pci\"), whose devices are bus masters: cxvisor programs no IOMMU yet";
    static constexpr Rule kProperties[] = {
        {"#dma-cells", "a DMA controller (#dma-cells): cxvisor programs no IOMMU yet"},
        {"#iommu-cells", "an IOMMU (#iommu-cells), which decides what memory DMA-capable devices reach"},
        {"iommus", "a DMA-capable device (iommus): it sits behind an IOMMU, but cxvisor programs no IOMMU yet"},
        {"iommu-map", "a DMA-capable bridge (iommu-map): its devices sit behind an IOMMU, but cxvisor programs "
                      "no IOMMU yet"},
        {"msi-parent", "a DMA-capable device (msi-parent: it writes MSIs to memory): cxvisor programs no IOMMU "
                       "yet"},
        {"msi-map", "a DMA-capable bridge (msi-map: its devices write MSIs to memory): cxvisor programs no "
                    "IOMMU yet"},
        {"dma-ranges", "a DMA-capable bus (dma-ranges): cxvisor programs no IOMMU yet"},
        {"dma-coherent", "a DMA-capable device (dma-coherent): cxvisor programs no IOMMU yet"},
        {"dma-noncoherent", "a DMA-capable device (dma-noncoherent): cxvisor programs no IOMMU yet"},
    };
    constexpr usize kNone = sizeof kProperties / sizeof kProperties[0];
    // A string value is usable only if its last byte ends a string (as Fdt::prop_strings checks).
    auto strings = [](const FdtProp& p) {
        bool ok = p.size != 0 && p.data[p.size - 1] == 0;
        return FdtStringList(ok ? reinterpret_cast<const char*>(p.data) : "", ok ? p.size : 0);
    };
    DtNodeFacts f;
    usize best = kNone; // the first property rule, in table order, that any property matches
    for (FdtProp p : fdt.props(n)) {
        if (strcmp(p.name, "reg") == 0) f.reg = p, f.has_reg = true;
        else if (strcmp(p.name, "compatible") == 0) f.compatible = strings(p);
        else if (strcmp(p.name, "device_type") == 0 && strings(p).count() != 0) f.device_type = *strings(p).begin();
        else
            for (usize i = 0; i < best; ++i)
                if (strcmp(p.name, kProperties[i].name) == 0) best = i;
    }
    for (const Rule& c : kCompatibles)
        if (!f.dma_why && f.compatible.contains(c.name)) f.dma_why = c.why;
    if (!f.dma_why && strcmp(f.device_type, "pci") == 0) f.dma_why = kPciWhy;
    if (!f.dma_why && best != kNone) f.dma_why = kProperties[best].why;
    return f;
}

// Calls f(cpu_base, size) for each window of a PCI host bridge's `ranges` (pci/pci.txt: 3-cell
// child addresses "phys.hi phys.mid phys.lo", parent addresses in the parent bus's #address-cells
// `parent_ac`, sizes in the bridge's #size-cells), as CPU physical addresses: as they are when
// `cpu_space` (the parent bus is the CPU's space), else through Fdt::translate(). Windows that do
// not reach the CPU's address space are skipped; a malformed property is BadFormat and sizes or
// parent addresses wider than 64 bits are Unsupported.
template <typename F>
Result<void> for_each_pci_window(const Fdt& fdt, FdtNode bridge, u32 parent_ac, bool cpu_space, F&& f) {
    auto ranges = fdt.prop(bridge, "ranges");
    if (ranges.is_error()) return {};
    u32 ca = TRY(fdt.address_cells(bridge)), sc = TRY(fdt.size_cells(bridge));
    if (parent_ac > 2 || sc > 2) return Error::Unsupported;
    u32 stride = ca + parent_ac + sc;
    if (stride == 0 || ranges.value().size % (4 * stride)) return Error::BadFormat;
    FdtCells cells{ranges.value().data, ranges.value().size / 4};
    for (u32 i = 0; i < cells.count; i += stride) {
        u64 parent_addr = cells.read(i + ca, parent_ac), size = cells.read(i + ca + parent_ac, sc);
        // translate() maps an address of the bridge's own reg space, i.e. the parent bus's.
        auto cpu = cpu_space ? Result<u64>(parent_addr) : fdt.translate(bridge, parent_addr);
        if (cpu.is_ok() && size != 0) f(cpu.value(), size);
    }
    return {};
}

// Whether node n's DMA is cache-coherent (Linux: of_dma_is_coherent): "dma-coherent" says yes,
// "dma-noncoherent" says no (devicetree spec v0.4, 2.3.10-2.3.11); with neither, `isa_default`
// (arch::DMA_COHERENT_BY_DEFAULT: aarch64 no, riscv64 yes). cxvisor's own DMA users (the host
// disk, fw_cfg) issue no cache maintenance and take only coherent devices.
inline bool dt_dma_coherent(const Fdt& fdt, FdtNode n, bool isa_default) {
    if (fdt.prop(n, "dma-coherent").is_ok()) return true;
    if (fdt.prop(n, "dma-noncoherent").is_ok()) return false;
    return isa_default;
}
