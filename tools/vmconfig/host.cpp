// What the target machine keeps for itself: the image's own platform reader of the board's ISA
// (read_platform in src/arch/aarch64/dt_platform.cpp, read_rv_platform in
// src/arch/riscv64/dt_platform.cpp, on the project's FDT reader) run on the host DTB, so the tool
// refuses exactly what cxvisor would refuse at boot, with the same reasons.
#include "abi/vm_package.hpp"
#include "board.hpp"
#include "fdt/fdt.hpp"
#include "fdt/host_dt.hpp"
#include "vmconfig.hpp"
#include <algorithm>
#include <stdexcept>

namespace vmconfig {

namespace vp = vm_package;

namespace {

bool overlaps(uint64_t a, uint64_t as, uint64_t b, uint64_t bs) { return a < b + bs && b < a + as; }

} // namespace

void fill_host(HostDescription& host, const DtHostInfo& info, uint64_t console_base, uint32_t console_line) {
    // owned[].node points into the DTB, copied into strings here.
    host.incomplete = info.owned_incomplete;
    for (uint32_t i = 0; i < info.owned_count; ++i) {
        const OwnedRange& o = info.owned[i];
        host.owned.push_back({o.range.base.value(), o.range.size, o.kind == OwnedKind::Ram, o.node, o.why});
        if (o.range.base.value() == console_base) host.console_node = o.node;
    }
    for (uint32_t i = 0; i < info.reserved_count; ++i)
        host.reserved.push_back({info.reserved[i].base.value(), info.reserved[i].size});
    host.console_intid = console_line;
}

std::optional<HostDescription> read_host(const GuestBoard& board, const Bytes& dtb, const std::string& name,
                                         Diags& diags) {
    auto fdt = Fdt::create(dtb.data(), dtb.size());
    if (fdt.is_error()) {
        diags.push_back({name, 0, "", "not a valid flattened device tree (--host-dtb)"});
        return {};
    }
    HostDescription host;
    host.board = &board;
    host.source = "host DTB " + name;
    if (std::string what; !board.read_host_platform(fdt.value(), host, what)) {
        diags.push_back({name, 0, "", "cxvisor cannot run on this host DTB (--host-dtb): " + what});
        return {};
    }
    host.dtb = dtb;
    return host;
}

HostDescription builtin_host(const GuestBoard& board) {
    Diags diags;
    auto host = read_host(board, board.builtin_host_dtb(), std::string("QEMU virt (") + board.name() + ")", diags);
    if (!host) throw std::logic_error("the built-in QEMU virt DTB does not read: " + format(diags.at(0)));
    host->source = std::string("QEMU virt, built in for ") + board.name() + "; pass --host-dtb for another board";
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
        if (identical)
            for (auto [rb, rs] : host.reserved)
                if (overlaps(base, size, rb, rs)) {
                    diags.push_back({vm.file, at.line, at.key,
                                     me + " overlaps firmware-reserved memory " + range(rb, rs) +
                                         " (/memreserve/ or /reserved-memory), which cxvisor never hands out; it "
                                         "refuses the region (" + host.source + ")"});
                    return;
                }
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
