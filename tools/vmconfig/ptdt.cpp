// Passthrough devices and the host device tree: a device's host DT node copied into the generated
// guest tree (its `dt_node`), and its irq checked against the interrupt the host DTB gives it.
// The host tree is read with the image's own FDT reader (src/fdt/fdt.hpp), the one read_host()
// already ran on it. Bindings followed: devicetree spec v0.4 2.3 (reg, ranges, phandle), 2.4
// (interrupts, interrupt-parent, interrupts-extended); Linux bindings arm,gic-v3.yaml (the
// 3-cell specifier), sifive,plic-1.0.0.yaml (the 1-cell one; the board decodes them) and
// clock/fixed-clock.yaml.
#include "abi/vm_package.hpp"
#include "board.hpp"
#include "fdt/fdt.hpp"
#include "vmconfig.hpp"
#include <algorithm>
#include <cstring>
#include <map>
#include <set>
#include <string_view>

namespace vmconfig {
namespace {

constexpr int MAX_DEPTH = 16; // subnode levels a copy follows (read_platform's walk stops there too)

std::string num(uint64_t v) { return std::to_string(v); }
std::string quote(std::string_view s) { return "\"" + std::string(s) + "\""; }
bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
bool ends_with(std::string_view s, std::string_view p) { return s.size() >= p.size() && s.substr(s.size() - p.size()) == p; }

void put32(Bytes& b, uint32_t v) {
    for (int i = 3; i >= 0; --i) b.push_back(uint8_t(v >> (8 * i)));
}
void put64(Bytes& b, uint64_t v) { put32(b, uint32_t(v >> 32)), put32(b, uint32_t(v)); }
Bytes cells(std::initializer_list<uint32_t> v) {
    Bytes b;
    for (uint32_t c : v) put32(b, c);
    return b;
}

// The interrupts a host node raises, as specifiers of the host's interrupt controller (the
// board's); `problem` when they are not that.
struct HostIrqs {
    std::vector<HostIrq> specs;
    std::string problem;
};

// Properties a copied node may not keep, and why: they tie the device to host resources a guest
// cannot have, or refer to host nodes by phandle (a phandle the guest tree does not define would
// be dangling). `clocks` is resolved instead (fixed clocks are copied); the interrupt properties
// are rewritten.
std::string refused(std::string_view p) {
    auto in = [&](std::initializer_list<std::string_view> l) { return std::find(l.begin(), l.end(), p) != l.end(); };
    if (in({"iommus", "iommu-map", "iommu-map-mask"}))
        return "the device sits behind the host's IOMMU, which cxvisor does not give a guest";
    if (in({"msi-parent", "msi-map", "msi-map-mask"}))
        return "the device signals MSIs to the host's MSI controller (ITS, GICv2m), which the guest's vGIC does not have";
    if (in({"dmas", "dma-ranges"}))
        return "the device masters DMA (or uses a host DMA controller): no IOMMU confines it to the guest";
    if (p == "memory-region") return "it names host reserved memory, which the guest does not have";
    if (p == "ranges")
        return "the node maps its children's addresses to host addresses, which cxvisor does not rewrite";
    bool pinctrl = starts_with(p, "pinctrl-") && p.size() > 8 &&
                   std::all_of(p.begin() + 8, p.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (pinctrl || ends_with(p, "-gpios") || ends_with(p, "-gpio") || ends_with(p, "-supply") ||
        in({"gpios", "resets", "power-domains", "phys", "mboxes", "interconnects", "nvmem-cells", "assigned-clocks",
            "assigned-clock-parents", "operating-points-v2", "thermal-sensors", "io-channels", "sound-dai"}))
        return "it refers to other host nodes by phandle; cxvisor copies only `clocks` that name a fixed-clock, "
               "and a guest tree must not hold a phandle that names nothing";
    return "";
}

// The host DTB, read once per use (it was validated by read_host).
class HostTree {
public:
    static std::optional<HostTree> open(const HostDescription& host) {
        auto f = Fdt::create(host.dtb.data(), host.dtb.size());
        if (f.is_error() || !host.board) return {};
        return HostTree(f.value(), *host.board);
    }

    const Fdt& fdt() const { return m_fdt; }

    std::string path(FdtNode n) const { // "/pl061@9030000"
        std::string p;
        for (;;) {
            auto up = m_fdt.parent(n);
            if (up.is_error()) return p.empty() ? "/" : p;
            p = "/" + std::string(m_fdt.name(n)) + p;
            n = up.value();
        }
    }
    std::string compatible(FdtNode n) const {
        auto c = m_fdt.prop_string(n, "compatible");
        return c.is_ok() ? c.value() : "none";
    }

    // The CPU physical address of n's first reg entry.
    std::optional<uint64_t> base(FdtNode n) const {
        auto reg = m_fdt.reg(n);
        if (reg.is_error() || reg.value().count() == 0) return {};
        auto a = m_fdt.translate(n, reg.value()[0].base);
        if (a.is_error()) return {};
        return a.value();
    }
    // Device nodes whose first reg entry starts in [b, b + size): the devices a passthrough window shows.
    std::vector<FdtNode> nodes_in(uint64_t b, uint64_t size) const {
        std::vector<FdtNode> out;
        for (FdtNode n : m_fdt.nodes()) {
            auto dt = m_fdt.prop_string(n, "device_type");
            if (n == m_fdt.root() || (dt.is_ok() && strcmp(dt.value(), "memory") == 0)) continue;
            if (auto a = base(n); a && *a >= b && *a - b < size) out.push_back(n);
        }
        return out;
    }

    // Spec 2.4.1: `interrupt-parent`, else the tree parent, up to a node with #interrupt-cells.
    std::optional<FdtNode> interrupt_parent(FdtNode n) const {
        for (int hops = 0; hops < 64; ++hops) { // the limit ends phandle loops
            auto ph = m_fdt.prop_u32(n, "interrupt-parent");
            auto next = ph.is_ok() ? m_fdt.find_phandle(ph.value()) : m_fdt.parent(n);
            if (next.is_error()) return {};
            n = next.value();
            if (m_fdt.prop(n, "#interrupt-cells").is_ok()) return n;
        }
        return {};
    }
    // `interrupts` (with the node's interrupt parent) or `interrupts-extended` (a parent per
    // specifier); every parent must be the host's interrupt controller (the board's: the GICv3,
    // the PLIC).
    HostIrqs irqs(FdtNode n) const {
        HostIrqs out;
        auto ext = m_fdt.prop(n, "interrupts-extended");
        auto plain = m_fdt.prop(n, "interrupts");
        if (ext.is_error() && plain.is_error()) return out;
        FdtProp p = ext.is_ok() ? ext.value() : plain.value();
        FdtCells c{p.data, p.size / 4};
        const uint32_t cells = m_board->host_irq_cells();
        auto not_intc = [&](std::optional<FdtNode> parent) {
            out.problem = parent ? "their interrupt controller is " + path(*parent) + " (compatible " +
                                       quote(compatible(*parent)) + "), not " + m_board->host_intc_name()
                                 : "their interrupt controller cannot be found (no node with #interrupt-cells through "
                                   "interrupt-parent or the node's ancestors)";
            return out;
        };
        if (p.size % 4) return out.problem = "the property is not a list of 32-bit cells", out;
        auto spec = [&](uint32_t at) {
            uint32_t v[4] = {};
            for (uint32_t k = 0; k < cells && k < 4; ++k) v[k] = c[at + k];
            return m_board->host_irq(v);
        };
        if (ext.is_error()) {
            auto parent = interrupt_parent(n);
            if (!parent || !m_board->is_host_intc(m_fdt, *parent)) return not_intc(parent);
            if (c.count == 0 || c.count % cells)
                return out.problem = "not a list of " + num(cells) + "-cell specifiers of " + m_board->host_intc_name(), out;
            for (uint32_t i = 0; i < c.count; i += cells) out.specs.push_back(spec(i));
            return out;
        }
        for (uint32_t i = 0; i < c.count; i += 1 + cells) {
            auto parent = m_fdt.find_phandle(c[i]);
            if (parent.is_error() || !m_board->is_host_intc(m_fdt, parent.value()))
                return not_intc(parent.is_ok() ? std::optional(parent.value()) : std::nullopt);
            if (i + cells >= c.count) return out.problem = "interrupts-extended ends inside a specifier", out;
            out.specs.push_back(spec(i + 1));
        }
        return out;
    }

private:
    HostTree(const Fdt& f, const GuestBoard& board) : m_fdt(f), m_board(&board) {}
    Fdt m_fdt;
    const GuestBoard* m_board;
};

// One passthrough device's node and the fixed clocks it names, copied into vm.dt_copies.
class Copier {
public:
    Copier(VmConfig& vm, const HostTree& tree, const HostDescription& host, Diags& diags)
        : m_vm(vm), m_tree(tree), m_host(host), m_diags(diags) {
        auto pl011 = [](const EmuDev& e) { return e.type == uint32_t(vm_package::EmuType::Pl011); };
        m_apb_pclk = std::any_of(vm.emu_devices.begin(), vm.emu_devices.end(), pl011);
        for (const char* n : {"cpus", "psci", "chosen", "timer", "aliases"}) m_names.insert(n);
        if (m_apb_pclk) m_names.insert("apb-pclk");
    }

    void copy(const PtDev& d) {
        m_dev = &d;
        m_ok = true;
        const Fdt& fdt = m_tree.fdt();
        FdtNode node;
        if (!d.dt_path.empty()) {
            auto n = fdt.find_path(d.dt_path.c_str());
            if (n.is_error()) return fail(quote(d.dt_path), "no such node in the host DTB (" + m_host.source + ")");
            node = n.value();
        } else {
            auto found = m_tree.nodes_in(d.base_hpa, d.length);
            std::string window = range(d.base_hpa, d.length) + " (base_hpa, length)";
            if (found.empty())
                return fail("= true", "the host DTB has no node whose reg starts in " + window + " (" + m_host.source + ")");
            if (found.size() > 1) {
                std::string all;
                for (FdtNode n : found) all += (all.empty() ? "" : ", ") + m_tree.path(n);
                return fail("= true", num(found.size()) + " host nodes have reg in " + window + ": " + all +
                                        "; name the one to copy, e.g. dt_node = " + quote(m_tree.path(found[0])));
            }
            node = found[0];
        }
        m_path = m_tree.path(node);
        if (!fdt.is_enabled(node)) // copied as it is: the board says the device is not usable
            m_diags.push_back({m_vm.file, d.at.line, d.at.key,
                               "dt_node " + m_path + ": the host node is disabled (status), and so is "
                               "its copy: the guest will not use the device",
                               0, true});
        DtNode out;
        auto gpa = top_props(node, out);
        std::string name = fdt.name(node);
        out.name = name.substr(0, name.find('@')) + (gpa ? "@" + hex(*gpa).substr(2) : "");
        for (FdtNode c : fdt.children(node)) out.children.push_back(sub_node(c, 1));
        if (m_ok) m_vm.dt_copies.push_back(std::move(out));
    }

private:
    void fail(const std::string& what, const std::string& why) {
        m_diags.push_back({m_vm.file, m_dev->at.line, m_dev->at.key, "dt_node " + what + ": " + why});
        m_ok = false;
    }
    void fail(const std::string& why) { fail(m_path, why); }
    // Properties every copied node shares: refused ones, phandles (dropped: the host's numbering
    // means nothing in the guest tree, and nothing there refers to them), clocks. True when the
    // caller still has to place the property.
    bool common(const FdtProp& p, DtNode& out) {
        std::string_view name = p.name;
        if (name == "phandle" || name == "linux,phandle") return false;
        if (auto why = refused(name); !why.empty()) return fail(std::string(name) + ": refused: " + why), false;
        if (name == "clocks") return out.props.push_back({"clocks", clocks(p)}), false;
        return true;
    }

    // The device node: reg to the guest address, interrupts to the VM's line. Returns the guest
    // address of its first reg entry (the unit address of its name).
    std::optional<uint64_t> top_props(FdtNode node, DtNode& out) {
        std::optional<uint64_t> first;
        bool has_reg = false;
        for (FdtProp p : m_tree.fdt().props(node)) {
            std::string_view name = p.name;
            if (!common(p, out)) continue;
            if (name == "reg") {
                has_reg = true;
                out.props.push_back({"reg", reg(node, first)});
            } else if (name == "interrupts" || name == "interrupts-extended") {
                interrupts(node, out);
            } else if (name != "interrupt-parent") { // rewritten with the interrupts
                out.props.push_back({p.name, Bytes(p.data, p.data + p.size)});
            }
        }
        if (!has_reg) fail("the node has no reg: not a device a passthrough window can show");
        HostIrqs h = m_tree.irqs(node);
        if (h.specs.empty() && h.problem.empty() && m_dev->irq)
            fail("irq " + num(m_dev->irq) + " does not match the host node, which has no interrupts: use irq 0");
        return first;
    }

    // Every reg entry, translated to a host CPU address, must lie in the passthrough window; it
    // moves with it to base_gpa, written with the guest root's #address-cells = #size-cells = 2.
    Bytes reg(FdtNode node, std::optional<uint64_t>& first) {
        Bytes out;
        auto reg = m_tree.fdt().reg(node);
        if (reg.is_error()) return fail("reg: cannot be read (malformed, or cells wider than 64 bits)"), out;
        const PtDev& d = *m_dev;
        for (uint32_t i = 0; i < reg.value().count(); ++i) {
            FdtRange r = reg.value()[i];
            auto a = m_tree.fdt().translate(node, r.base);
            if (a.is_error()) return fail("reg entry " + num(i) + " is not a CPU physical address"), out;
            uint64_t hpa = a.value();
            if (hpa < d.base_hpa || hpa - d.base_hpa > d.length || r.size > d.length - (hpa - d.base_hpa))
                return fail("reg entry " + num(i) + " " + range(hpa, r.size) + " lies outside the passthrough window " +
                            range(d.base_hpa, d.length) + " (base_hpa, length): the guest could not reach it"),
                       out;
            uint64_t gpa = d.base_gpa + (hpa - d.base_hpa);
            if (!first) first = gpa;
            put64(out, gpa), put64(out, r.size);
        }
        return out;
    }

    // The one interrupt the device forwards, as the same line of the VM's interrupt controller (the
    // vGIC's SPI, the vPLIC's source) with the host's trigger flags.
    void interrupts(FdtNode node, DtNode& out) {
        HostIrqs h = m_tree.irqs(node);
        uint32_t irq = m_dev->irq;
        const GuestBoard& board = *m_host.board;
        if (!h.problem.empty()) return fail("interrupts: " + h.problem + "; cxvisor forwards " + board.forwardable_lines() + " only");
        if (h.specs.size() != 1) {
            std::string all;
            for (auto& s : h.specs) all += (all.empty() ? "" : ", ") + s.text;
            return fail("the host node has " + num(h.specs.size()) + " interrupts (" + all +
                        "): cxvisor forwards one interrupt per passthrough device");
        }
        const HostIrq& s = h.specs[0];
        if (!s.forwardable)
            return fail("its interrupt is " + s.text + ": cxvisor forwards " + board.forwardable_lines() + " only");
        if (s.line != irq)
            return fail("irq " + num(irq) + (irq ? "" : " (none)") + " does not match the host node's interrupt, " +
                        s.text + ": set irq = " + num(s.line) +
                        (irq ? "" : " (a copied node must not describe an interrupt the guest never gets)"));
        if (m_vm.interrupt_mode != uint32_t(vm_package::InterruptMode::Emulated))
            return fail("the host node has an interrupt, but the guest has no interrupt controller (interrupt_mode = "
                        "\"no_irq\"): use \"emulated\"");
        out.props.push_back({"interrupt-parent", cells({guest_dt::GIC_PHANDLE})});
        Bytes spec;
        for (uint32_t v : s.guest) put32(spec, v);
        out.props.push_back({"interrupts", spec});
    }

    // Subnodes (e.g. a controller's ports) are copied as they are: their reg is in the device's
    // own address space. They may not have interrupts of their own: one per device is forwarded.
    DtNode sub_node(FdtNode node, int depth) {
        DtNode out{m_tree.fdt().name(node), {}, {}};
        if (depth > MAX_DEPTH)
            return fail("subnode " + m_tree.path(node) + " is nested deeper than " + num(MAX_DEPTH) +
                        " levels: not copied"),
                   out;
        for (FdtProp p : m_tree.fdt().props(node)) {
            std::string_view name = p.name;
            if (!common(p, out)) continue;
            if (name == "interrupts" || name == "interrupts-extended" || name == "interrupt-parent")
                fail("subnode " + m_tree.path(node) + " has " + p.name +
                     ": cxvisor forwards one interrupt per passthrough device, the device node's");
            else
                out.props.push_back({p.name, Bytes(p.data, p.data + p.size)});
        }
        for (FdtNode c : m_tree.fdt().children(node)) out.children.push_back(sub_node(c, depth + 1));
        return out;
    }

    // `clocks` = (phandle, #clock-cells arguments)...: each must name a fixed-clock, which the
    // guest tree gets a copy of (once per host clock) under a new phandle.
    Bytes clocks(const FdtProp& p) {
        Bytes out;
        const Fdt& fdt = m_tree.fdt();
        FdtCells c{p.data, p.size / 4};
        for (uint32_t i = 0; i < c.count;) {
            auto n = fdt.find_phandle(c[i]);
            if (n.is_error()) return fail("clocks: phandle " + hex(c[i]) + " names no node of the host DTB"), out;
            auto args = fdt.prop_u32(n.value(), "#clock-cells");
            if (!fdt.is_compatible(n.value(), "fixed-clock") || args.is_error() || args.value() != 0)
                return fail("clocks: refused: it names " + m_tree.path(n.value()) + " (compatible " +
                            quote(m_tree.compatible(n.value())) + "), which is not a fixed-clock; cxvisor copies "
                            "only fixed clocks (a guest cannot drive the host's clock controller)"),
                       out;
            put32(out, clock(n.value()));
            i += 1;
        }
        return out;
    }
    uint32_t clock(FdtNode n) {
        const Fdt& fdt = m_tree.fdt();
        if (auto known = m_clocks.find(n.offset); known != m_clocks.end()) return known->second;
        std::string name = fdt.name(n);
        auto hz = fdt.prop_u32(n, "clock-frequency");
        // The PL011s' generated /apb-pclk is the same clock as QEMU virt's: share it.
        if (m_apb_pclk && name == "apb-pclk" && hz.is_ok() && hz.value() == guest_dt::APB_PCLK_HZ)
            return m_clocks[n.offset] = guest_dt::APB_PCLK_PHANDLE;
        uint32_t phandle = m_host.board->first_free_phandle(m_vm) + m_copied_clocks++;
        if (m_names.count(name)) name += "-" + num(phandle);
        m_names.insert(name);
        DtNode out{name, {}, {}};
        for (FdtProp p : fdt.props(n))
            if (common(p, out)) out.props.push_back({p.name, Bytes(p.data, p.data + p.size)});
        out.props.push_back({"phandle", cells({phandle})});
        m_vm.dt_copies.push_back(std::move(out));
        return m_clocks[n.offset] = phandle;
    }

    VmConfig& m_vm;
    const HostTree& m_tree;
    const HostDescription& m_host;
    Diags& m_diags;
    const PtDev* m_dev = nullptr;
    std::string m_path;
    bool m_ok = true;
    bool m_apb_pclk = false;           // the generated tree has /apb-pclk (the VM has a PL011)
    std::map<uint32_t, uint32_t> m_clocks; // host clock node offset -> guest phandle
    uint32_t m_copied_clocks = 0;
    std::set<std::string> m_names;     // names taken in the guest root (for copied clocks)
};

} // namespace

void copy_dt_nodes(VmConfig& vm, const HostDescription* host, Diags& diags) {
    std::optional<HostTree> tree;
    if (host && !host->builtin) tree = HostTree::open(*host);
    std::optional<Copier> copier;
    if (tree) copier.emplace(vm, *tree, *host, diags);
    for (auto& d : vm.pt_devices) {
        if (!d.dt_copy) continue;
        if (!copier)
            diags.push_back({vm.file, d.at.line, d.at.key,
                             "dt_node: copying a host DT node needs the host's DTB: pass --host-dtb FILE (e.g. "
                             "QEMU's -M virt,...,dumpdtb=FILE; the built-in QEMU virt description has no device "
                             "nodes to copy)"});
        else
            copier->copy(d);
    }
}

void check_pt_irqs(const VmConfig& vm, const HostDescription& host, Diags& diags) {
    auto tree = HostTree::open(host);
    if (!tree) return;
    for (auto& d : vm.pt_devices) {
        // irq 0 forwards nothing; a copied node was checked against its interrupt when copied;
        // SGIs and PPIs are refused by the VM's own checks.
        if (d.irq < host.board->first_line() || d.dt_copy) continue;
        auto report = [&](std::string why, bool warning) {
            diags.push_back({vm.file, d.at.line, d.at.key, std::move(why) + " (" + host.source + ")", 0, warning});
        };
        if (d.irq == host.console_intid) {
            report("irq " + num(d.irq) + " is the interrupt of " + host.console_node +
                       ", cxvisor's console UART: the host keeps it",
                   false);
            continue;
        }
        auto found = tree->nodes_in(d.base_hpa, d.length);
        auto raises = [&](FdtNode n) {
            auto h = tree->irqs(n);
            return std::any_of(h.specs.begin(), h.specs.end(),
                               [&](const HostIrq& s) { return s.forwardable && s.line == d.irq; });
        };
        if (std::any_of(found.begin(), found.end(), raises)) continue;
        std::string me = "irq " + num(d.irq);
        if (found.empty()) {
            report(me + " cannot be shown to be the device's: the host DTB has no node whose reg starts in " +
                       range(d.base_hpa, d.length) + " (base_hpa, length)",
                   host.builtin);
            continue;
        }
        HostIrqs h = tree->irqs(found[0]);
        std::string has = !h.problem.empty() ? std::string("its interrupts are not ") + host.board->forwardable_lines() +
                                                   ": " + h.problem
                          : h.specs.empty()  ? "it has none: use irq 0"
                                             : "it raises " + h.specs[0].text + ": use irq " + num(h.specs[0].line);
        report(me + " is not the interrupt of host node " + tree->path(found[0]) + " (" + has + ")", host.builtin);
    }
}

} // namespace vmconfig
