// The aarch64 guest board: QEMU virt's layout with an emulated GICv3, PSCI through HVC, PL011
// UARTs, the arm64 Linux Image boot protocol and cxvisor's arm64 image header.
#include "abi/vm_package.hpp"
#include "arch/aarch64/dt_platform.hpp"
#include "base/types.hpp"
#include "board.hpp"
#include <cstring>

namespace vmconfig {
extern const uint8_t QEMU_VIRT_DTB[]; // qemu-virt.dts, compiled and embedded at build time
extern const size_t QEMU_VIRT_DTB_SIZE;

namespace vp = vm_package;
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
// GIC INTID ranges (Arm IHI 0069H, 2.2 "INTIDs"): SGIs 0..15, PPIs 16..31, SPIs 32..1019.
constexpr uint32_t FIRST_PPI = 16, FIRST_SPI = 32, LAST_SPI = 1019;

// cxvisor's arm64 image header: the arm64 Image header (Linux Documentation/arch/arm64/booting.rst)
// with the "CXVISOR\0" tag in res3 and package_offset in res2 (src/arch/aarch64 boot code).
constexpr uint64_t CXVISOR_TAG = 0x0052'4F53'4956'5843; // "CXVISOR\0" as a little-endian u64
constexpr size_t HDR_PACKAGE_OFFSET = 0x20, HDR_TAG = 0x28, HDR_MAGIC = 0x38,
                 HDR_SIZE = 0x40;

uint64_t get64(const Bytes& b, size_t off) {
    uint64_t v;
    memcpy(&v, &b[off], 8);
    return v;
}
std::string num(uint64_t v) { return v < 0x10000 ? std::to_string(v) : hex(v); }

// <type number flags> for a GIC INTID: PPIs and SPIs as the gic-v3 binding numbers them.
std::vector<uint32_t> gic_irq(uint32_t intid) {
    return {intid < 32 ? GIC_PPI : GIC_SPI, intid < 32 ? intid - 16 : intid - 32, IRQ_LEVEL_HIGH};
}

class Aarch64Board final : public GuestBoard {
public:
    Isa isa() const override { return Isa::Aarch64; }

    bool check_image(const Bytes& img, const std::string& name, Diags& diags) const override {
        auto fail = [&](const std::string& why) {
            return diags.push_back({name, 0, "", "not a cxvisor image: " + why}), false;
        };
        if (img.size() < HDR_SIZE) return fail("shorter than the 64-byte arm64 Image header");
        if (memcmp(&img[HDR_MAGIC], linux_magic(), 4) != 0) return fail("no arm64 Image magic \"ARM\\x64\" at 0x38");
        if (get64(img, HDR_TAG) != CXVISOR_TAG) return fail("an arm64 Image without the \"CXVISOR\" tag at 0x28");
        return true;
    }
    size_t package_offset_field() const override { return HDR_PACKAGE_OFFSET; }

