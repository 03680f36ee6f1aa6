// The guest board of each ISA: what cxv-vmconfig knows about the machine a VM of that ISA sees
// (default addresses, the interrupt controller's keys, windows and line numbering, the Linux Image
// header, the generated device tree's CPU, interrupt-controller and UART nodes). One class per ISA,
// each in its own file (board_aarch64.cpp, board_riscv64.cpp); everything else in the tool is
// written once against this interface. A virtual interface because the ISA is chosen at run time
// (--arch, or the --image's header).
#pragma once
#include "fdt/fdt.hpp"
#include "fdt/host_dt.hpp"
#include "vintc/layout.hpp"
#include "vmconfig.hpp"
#include <functional>
#include <stdexcept>
#include <string>
#include <libfdt.h>

namespace vmconfig {

// Writes a device tree with libfdt's sequential-write API: nodes and properties are emitted in
// order, which also makes the output deterministic. #address-cells = #size-cells = 2 for reg().
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
    template <size_t N> void strs(const char* name, const char (&v)[N]) { check(fdt_property(fdt(), name, v, N)); }
    void prop(const char* name, const void* v, size_t len) { check(fdt_property(fdt(), name, v, int(len))); }
    void reg(uint64_t base, uint64_t size) {
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

// "name@addr", the unit-address form of a node name.
std::string unit(const char* name, uint64_t addr);

// One register window of the VM's emulated interrupt controller.
struct IntcWindow {
    std::string name;      // "the vGIC distributor (GICD)", in messages about what it overlaps
    std::string long_name; // the same with its size, where the window itself is checked
    const char* key;       // the [devices] key that moves it
    uint64_t base, size;
};

// A Linux kernel image recognised by its header (the ISA's boot protocol).
struct LinuxHeader {
    uint64_t text_offset = 0, image_size = 0, flags = 0;
};

// One interrupt specifier of a host device, as the host's interrupt controller numbers it.
struct HostIrq {
    uint32_t line = 0;       // the line number a config's irq names (GIC INTID, PLIC source)
    bool forwardable = false; // a line cxvisor can forward to a VM (a GIC SPI, any PLIC source)
    std::string text;        // "SPI 7 = INTID 39 (<0 7 4>)", "PLIC source 11 (<11>)"
    std::vector<uint32_t> guest; // the same line as the guest's `interrupts` value (host trigger kept)
};

// Records a problem of the file being read: error, or warning when `warning`.
using Report = std::function<void(const Where&, std::string reason, bool warning)>;

class GuestBoard {
public:
    virtual ~GuestBoard() = default;
    virtual Isa isa() const = 0;
    const char* name() const { return isa_name(isa()); }

    // ---- the hypervisor image (cxv-vmconfig --image) ----
    // Checks the cxvisor image header of this ISA; compose_image patches it.
    virtual bool check_image(const Bytes& image, const std::string& file, Diags& diags) const = 0;
    virtual size_t package_offset_field() const = 0; // where the header keeps package_offset
    // Whether `image` is a cxvisor image of this ISA (its header's magic; the header is at least
    // 64 bytes, which the caller checked). Default: the ISA's Linux Image magic at 0x38.
    virtual bool is_image(const Bytes& image) const;
    // The image's memory footprint as its header states it (what the image reserves at boot), and
    // its update when the package is appended. Default: the Linux Image header's image_size at 0x10.
    virtual uint64_t image_size(const Bytes& image) const;
    virtual void set_image_size(Bytes& image, uint64_t size) const;
    virtual const char* image_size_field() const { return "image_size at 0x10"; } // for messages

    // ---- the interrupt controller ----
    struct IntcKeys {
        const char* base;  // [devices] key of the first window
        const char* base2; // of the second, or null
        const char* lines; // the number of shared (device) lines
    };
    virtual IntcKeys intc_keys() const = 0;
    virtual const char* intc_name() const = 0; // "GIC", in "a no_irq VM has no GIC"
    // The controller model's layout for `vcpus` vCPUs (src/vintc/layout.hpp, which the image's
    // package checks read too): window sizes and alignment, the line numbers.
    virtual VintcLayout intc_layout(uint32_t vcpus) const = 0;
    virtual uint64_t default_intc_base() const = 0;
    virtual uint64_t default_intc_base2() const = 0;
    // Why `base` (the value of `key`) cannot be a window base, or "".
    virtual std::string intc_base_problem(uint64_t base) const = 0;
    // The VM's windows, named as the layout names them.
    virtual std::vector<IntcWindow> intc_windows(const VmConfig& vm) const;
    // The line count a given `lines` key value is stored as (the key's range is 1..max_lines()):
    // rounded up to the layout's multiple.
    uint32_t max_lines() const { return intc_layout(1).max_lines; }
    uint32_t round_lines(uint64_t given) const;
    // The line count when the key is absent: enough for `highest` (first_line() - 1 if no device
    // has an interrupt), at least one multiple.
    uint32_t default_lines(uint32_t highest) const;
    uint32_t first_line() const { return intc_layout(1).first_line; }
    // Why a device's `irq` is not one of the VM's shared lines (`lines` of them; 0 while unknown),
    // or "". pt: a passthrough device (the host's interrupt, forwarded under the same number).
    virtual std::string line_problem(uint32_t irq, bool pt, uint32_t lines) const = 0;
    // The interrupt_mode message for an unknown or unimplemented mode.
    virtual std::string interrupt_mode_problem(const std::string& mode) const = 0;
    // The emulated device types the board's device tree can describe.
    virtual bool has_device(uint32_t emu_type) const = 0;
    // Whether the board has an I/O port space beside memory (x86), where "ns16550a-port" devices
    // sit (vm_package::DeviceSpace::Port).
    virtual bool has_port_space() const { return false; }
    // Whether the board has an emulated interrupt controller model (interrupt_mode "emulated").
    virtual bool has_intc() const { return true; }

    // ---- the host (host.cpp, ptdt.cpp) ----
    // Runs the image's own platform reader of this ISA on a host DTB and fills `out` with what the
    // image would refuse to give a VM (owned ranges, incomplete) and cxvisor's console (its range
    // and line). False with *what naming the piece when cxvisor cannot boot on that DTB.
    virtual bool read_host_platform(const Fdt& fdt, HostDescription& out, std::string& what) const = 0;
    // QEMU virt's DTB for this ISA, built into the tool: the host when no --host-dtb is given.
    virtual Bytes builtin_host_dtb() const = 0;
    // The host interrupt controller whose lines passthrough devices forward: the node test, its
    // specifier size (#interrupt-cells), its name in messages, and one specifier decoded.
    virtual bool is_host_intc(const Fdt& fdt, FdtNode n) const = 0;
    virtual uint32_t host_irq_cells() const = 0;
    virtual const char* host_intc_name() const = 0;  // "the host's GICv3"
    virtual const char* forwardable_lines() const = 0; // "host GIC SPIs"
    virtual HostIrq host_irq(const uint32_t* cells) const = 0;
    // The first phandle the generated tree leaves free (copied host clocks take the next ones).
    virtual uint32_t first_free_phandle(const VmConfig& vm) const = 0;

    // ---- the kernel ----
    // A Linux Image of both ISAs starts with the same 64-byte header layout (text_offset at 0x8,
    // image_size at 0x10, flags at 0x18) and has its ISA's 4-byte magic at 0x38 (arm64 "ARM\x64",
    // RISC-V "RSC\x05"); it is entered at its first byte (checked by the caller).
    virtual const char* image_kind() const = 0;  // "arm64 Image"
    virtual const char* linux_magic() const = 0; // the 4 bytes at 0x38
    // The header fields of a Linux Image of this ISA, or nothing for another kind of kernel.
    std::optional<LinuxHeader> linux_header(const Bytes& kernel) const;
    // The boot protocol's rules for where the Image sits (vm.kernel, which has a load address).
    virtual void check_linux_image(const VmConfig& vm, const LinuxHeader& h, const Report& report) const = 0;

    // ---- the generated device tree (generate_dtb calls these in this order) ----
    virtual void dt_root(FdtWriter& w, const VmConfig& vm) const = 0;       // root properties after the cells
    virtual void dt_cpus(FdtWriter& w, const VmConfig& vm) const = 0;       // /cpus
    virtual void dt_platform(FdtWriter& w, const VmConfig& vm) const = 0;   // interrupt controller, timer, firmware
    virtual std::string dt_uarts(FdtWriter& w, const VmConfig& vm) const = 0; // UART nodes; the stdout-path
    // The `interrupts` value of a device raising shared line `irq` (level-high unless `edge`).
    virtual std::vector<uint32_t> dt_irq(uint32_t irq, bool edge) const = 0;
    // Whether the root names the VM's interrupt controller as every node's default
    // interrupt-parent; else each node with `interrupts` names it itself.
    virtual bool dt_root_interrupt_parent() const = 0;
};

// What a board without an interrupt controller model, a host DTB reader or a Linux boot protocol
// has (x86_64 and loongarch64 today): "no_irq" VMs only, flat kernels entered at entry_point,
// a host description the tool cannot complete (identical and reserved regions and passthrough
// devices refused), and a device tree with no platform node.
class GuestBoardWithoutIntc : public GuestBoard {
public:
    bool has_intc() const override { return false; }
    IntcKeys intc_keys() const override { return {nullptr, nullptr, nullptr}; }
    const char* intc_name() const override { return "interrupt controller"; }
    VintcLayout intc_layout(uint32_t) const override {
        return {"none", 0, {nullptr, nullptr}, {0, 0}, 0x1000, 1, 1, 1, "lines"};
    }
    uint64_t default_intc_base() const override { return 0; }
    uint64_t default_intc_base2() const override { return 0; }
    bool read_host_platform(const Fdt&, HostDescription& out, std::string&) const override {
        out.incomplete = true;
        return true;
    }
    Bytes builtin_host_dtb() const override;
    bool is_host_intc(const Fdt&, FdtNode) const override { return false; }
    uint32_t host_irq_cells() const override { return 1; }
    uint32_t first_free_phandle(const VmConfig&) const override { return guest_dt::FIRST_FREE_PHANDLE; }
    const char* linux_magic() const override { return "\xff\xff\xff\xff"; } // no flat image starts so at 0x38
    void check_linux_image(const VmConfig&, const LinuxHeader&, const Report&) const override {}
    void dt_root(FdtWriter&, const VmConfig&) const override {}
    void dt_platform(FdtWriter&, const VmConfig&) const override {}
    std::vector<uint32_t> dt_irq(uint32_t irq, bool) const override { return {irq}; }
    bool dt_root_interrupt_parent() const override { return false; }
};

// Opens a 16550 node "serial@base" (Linux bindings serial/8250.yaml: "ns16550a", byte-wide
// registers, reg-shift 0, as QEMU's boards have them) and returns its name; the caller adds its
// interrupt, if any, and closes it.
std::string dt_begin_ns16550(FdtWriter& w, uint64_t base, uint64_t size, uint32_t clock_hz);

// The part of read_host_platform every ISA shares: the image's owned list (and whether it is
// complete) into `host`, and the node of the console at `console_base` with its line.
void fill_host(HostDescription& host, const DtHostInfo& info, uint64_t console_base, uint32_t console_line);

// The board of an ISA (every ISA of vm_package::Isa has one; null for an unknown value).
const GuestBoard* guest_board(Isa isa);
const GuestBoard& board_aarch64();
const GuestBoard& board_riscv64();
const GuestBoard& board_x86_64();
const GuestBoard& board_loongarch64();

} // namespace vmconfig
