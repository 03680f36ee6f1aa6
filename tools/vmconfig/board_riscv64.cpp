// The riscv64 guest board: QEMU virt's layout (RAM at 0x8000_0000, the PLIC at 0x0c00_0000, the
// 16550A UART at 0x1000_0000) with an emulated PLIC, SBI for timers, IPIs, harts and power, the
// RISC-V Linux Image boot protocol and cxvisor's RISC-V image header.
#include "abi/vm_package.hpp"
#include "arch/riscv64/dt_platform.hpp"
#include "base/types.hpp"
#include "board.hpp"
#include <cstring>

namespace vmconfig {
extern const uint8_t QEMU_VIRT_RISCV64_DTB[]; // qemu-virt-riscv64.dts, compiled and embedded at build time
extern const size_t QEMU_VIRT_RISCV64_DTB_SIZE;

namespace vp = vm_package;
namespace {

using guest_dt::GIC_PHANDLE, guest_dt::FIRST_FREE_PHANDLE;
constexpr uint32_t PLIC_PHANDLE = GIC_PHANDLE; // the VM's one interrupt controller
// Each hart's local interrupt controller: FIRST_FREE_PHANDLE + hart; host clocks copied for
// passthrough devices come after them (first_free_phandle).
constexpr uint32_t cpu_intc_phandle(uint32_t hart) { return FIRST_FREE_PHANDLE + hart; }
// Local interrupt numbers (scause codes) of riscv,cpu-intc (RISC-V Privileged Spec 20211203,
// 3.1.9 mip/mie and 4.1.3 sip/sie): 9 = supervisor external, 11 = machine external.
constexpr uint32_t IRQ_S_EXT = 9, IRQ_M_EXT = 11;
// QEMU virt's timebase (10 MHz; its DT's /cpus timebase-frequency), the rate of the time CSR
// the guest reads.
constexpr uint32_t TIMEBASE_HZ = 10'000'000;
// The ns16550a's input clock as QEMU virt gives it (its DT's clock-frequency, 0x384000): Linux's
// 8250 driver derives the divisor latch from it.
constexpr uint32_t UART_CLOCK_HZ = 3'686'400;

// Sources 1..1023 (PLIC spec 1.0.0: source 0 is "no interrupt"): vintc/layout.hpp, plic_layout.
constexpr uint32_t LAST_SOURCE = plic_layout(1).first_line + plic_layout(1).max_lines - 1;

// cxvisor's RISC-V image header: the RISC-V Linux Image header (Linux Documentation/riscv/
// boot-image-header.rst) with "CXV\0" in res3 (0x3C) and package_offset in res2 (0x28)
// (src/arch/riscv64 boot code).
constexpr size_t HDR_PACKAGE_OFFSET = 0x28, HDR_MAGIC = 0x30, HDR_MAGIC2 = 0x38,
                 HDR_TAG = 0x3C, HDR_SIZE = 0x40;

constexpr uint32_t NS16550A = uint32_t(vp::EmuType::Ns16550a);

class Riscv64Board final : public GuestBoard {
public:
    Isa isa() const override { return Isa::Riscv64; }

    bool check_image(const Bytes& img, const std::string& name, Diags& diags) const override {
        auto fail = [&](const std::string& why) {
            return diags.push_back({name, 0, "", "not a cxvisor image: " + why}), false;
        };
        if (img.size() < HDR_SIZE) return fail("shorter than the 64-byte RISC-V Image header");
        if (memcmp(&img[HDR_MAGIC2], linux_magic(), 4) != 0 || memcmp(&img[HDR_MAGIC], "RISCV\0\0\0", 8) != 0)
            return fail("no RISC-V Image magic (\"RISCV\" at 0x30, \"RSC\\x05\" at 0x38)");
        if (memcmp(&img[HDR_TAG], "CXV\0", 4) != 0) return fail("a RISC-V Image without the \"CXV\" tag at 0x3c");
        return true;
    }
    size_t package_offset_field() const override { return HDR_PACKAGE_OFFSET; }