    IntcKeys intc_keys() const override { return {"gicd_base", "gicr_base", "spi_count"}; }
    const char* intc_name() const override { return "GIC"; }
    uint64_t default_intc_base() const override { return 0x0800'0000; } // QEMU virt's GICD
    uint64_t default_intc_base2() const override { return 0x080A'0000; } // and GICR
    // One distributor frame and one redistributor region for all vCPUs (128 KiB each, in vCPU
    // order, so GICR_TYPER.Last ends the walk), like QEMU virt's; SPIs in groups of 32
    // (GICD_TYPER.ITLinesNumber, IHI 0069H 12.9.38).
    VintcLayout intc_layout(uint32_t vcpus) const override { return gicv3_layout(vcpus); }
    std::string intc_base_problem(uint64_t base) const override {
        return is_aligned(base, gicv3_layout(1).align)
                   ? ""
                   : hex(base) + " is not 64 KiB aligned (GICv3 register frames are 64 KiB)";
    }
    std::vector<IntcWindow> intc_windows(const VmConfig& vm) const override {
        std::vector<IntcWindow> w = GuestBoard::intc_windows(vm);
        w[1].long_name = "the vGIC redistributors (GICR, " + std::to_string(vm.cpu_num) + " x 128 KiB)";
        return w;
    }
    std::string line_problem(uint32_t irq, bool pt, uint32_t lines) const override {
        const std::string spis = "use an SPI, " + std::to_string(FIRST_SPI) + ".." + std::to_string(LAST_SPI);
        if (irq < FIRST_PPI) return " is an SGI (0..15: software-generated, between vCPUs): " + spis;
        if (irq < FIRST_SPI)
            return std::string(" is a PPI (16..31: private to each vCPU, its timers and the GIC maintenance interrupt): ") +
                   (pt ? "cxvisor cannot forward a host PPI; " : "an emulated device raises an SPI; ") + spis;
        if (irq > LAST_SPI)
            return " is not an SPI (32..1019; 1020.. are special or LPIs, which the vGIC does not have)";
        if (lines && irq >= FIRST_SPI + lines)
            return " is above the VM's SPIs (devices.spi_count " + std::to_string(lines) + ": INTIDs 32.." +
                   std::to_string(FIRST_SPI + lines - 1) + "): raise spi_count";
        return "";
    }
    std::string interrupt_mode_problem(const std::string& mode) const override {
        return mode == "passthrough"
                   ? "\"passthrough\" (the host GIC handed to the guest) is not implemented by cxvisor: "
                     "use \"emulated\" (a virtual GICv3; passthrough devices' interrupts are "
                     "forwarded through it) or \"no_irq\""
                   : "unknown mode \"" + mode + "\": cxvisor implements \"emulated\" (a virtual GICv3) and \"no_irq\"";
    }
    bool has_device(uint32_t type) const override {
        return type == uint32_t(vp::EmuType::Pl011) || vp::is_virtio(type);
    }

    bool read_host_platform(const Fdt& fdt, HostDescription& out, std::string& what) const override {
        const char* piece = "?";
        auto plat = read_platform(fdt, CpuSlots::kAnyBootCpu, &piece);
        if (plat.is_error()) return what = std::string(piece) + ": " + error_name(plat.error()), false;
        fill_host(out, plat.value(), plat.value().uart.mmio.base.value(), plat.value().uart.intid);
        return true;
    }
    Bytes builtin_host_dtb() const override { return Bytes(QEMU_VIRT_DTB, QEMU_VIRT_DTB + QEMU_VIRT_DTB_SIZE); }
    bool is_host_intc(const Fdt& fdt, FdtNode n) const override {
        auto c = fdt.prop_u32(n, "#interrupt-cells");
        return fdt.is_compatible(n, "arm,gic-v3") && c.is_ok() && c.value() == 3;
    }
    uint32_t host_irq_cells() const override { return 3; }
    const char* host_intc_name() const override { return "the host's GICv3"; }
    const char* forwardable_lines() const override { return "host GIC SPIs"; }
    // <type number flags>: the line is the INTID; an SPI keeps the host's trigger flags in the
    // guest (the vGIC's SPI numbering is the host's).
    HostIrq host_irq(const uint32_t* c) const override {
        const uint32_t type = c[0], number = c[1], flags = c[2];
        std::string cellstr = "<" + std::to_string(type) + " " + std::to_string(number) + " " + std::to_string(flags) + ">";
        HostIrq h;
        if (type == GIC_SPI || type == GIC_PPI) {
            h.line = (type == GIC_SPI ? FIRST_SPI : FIRST_PPI) + number;
            h.forwardable = type == GIC_SPI && h.line <= LAST_SPI;
            h.text = (type == GIC_SPI ? "SPI " : "PPI ") + std::to_string(number) + " = INTID " + std::to_string(h.line) +
                     " (" + cellstr + ")";
            h.guest = {type, number, flags};
        } else {
            h.text = "a GIC interrupt of type " + std::to_string(type) + " (" + cellstr + ")";
        }
        return h;
    }
    uint32_t first_free_phandle(const VmConfig&) const override { return guest_dt::FIRST_FREE_PHANDLE; }

    const char* image_kind() const override { return "arm64 Image"; }
    const char* linux_magic() const override { return "ARM\x64"; }
    // Linux Documentation/arch/arm64/booting.rst, "4. Call the kernel image": the Image sits
    // text_offset bytes above a 2 MiB-aligned base, image_size bytes (BSS included) from its start
    // belong to the kernel.
    void check_linux_image(const VmConfig& vm, const LinuxHeader& h, const Report& report) const override {
        const Image& k = vm.kernel;
        if (h.image_size == 0)
            report(k.at, "arm64 Image with image_size 0 (a kernel older than Linux 3.17): its BSS size is "
                         "unknown, only the file's size is kept free for it", true);
        if (k.load_addr < h.text_offset || !is_aligned(k.load_addr - h.text_offset, 2 * MiB))
            report(k.at, "arm64 Image at " + hex(k.load_addr) + ": Linux must be placed text_offset (" +
                             hex(h.text_offset) + ", header offset 0x8) bytes above a 2 MiB-aligned address (arm64 "
                             "booting.rst), e.g. at " + hex(align_up(k.load_addr, 2 * MiB) + h.text_offset),
                   false);
        // flags bit 3 clear: RAM below the 2 MiB-aligned base is not in the kernel's linear map.
        uint64_t base = k.load_addr - h.text_offset;
        if (!(h.flags & 8))
            for (auto& r : vm.regions)
                if (k.load_addr >= r.gpa && k.load_addr < r.gpa + r.size &&
                    base >= align_up(r.gpa, 2 * MiB) + 2 * MiB)
                    report(k.at, "arm64 Image flags bit 3 is 0 (old kernel): it cannot use the " +
                                     num(base - r.gpa) + " bytes of " + r.at.key + " below its base " + hex(base) +
                                     "; load it at " + hex(align_up(r.gpa, 2 * MiB) + h.text_offset), true);
    }

    void dt_root(FdtWriter&, const VmConfig&) const override {}
    bool dt_root_interrupt_parent() const override { return true; } // the GIC, as QEMU virt's tree
    void dt_cpus(FdtWriter& w, const VmConfig& vm) const override {
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
    }
    void dt_platform(FdtWriter& w, const VmConfig& vm) const override {
        if (vm.interrupt_mode == uint32_t(vp::InterruptMode::Emulated)) {
            w.begin(unit("intc", vm.intc_base));
            w.str("compatible", "arm,gic-v3");
            w.u32("#interrupt-cells", 3);
            w.empty("interrupt-controller");
            w.u32("#address-cells", 0); // no ITS child; dtc's interrupt_provider check wants it stated
            const VintcLayout l = gicv3_layout(vm.cpu_num);
            fdt64_t r[4] = {cpu_to_fdt64(vm.intc_base), cpu_to_fdt64(l.window_size[0]), cpu_to_fdt64(vm.intc_base2),
                            cpu_to_fdt64(l.window_size[1])};
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
    }
    std::string dt_uarts(FdtWriter& w, const VmConfig& vm) const override {
        bool gic = vm.interrupt_mode == uint32_t(vp::InterruptMode::Emulated);
        std::string stdout_path;
        bool clock = false;
        for (auto& d : vm.emu_devices) {
            if (d.type != uint32_t(vp::EmuType::Pl011)) continue;
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
        return stdout_path;
    }
    std::vector<uint32_t> dt_irq(uint32_t irq, bool edge) const override {
        return edge ? std::vector<uint32_t>{GIC_SPI, irq - 32, IRQ_EDGE_RISING} : gic_irq(irq);
    }
};

} // namespace

const GuestBoard& board_aarch64() {
    static const Aarch64Board board;
    return board;
}

} // namespace vmconfig
