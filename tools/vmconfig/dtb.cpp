// The device tree a guest gets when its config asks for one (dtb_load_addr without dtb_path).
// Built with libfdt's sequential-write API: nodes and properties are emitted in order, which
// also makes the output deterministic.
#include "abi/vm_package.hpp"
#include "base/types.hpp"
#include "vmconfig.hpp"
#include <cstdio>
#include <libfdt.h>
#include <stdexcept>
#include <vector>

namespace vmconfig {
namespace {

using guest_dt::APB_PCLK_PHANDLE, guest_dt::GIC_PHANDLE, guest_dt::APB_PCLK_HZ;
// Interrupt specifiers of arm,gic-v3 (Linux Documentation/devicetree/bindings/interrupt-controller/
// arm,gic-v3.yaml): <type number flags>, type 0 = SPI (number = INTID - 32), 1 = PPI (INTID - 16);
// flags 4 = level-high, as QEMU virt gives its timer, PL011 and maintenance interrupts with GICv3.
constexpr uint32_t GIC_SPI = 0, GIC_PPI = 1, IRQ_LEVEL_HIGH = 4, IRQ_EDGE_RISING = 1;
// PPIs as on QEMU virt (and the Arm BSA): GIC maintenance 25; timers: secure physical 29,
// non-secure physical 30, virtual 27, hypervisor 26 (INTIDs).
constexpr uint32_t PPI_MAINTENANCE = 25;
constexpr uint32_t PPI_TIMERS[] = {29, 30, 27, 26}; // arm,armv8-timer order: sec-phys, phys, virt, hyp

class FdtWriter {
public:
    explicit FdtWriter(size_t capacity) : m_buf(capacity) {
        check(fdt_create(fdt(), int(capacity)));
        check(fdt_finish_reservemap(fdt())); // no /memreserve/ entries
    }
    void begin(const std::string& name) { check(fdt_begin_node(fdt(), name.c_str())); }
    void end() { check(fdt_end_node(fdt())); }
    void u32(const char* name, uint32_t v) { check(fdt_property_u32(fdt(), name, v)); }
    void u64(const char* name, uint64_t v) { check(fdt_property_u64(fdt(), name, v)); }
    void str(const char* name, const std::string& v) { check(fdt_property_string(fdt(), name, v.c_str())); }
    // A string list, written as one literal with embedded NULs: "a\0b".
    template <size_t N> void strs(const char* name, const char (&v)[N]) {
        check(fdt_property(fdt(), name, v, N));
    }
    void prop(const char* name, const void* v, size_t len) { check(fdt_property(fdt(), name, v, int(len))); }
    void reg(uint64_t base, uint64_t size) { // #address-cells = #size-cells = 2
        fdt64_t r[2] = {cpu_to_fdt64(base), cpu_to_fdt64(size)};
        check(fdt_property(fdt(), "reg", r, sizeof r));
    }
    void empty(const char* name) { check(fdt_property(fdt(), name, nullptr, 0)); }
    void cells(const char* name, const std::vector<uint32_t>& v) {
        std::vector<fdt32_t> be;
        for (uint32_t c : v) be.push_back(cpu_to_fdt32(c));
        check(fdt_property(fdt(), name, be.data(), int(be.size() * sizeof(fdt32_t))));
    }
    Bytes finish() {
        check(fdt_end_node(fdt())); // the root
        check(fdt_finish(fdt()));
        m_buf.resize(fdt_totalsize(fdt()));
        return std::move(m_buf);
    }

private:
    void* fdt() { return m_buf.data(); }
    // Only a too-small buffer can fail, and the capacity is sized from the config: a tool bug.
    static void check(int r) {
        if (r < 0) throw std::logic_error(std::string("libfdt: ") + fdt_strerror(r));
    }
    Bytes m_buf;
};

// <type number flags> for a GIC INTID: PPIs and SPIs as the gic-v3 binding numbers them.
std::vector<uint32_t> gic_irq(uint32_t intid) {
    return {intid < 32 ? GIC_PPI : GIC_SPI, intid < 32 ? intid - 16 : intid - 32, IRQ_LEVEL_HIGH};
}

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

std::string unit(const char* name, uint64_t addr) {
    char buf[64];
    snprintf(buf, sizeof buf, "%s@%llx", name, static_cast<unsigned long long>(addr));
    return buf;
}

// A plain node per [[shm]] region (docs/virtio.md, "Shared memory"), outside /memory so that the kernel never
// takes it as RAM; a driver (Linux: uio_pdrv_genirq with of_id=cxvisor,shm) maps reg and takes
// the doorbell, an edge (HC_DOORBELL raises one per ring). cxvisor,index is the region's index
// for HC_DOORBELL; label its name, which every VM sharing it gives.
void emit_shm(FdtWriter& w, const VmConfig& vm, bool gic) {
    for (size_t i = 0; i < vm.shm.size(); ++i) {
        const Shm& s = vm.shm[i];
        w.begin(unit("shm", s.gpa));
        w.str("compatible", "cxvisor,shm");
        w.reg(s.gpa, s.size);
        w.str("label", s.name);
        w.u32("cxvisor,index", uint32_t(i));
        if (gic && s.irq) w.cells("interrupts", {GIC_SPI, s.irq - 32, IRQ_EDGE_RISING});
        w.end();
    }
}

} // namespace

Bytes generate_dtb(const VmConfig& vm) {
    size_t copies = 0;
    for (auto& n : vm.dt_copies) copies += bytes_of(n);
    FdtWriter w(8 * KiB + vm.cmdline.size() + copies +
                256 * (vm.regions.size() + vm.emu_devices.size() + vm.cpu_num + vm.shm.size()));
    w.begin("");
    w.str("compatible", "cxvisor,vm");
    w.str("model", "cxvisor VM " + vm.name);
    w.u32("#address-cells", 2);
    w.u32("#size-cells", 2);
    bool gic = vm.interrupt_mode == uint32_t(vm_package::InterruptMode::Emulated);
    if (gic) w.u32("interrupt-parent", GIC_PHANDLE);

    for (auto& r : vm.regions) {
        bool ram =
            r.map_type != uint32_t(vm_package::MapType::Reserved) && (r.flags & 3) == 3 && !(r.flags & 8);
        if (!ram) continue;
        w.begin(unit("memory", r.gpa));
        w.str("device_type", "memory");
        w.reg(r.gpa, r.size);
        w.end();
    }

    w.begin("cpus");
    w.u32("#address-cells", 1);
    w.u32("#size-cells", 0);
    for (uint32_t i = 0; i < vm.cpu_num; ++i) { // reg = MPIDR affinity the vCPU reports: its index
        w.begin(unit("cpu", i));
        w.str("device_type", "cpu");
        w.str("compatible", "arm,armv8");
        w.u32("reg", i);
        w.str("enable-method", "psci");
        w.end();
    }
    w.end();

    // The vGICv3: one distributor frame and one redistributor region for all vCPUs (128 KiB each,
    // in vCPU order, so GICR_TYPER.Last ends the walk), like QEMU virt's node.
    if (gic) {
        w.begin(unit("intc", vm.gicd_base));
        w.str("compatible", "arm,gic-v3");
        w.u32("#interrupt-cells", 3);
        w.empty("interrupt-controller");
        w.u32("#address-cells", 0); // no ITS child; dtc's interrupt_provider check wants it stated
        fdt64_t r[4] = {cpu_to_fdt64(vm.gicd_base), cpu_to_fdt64(vm_package::GICD_SIZE),
                        cpu_to_fdt64(vm.gicr_base), cpu_to_fdt64(uint64_t(vm.cpu_num) * vm_package::GICR_STRIDE)};
        w.prop("reg", r, sizeof r);
        w.u32("#redistributor-regions", 1);
        w.cells("interrupts", gic_irq(PPI_MAINTENANCE));
        w.u32("phandle", GIC_PHANDLE);
        w.end();

        // Linux cannot boot without it ("Unable to initialise architected timer"). A no_irq VM
        // gets none: its PPIs would name no interrupt controller, and without one Linux stops
        // earlier anyway (no irqchip).
        w.begin("timer");
        w.strs("compatible", "arm,armv8-timer");
        std::vector<uint32_t> irqs;
        for (uint32_t ppi : PPI_TIMERS)
            for (uint32_t c : gic_irq(ppi)) irqs.push_back(c);
        w.cells("interrupts", irqs);
        w.empty("always-on"); // the counter runs in every state a guest can reach, as on QEMU virt
        w.end();
    }

    w.begin("psci");
    w.strs("compatible", "arm,psci-1.0\0arm,psci-0.2");
    w.str("method", "hvc"); // cxvisor answers PSCI calls made with HVC
    w.end();

    std::string stdout_path;
    bool clock = false;
    for (auto& d : vm.emu_devices) {
        if (d.type != uint32_t(vm_package::EmuType::Pl011)) continue;
        if (!clock) {
            w.begin("apb-pclk");
            w.str("compatible", "fixed-clock");
            w.u32("#clock-cells", 0);
            w.u32("clock-frequency", APB_PCLK_HZ);
            w.str("clock-output-names", "clk24mhz");
            w.u32("phandle", APB_PCLK_PHANDLE);
            w.end();
            clock = true;
        }
        std::string node = unit("pl011", d.base);
        w.begin(node);
        w.strs("compatible", "arm,pl011\0arm,primecell");
        w.reg(d.base, d.length);
        if (gic && d.irq) w.cells("interrupts", gic_irq(d.irq)); // level-high: the PL011's UARTINTR
        fdt32_t clocks[2] = {cpu_to_fdt32(APB_PCLK_PHANDLE), cpu_to_fdt32(APB_PCLK_PHANDLE)};
        w.prop("clocks", clocks, sizeof clocks);
        w.strs("clock-names", "uartclk\0apb_pclk");
        w.end();
        if (stdout_path.empty()) stdout_path = "/" + node;
    }

    // virtio-mmio transports (virtio v1.2, 4.2; Linux's Documentation/devicetree/bindings/virtio/mmio.yaml).
    // Linux probes them in this order, so the first virtio-blk is vda. dma-coherent: cxvisor copies
    // through the CPU's coherent view of guest RAM, as a cache-coherent device would.
    for (auto& d : vm.emu_devices) {
        if (!vm_package::is_virtio(d.type)) continue;
        w.begin(unit("virtio_mmio", d.base));
        w.str("compatible", "virtio,mmio");
        w.reg(d.base, d.length);
        if (gic && d.irq) w.cells("interrupts", gic_irq(d.irq)); // level-high: InterruptStatus != 0
        w.empty("dma-coherent");
        w.end();
    }

    for (auto& n : vm.dt_copies) emit(w, n);
    emit_shm(w, vm, gic);

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