    IntcKeys intc_keys() const override { return {"plic_base", nullptr, "plic_sources"}; }
    const char* intc_name() const override { return "PLIC"; }
    // The PLIC's memory map with two contexts per vCPU (2i machine, 2i + 1 supervisor, as QEMU
    // virt's DT numbers them), in the window QEMU virt reserves for it.
    VintcLayout intc_layout(uint32_t vcpus) const override { return plic_layout(vcpus); }
    uint64_t default_intc_base() const override { return 0x0C00'0000; } // QEMU virt's PLIC
    uint64_t default_intc_base2() const override { return 0; }
    std::string intc_base_problem(uint64_t base) const override {
        return is_aligned(base, plic_layout(1).align) ? "" : hex(base) + " is not 4 KiB aligned (the PLIC's register pages)";
    }
    std::string line_problem(uint32_t irq, bool, uint32_t lines) const override {
        if (irq > LAST_SOURCE) return " is not a PLIC source (1..1023)";
        if (lines && irq > lines)
            return " is above the VM's PLIC sources (devices.plic_sources " + std::to_string(lines) + ": 1.." +
                   std::to_string(lines) + "): raise plic_sources";
        return ""; // 0 is "no interrupt" and never gets here
    }
    std::string interrupt_mode_problem(const std::string& mode) const override {
        return mode == "passthrough"
                   ? "\"passthrough\" (the host PLIC handed to the guest) is not implemented by cxvisor: use "
                     "\"emulated\" (a virtual PLIC; passthrough devices' interrupts are forwarded through it) or "
                     "\"no_irq\""
                   : "unknown mode \"" + mode + "\": cxvisor implements \"emulated\" (a virtual PLIC) and \"no_irq\"";
    }
    bool has_device(uint32_t type) const override {
        return type == NS16550A || vp::is_virtio(type);
    }

    bool read_host_platform(const Fdt& fdt, HostDescription& out, std::string& what) const override {
        const char* piece = "?";
        auto plat = read_rv_platform(fdt, CpuSlots::kAnyBootCpu, &piece);
        if (plat.is_error()) return what = std::string(piece) + ": " + error_name(plat.error()), false;
        fill_host(out, plat.value(), plat.value().uart.mmio.base.value(), plat.value().uart.irq);
        return true;
    }
    Bytes builtin_host_dtb() const override {
        return Bytes(QEMU_VIRT_RISCV64_DTB, QEMU_VIRT_RISCV64_DTB + QEMU_VIRT_RISCV64_DTB_SIZE);
    }
    // PLIC binding (sifive,plic-1.0.0.yaml): one cell, the source number; every source 1..1023
    // can be forwarded (the vPLIC numbers its sources as the host does), level-triggered as the
    // PLIC's gateways of QEMU virt are.
    bool is_host_intc(const Fdt& fdt, FdtNode n) const override {
        auto c = fdt.prop_u32(n, "#interrupt-cells");
        return (fdt.is_compatible(n, "sifive,plic-1.0.0") || fdt.is_compatible(n, "riscv,plic0")) && c.is_ok() &&
               c.value() == 1;
    }
    uint32_t host_irq_cells() const override { return 1; }
    const char* host_intc_name() const override { return "the host's PLIC"; }
    const char* forwardable_lines() const override { return "host PLIC sources"; }
    HostIrq host_irq(const uint32_t* c) const override {
        HostIrq h;
        h.line = c[0];
        h.forwardable = c[0] >= 1 && c[0] <= LAST_SOURCE;
        h.text = "PLIC source " + std::to_string(c[0]) + " (<" + std::to_string(c[0]) + ">)";
        h.guest = {c[0]};
        return h;
    }
    uint32_t first_free_phandle(const VmConfig& vm) const override { return FIRST_FREE_PHANDLE + vm.cpu_num; }

    const char* image_kind() const override { return "RISC-V Image"; }
    const char* linux_magic() const override { return "RSC\x05"; }
    // A 64-bit kernel maps itself with 2 MiB pages: it must start 2 MiB-aligned (Linux
    // Documentation/riscv/boot.rst, "Kernel location"; 6.1's setup_vm() stops on a misaligned
    // one). text_offset is where firmware-loaded kernels sit above the start of RAM, not a rule
    // for the load address. It is entered with a0 = hart id, a1 = the DTB.
    void check_linux_image(const VmConfig& vm, const LinuxHeader& h, const Report& report) const override {
        const Image& k = vm.kernel;
        if (h.image_size == 0)
            report(k.at, "RISC-V Image with image_size 0: its BSS size is unknown, only the file's size is kept "
                         "free for it", true);
        if (!is_aligned(k.load_addr, 2 * MiB))
            report(k.at, "RISC-V Image at " + hex(k.load_addr) + ": a 64-bit Linux must be placed at a 2 MiB-aligned "
                             "address (riscv boot.rst), e.g. at " + hex(align_up(k.load_addr, 2 * MiB)), false);
    }

    // Linux 6.1 bindings: Documentation/devicetree/bindings/riscv/cpus.yaml (cpu nodes and their
    // riscv,cpu-intc child), timebase-frequency in /cpus (riscv/cpus.yaml, as QEMU virt).
    void dt_root(FdtWriter&, const VmConfig&) const override {}
    void dt_cpus(FdtWriter& w, const VmConfig& vm) const override {
        w.begin("cpus");
        w.u32("#address-cells", 1);
        w.u32("#size-cells", 0);
        w.u32("timebase-frequency", TIMEBASE_HZ);
        for (uint32_t i = 0; i < vm.cpu_num; ++i) { // reg = the hart id the vCPU boots with (a0): its index
            w.begin(unit("cpu", i));
            w.str("device_type", "cpu");
            w.u32("reg", i);
            w.str("compatible", "riscv");
            // What a vCPU executes natively on QEMU's rv64 with H: RV64GC, and Sstc, so that the
            // guest programs its timer through stimecmp without an SBI call (an exit) per tick;
            // cxvisor sets henvcfg.STCE for it (riscv-notes, "Timer"). No "h": no nested
            // virtualization; nothing the vCPU would trap on (Svpbmt, V) is advertised.
            w.str("riscv,isa", "rv64imafdc_zicsr_zifencei_sstc");
            // The same as the current binding (Linux bindings riscv/extensions.yaml, 6.5+), which
            // Linux prefers: from riscv,isa alone it infers Zicntr and Zihpm for old trees, but the
            // vCPU has only cycle, time and instret (hcounteren CY|TM|IR, vcpu_rules.hpp): the
            // hpmcounters trap. Zicntr is those three.
            w.str("riscv,isa-base", "rv64i");
            w.strs("riscv,isa-extensions", "i\0m\0a\0f\0d\0c\0zicntr\0zicsr\0zifencei\0sstc");
            w.str("mmu-type", "riscv,sv39");
            w.str("status", "okay");
            w.begin("interrupt-controller");
            w.str("compatible", "riscv,cpu-intc");
            w.u32("#interrupt-cells", 1);
            w.u32("#address-cells", 0); // dtc's interrupt_provider check wants it stated
            w.empty("interrupt-controller");
            w.u32("phandle", cpu_intc_phandle(i));
            w.end();
            w.end();
        }
        w.end();
    }
    // The vPLIC (Linux 6.1 bindings interrupt-controller/sifive,plic-1.0.0.yaml). Its contexts are
    // the interrupts-extended entries in order: 2i = vCPU i's M-mode external interrupt (listed
    // so that the numbering matches QEMU virt's PLIC; the vPLIC ignores it), 2i + 1 = its S-mode
    // one, which the guest uses. No poweroff/reboot node: Linux reaches SBI SRST (SBI v2.0, ch.
    // 10) through its SBI driver, which cxvisor answers.
    void dt_platform(FdtWriter& w, const VmConfig& vm) const override {
        if (vm.interrupt_mode != uint32_t(vp::InterruptMode::Emulated)) return;
        w.begin(unit("plic", vm.intc_base));
        w.strs("compatible", "sifive,plic-1.0.0\0riscv,plic0");
        w.reg(vm.intc_base, plic_layout(vm.cpu_num).window_size[0]);
        w.u32("riscv,ndev", vm.intc_lines);
        w.u32("#interrupt-cells", 1);
        w.u32("#address-cells", 0); // dtc's interrupt_provider check wants it stated
        w.empty("interrupt-controller");
        std::vector<uint32_t> ext;
        for (uint32_t i = 0; i < vm.cpu_num; ++i)
            for (uint32_t irq : {IRQ_M_EXT, IRQ_S_EXT}) ext.push_back(cpu_intc_phandle(i)), ext.push_back(irq);
        w.cells("interrupts-extended", ext);
        w.u32("phandle", PLIC_PHANDLE);
        w.end();
    }
    // Linux 6.1 bindings serial/8250.yaml: "ns16550a", byte-wide registers (reg-shift 0, as QEMU virt's).
    std::string dt_uarts(FdtWriter& w, const VmConfig& vm) const override {
        bool plic = vm.interrupt_mode == uint32_t(vp::InterruptMode::Emulated);
        std::string stdout_path;
        for (auto& d : vm.emu_devices) {
            if (d.type != NS16550A) continue;
            std::string node = dt_begin_ns16550(w, d.base, d.length, UART_CLOCK_HZ);
            if (plic && d.irq) {
                w.cells("interrupts", {d.irq});
                w.u32("interrupt-parent", PLIC_PHANDLE);
            }
            w.end();
            if (stdout_path.empty()) stdout_path = "/" + node;
        }
        return stdout_path;
    }
    // One cell, the PLIC source (sifive,plic-1.0.0.yaml); the PLIC has no trigger types (its
    // gateways turn edges and levels into one request each, PLIC spec ch. 5).
    std::vector<uint32_t> dt_irq(uint32_t irq, bool) const override { return {irq}; }
    // No default interrupt-parent at the root: each riscv,cpu-intc node would inherit it, making
    // the hart's own controller a child of the PLIC whose parents it is (Devicetree Spec v0.4,
    // 2.4.1: interrupt-parent is inherited from the tree parent). Linux's of_irq_init() then finds
    // no root controller and panics ("No interrupt controller found"). QEMU virt's riscv tree has
    // none at the root either.
    bool dt_root_interrupt_parent() const override { return false; }
};

} // namespace

const GuestBoard& board_riscv64() {
    static const Riscv64Board board;
    return board;
}

} // namespace vmconfig
