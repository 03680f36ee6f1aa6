// The device tree a guest gets when its config asks for one (dtb_load_addr without dtb_path): the
// nodes every board has (memory, virtio-mmio, shared memory, chosen) here, the ISA's own (CPUs,
// interrupt controller, timer, firmware, UARTs) from its GuestBoard (board_<isa>.cpp).
#include "abi/vm_package.hpp"
#include "base/types.hpp"
#include "board.hpp"
#include <cstdio>
#include <vector>

namespace vmconfig {

std::string unit(const char* name, uint64_t addr) {
    char buf[64];
    snprintf(buf, sizeof buf, "%s@%llx", name, static_cast<unsigned long long>(addr));
    return buf;
}

namespace {

// A node prepared elsewhere (a host node copied for a passthrough device), with its subnodes.
void emit(FdtWriter& w, const DtNode& n) {
    w.begin(n.name);
    for (auto& [name, value] : n.props) w.prop(name.c_str(), value.data(), value.size());
    for (auto& c : n.children) emit(w, c);
    w.end();
}
size_t bytes_of(const DtNode& n) { // an upper bound of what emit() writes (tokens, names, padding)
    size_t size = 16 + n.name.size();
    for (auto& [name, value] : n.props) size += 16 + name.size() + value.size();
    for (auto& c : n.children) size += bytes_of(c);
    return size;
}

// A device node's `interrupts`, with its interrupt-parent where the root names none.
void irq_prop(FdtWriter& w, const GuestBoard& board, const std::vector<uint32_t>& irq) {
    w.cells("interrupts", irq);
    if (!board.dt_root_interrupt_parent()) w.u32("interrupt-parent", guest_dt::GIC_PHANDLE);
}

// A plain node per [[shm]] region (docs/virtio.md, "Shared memory"), outside /memory so that the kernel never
// takes it as RAM; a driver (Linux: uio_pdrv_genirq with of_id=cxvisor,shm) maps reg and takes
// the doorbell, an edge (HC_DOORBELL raises one per ring). cxvisor,index is the region's index
// for HC_DOORBELL; label its name, which every VM sharing it gives.
void emit_shm(FdtWriter& w, const VmConfig& vm, bool intc) {
    for (size_t i = 0; i < vm.shm.size(); ++i) {
        const Shm& s = vm.shm[i];
        w.begin(unit("shm", s.gpa));
        w.str("compatible", "cxvisor,shm");
        w.reg(s.gpa, s.size);
        w.str("label", s.name);
        w.u32("cxvisor,index", uint32_t(i));
        if (intc && s.irq) irq_prop(w, *vm.board, vm.board->dt_irq(s.irq, true));
        w.end();
    }
}

} // namespace

Bytes generate_dtb(const VmConfig& vm) {
    const GuestBoard& board = *vm.board;
    size_t copies = 0;
    for (auto& n : vm.dt_copies) copies += bytes_of(n);
    FdtWriter w(8 * KiB + vm.cmdline.size() + copies +
                256 * (vm.regions.size() + vm.emu_devices.size() + vm.cpu_num + vm.shm.size()));
    w.begin("");
    w.str("compatible", "cxvisor,vm");
    w.str("model", "cxvisor VM " + vm.name);
    w.u32("#address-cells", 2);
    w.u32("#size-cells", 2);
    bool intc = vm.interrupt_mode == uint32_t(vm_package::InterruptMode::Emulated);
    if (intc && board.dt_root_interrupt_parent()) w.u32("interrupt-parent", guest_dt::GIC_PHANDLE);
    board.dt_root(w, vm);

    for (auto& r : vm.regions) {
        bool ram =
            r.map_type != uint32_t(vm_package::MapType::Reserved) && (r.flags & 3) == 3 && !(r.flags & 8);
        if (!ram) continue;
        w.begin(unit("memory", r.gpa));
        w.str("device_type", "memory");
        w.reg(r.gpa, r.size);
        w.end();
    }

    board.dt_cpus(w, vm);
    board.dt_platform(w, vm);
    std::string stdout_path = board.dt_uarts(w, vm);

    // virtio-mmio transports (virtio v1.2, 4.2; Linux's Documentation/devicetree/bindings/virtio/mmio.yaml).
    // Linux probes them in this order, so the first virtio-blk is vda. dma-coherent: cxvisor copies
    // through the CPU's coherent view of guest RAM, as a cache-coherent device would.
    for (auto& d : vm.emu_devices) {
        if (!vm_package::is_virtio(d.type)) continue;
        w.begin(unit("virtio_mmio", d.base));
        w.str("compatible", "virtio,mmio");
        w.reg(d.base, d.length);
        if (intc && d.irq) irq_prop(w, board, board.dt_irq(d.irq, false)); // level: InterruptStatus != 0
        w.empty("dma-coherent");
        w.end();
    }

    for (auto& n : vm.dt_copies) emit(w, n);
    emit_shm(w, vm, intc);

    w.begin("chosen");
    if (!vm.cmdline.empty()) w.str("bootargs", vm.cmdline);
    if (!stdout_path.empty()) w.str("stdout-path", stdout_path);
    if (vm.ramdisk.present) {
        w.u64("linux,initrd-start", vm.ramdisk.load_addr);
        w.u64("linux,initrd-end", vm.ramdisk.load_addr + vm.ramdisk.data.size());
    }
    w.end();
    return w.finish();
}

} // namespace vmconfig
