// What the target machine keeps for itself: the image's own platform reader (read_platform in
// src/arch/aarch64/dt_platform.cpp, on the project's FDT reader) run on the host DTB, so the tool
// refuses exactly what cxvisor would refuse at boot, with the same reasons.
#include "arch/aarch64/dt_platform.hpp"
#include "abi/vm_package.hpp"
#include "fdt/fdt.hpp"
#include "vmconfig.hpp"
#include <algorithm>
#include <stdexcept>

namespace vmconfig {

extern const uint8_t QEMU_VIRT_DTB[]; // qemu-virt.dts, compiled and embedded at build time
extern const size_t QEMU_VIRT_DTB_SIZE;

namespace vp = vm_package;

namespace {

bool overlaps(uint64_t a, uint64_t as, uint64_t b, uint64_t bs) { return a < b + bs && b < a + as; }

} // namespace

std::optional<HostDescription> read_host(const Bytes& dtb, const std::string& name, Diags& diags) {
    auto fdt = Fdt::create(dtb.data(), dtb.size());
    if (fdt.is_error()) {
        diags.push_back({name, 0, "", "not a valid flattened device tree (--host-dtb)"});
        return {};
    }
    const char* what = "?";
    auto plat = read_platform(fdt.value(), &what);
    if (plat.is_error()) {
        diags.push_back({name, 0, "",
                         std::string("cxvisor cannot run on this host DTB (--host-dtb): ") + what + ": " +
                             error_name(plat.error())});
        return {};
    }
    // The whole PlatformInfo is large: keep only what the checks need. owned[].node points into
    // `dtb`, copied into strings here.
    HostDescription host;
    host.source = "host DTB " + name;
    host.incomplete = plat.value().owned_incomplete;
    const PlatformInfo& p = plat.value();
    for (uint32_t i = 0; i < p.owned_count; ++i) {
        host.owned.push_back({p.owned[i].range.base.value(), p.owned[i].range.size, p.owned[i].kind == OwnedKind::Ram,
                              p.owned[i].node, p.owned[i].why});
        if (p.owned[i].range.base == p.uart.mmio.base) host.console_node = p.owned[i].node;
    }
    host.dtb = dtb;
    host.console_intid = p.uart.intid;
    return host;
}

HostDescription builtin_host() {
    Bytes dtb(QEMU_VIRT_DTB, QEMU_VIRT_DTB + QEMU_VIRT_DTB_SIZE);
    Diags diags;
    auto host = read_host(dtb, "QEMU virt", diags);
    if (!host) throw std::logic_error("the built-in QEMU virt DTB does not read: " + format(diags.at(0)));
    host->source = "QEMU virt, built in; pass --host-dtb for another board";
    host->builtin = true;
    return *host;
}

void check_host(const std::vector<VmConfig>& vms, const HostDescription& host, Diags& diags) {
    auto check = [&](const VmConfig& vm, const Where& at, uint64_t base, uint64_t size, bool identical) {
        std::string me = "host range " + range(base, size);
        if (host.incomplete) {
            diags.push_back({vm.file, at.line, at.key,
                             me + " cannot be shown safe: cxvisor's list of host-owned and DMA-capable ranges "
                                  "is incomplete (the host DTB names too many, or PCI windows it cannot read), "
                                  "so it refuses every passthrough device and reserved region (" +
                                  host.source + ")"});
            return;
        }
        const HostOwned* first = nullptr;
        size_t more = 0;
        for (auto& o : host.owned) {
            // Identical regions are host RAM by definition (cxvisor takes them out of its allocator).
            if ((identical && o.ram) || !overlaps(base, size, o.base, o.size)) continue;
            if (first) ++more;
            else first = &o;
        }
        auto in_ram = [&](const HostOwned& o) { return o.ram && base >= o.base && base + size <= o.base + o.size; };
        if (!first && identical && std::none_of(host.owned.begin(), host.owned.end(), in_ram)) {
            diags.push_back({vm.file, at.line, at.key,
                             me + " is not inside host RAM: an identical region maps host RAM 1:1; cxvisor refuses "
                                  "it (" + host.source + ")"});
            return;
        }
        if (!first) return;
        std::string others = more ? " (and " + std::to_string(more) + " more)" : "";
        diags.push_back({vm.file, at.line, at.key,
                         me + " overlaps " + first->node + " " + range(first->base, first->size) + others + ", " +
                             first->why + "; cxvisor refuses it (" + host.source + ")"});
    };
    for (auto& vm : vms) {
        for (auto& r : vm.regions)
            if (r.map_type != uint32_t(vp::MapType::Alloc))
                check(vm, r.at, r.gpa, r.size, r.map_type == uint32_t(vp::MapType::Identical));
        for (auto& d : vm.pt_devices) check(vm, d.at, d.base_hpa, d.length, false);
        check_pt_irqs(vm, host, diags);
    }
}

} // namespace vmconfig
