// What every ISA's host platform reader (arch/<isa>/dt_platform.cpp) reads the same way from the
// host DTB: RAM, firmware-reserved ranges, the console UART named by stdout-path, and the list of
// host-physical ranges no VM may be given (RAM banks, what cxvisor drives, DMA-capable devices).
// The ISA part adds its CPUs, interrupt controller and timer, and classifies its own device nodes
// in the owned walk. Bindings: devicetree spec v0.4 sections 2.3.6 (reg), 2.3.8 (ranges), 3.4
// (memory), 3.5 (reserved-memory), 3.6 (chosen); fdt/dma_capable.hpp for DMA-capable nodes.
// Header-only: the image, cxv-vmconfig and the unit tests all compile the readers.
#pragma once
#include "addrspace/addr.hpp" // PhysRange
#include "base/string.hpp"
#include "fdt/dma_capable.hpp"
#include "fdt/fdt.hpp"

// A host-physical range no VM may be given (passthrough device, reserved region), and why: the
// boot log and cxv-vmconfig name `node` and `why` when they refuse one.
enum class OwnedKind : u8 {
    Ram,        // a /memory bank: cxvisor's and the VMs' memory (identical regions come from here)
    HostDevice, // what cxvisor (or the firmware below it) drives: interrupt controller, console UART
    DmaCapable, // a bus master or IOMMU (fdt/dma_capable.hpp): reaches host memory on its own
};
struct OwnedRange {
    PhysRange range;
    OwnedKind kind = OwnedKind::HostDevice;
    const char* node = ""; // the DTB node's name ("virtio_mmio@a000000"): points into the DTB
    const char* why = "";  // static text, e.g. "a DMA-capable device (virtio,mmio): cxvisor programs..."
};

// The ISA-independent part of a platform description (each ISA's PlatformInfo derives from it).
struct DtHostInfo {
    static constexpr u32 kMaxRam = 8, kMaxReserved = 16;
    static constexpr u32 kMaxOwned = 96; // QEMU virt needs 42 (32 of them virtio-mmio slots)

    PhysRange ram[kMaxRam];            // every reg entry of every enabled /memory node, DT order
    u32 ram_count = 0;
    bool ram_truncated = false;        // more than kMaxRam entries: the rest is left unused
    PhysRange reserved[kMaxReserved];  // /memreserve/ entries, then /reserved-memory children's reg
    u32 reserved_count = 0;

    // Everything no VM may be given, DT order. More than kMaxOwned ranges, a PCI bridge whose
    // windows cannot be read, a bus whose cell counts are malformed or nodes nested deeper than the
    // walk goes (16): the list is incomplete, so no host range can be shown safe and every
    // passthrough device and reserved region must be refused (not a boot failure: VMs without
    // them still run).
    OwnedRange owned[kMaxOwned];
    u32 owned_count = 0;
    bool owned_incomplete = false;
};

// Reading helpers shared by the ISAs' readers. Errors record the failing piece in *what.
struct DtHostReader {
    const Fdt& fdt;
    const char** what;

    Error fail(Error e, const char* piece) const {
        if (what) *what = piece;
        return e;
    }
    template <typename T> Result<T> check(Result<T> r, const char* piece) const {
        if (r.is_error()) fail(r.error(), piece);
        return r;
    }

    // A reg entry of n as a CPU physical range.
    Result<PhysRange> to_phys(FdtNode n, FdtRange r, const char* piece) const {
        u64 base = TRY(check(fdt.translate(n, r.base), piece));
        return PhysRange{HostPhysAddr(base), r.size};
    }

    // reg[first .. first + count) of n.
    Result<void> reg_ranges(FdtNode n, u32 first, u32 count, PhysRange* out, const char* piece) const {
        FdtReg reg = TRY(check(fdt.reg(n), piece));
        if (first + count > reg.count()) return fail(Error::NotFound, piece);
        for (u32 i = 0; i < count; ++i) out[i] = TRY(to_phys(n, reg[first + i], piece));
        return {};
    }

    bool has_string(FdtNode n, const char* prop, const char* value) const {
        auto s = fdt.prop_string(n, prop);
        return s.is_ok() && strcmp(s.value(), value) == 0;
    }

    Result<FdtNode> find_enabled(const char* compat) const {
        FdtNode n{};
        for (;;) {
            n = TRY(fdt.find_compatible(compat, n));
            if (fdt.is_enabled(n)) return n;
        }
    }

    // Walks up from n to its interrupt parent (spec 2.4.1): `interrupt-parent`, else the tree
    // parent, until a node with #interrupt-cells; the hop limit stops phandle loops. `known` /
    // `known_phandle` short-cut the usual answer (saves a whole-tree phandle search).
    Result<FdtNode> interrupt_parent(FdtNode n, FdtNode known, u32 known_phandle, const char* piece) const {
        FdtNode p = n;
        for (u32 hops = 0;; ++hops) {
            if (hops == 64) return fail(Error::BadFormat, piece);
            auto ph = fdt.prop_u32(p, "interrupt-parent");
            if (ph.is_ok() && known_phandle && ph.value() == known_phandle) p = known;
            else if (ph.is_ok()) p = TRY(check(fdt.find_phandle(ph.value()), piece));
            else p = TRY(check(fdt.parent(p), piece));
            if (fdt.prop(p, "#interrupt-cells").is_ok()) return p;
        }
    }

    Result<void> read_memory(DtHostInfo& info) const {
        for (FdtNode n : fdt.children(fdt.root())) {
            if (!has_string(n, "device_type", "memory") || !fdt.is_enabled(n)) continue;
            FdtReg reg = TRY(check(fdt.reg(n), "/memory reg"));
            for (u32 i = 0; i < reg.count(); ++i) {
                if (reg[i].size == 0) continue;
                if (info.ram_count == DtHostInfo::kMaxRam) { // unused RAM is harmless
                    info.ram_truncated = true;
                    break;
                }
                info.ram[info.ram_count++] = TRY(to_phys(n, reg[i], "/memory reg"));
            }
        }
        if (info.ram_count == 0) return fail(Error::NotFound, "RAM (/memory with device_type \"memory\")");
        return {};
    }

    Result<void> add_reserved(DtHostInfo& info, PhysRange r) const {
        if (r.size == 0) return {};
        // Dropping a reserved range would hand firmware memory out: fail instead of truncating.
        if (info.reserved_count == DtHostInfo::kMaxReserved)
            return fail(Error::NoMemory, "reserved ranges (more than 16)");
        info.reserved[info.reserved_count++] = r;
        return {};
    }

    Result<void> read_reserved(DtHostInfo& info) const {
        for (u32 i = 0; i < fdt.mem_reserve_count(); ++i)
            TRY(add_reserved(info, {HostPhysAddr(fdt.mem_reserve(i).base), fdt.mem_reserve(i).size}));
        auto rm = fdt.find_path("/reserved-memory");
        if (rm.is_error()) return {};
        // Children without reg only ask the OS to allocate a pool (spec 3.5.2): nothing fixed.
        for (FdtNode n : fdt.children(rm.value())) {
            auto reg = fdt.reg(n);
            if (reg.is_error() && reg.error() == Error::NotFound) continue;
            TRY(check(reg, "/reserved-memory reg"));
            for (u32 i = 0; i < reg.value().count(); ++i)
                TRY(add_reserved(info, TRY(to_phys(n, reg.value()[i], "/reserved-memory reg"))));
        }
        return {};
    }

    // The console UART: /chosen's stdout-path (spec 3.6: a path or alias; a ':' ends it and starts
    // UART options) if it names an enabled node compatible with `compat`, else the first such node.
    Result<FdtNode> console_node(const char* compat) const {
        auto chosen = fdt.find_path("/chosen");
        if (chosen.is_ok()) {
            FdtNode c = chosen.value();
            auto path = fdt.prop(c, "stdout-path").is_ok() ? fdt.prop_string(c, "stdout-path")
                                                           : fdt.prop_string(c, "linux,stdout-path");
            if (path.is_ok()) {
                usize len = 0;
                while (path.value()[len] && path.value()[len] != ':') ++len;
                auto n = fdt.find_path(path.value(), len);
                if (n.is_ok() && fdt.is_compatible(n.value(), compat) && fdt.is_enabled(n.value())) return n;
            }
        }
        return find_enabled(compat);
    }

    static void add_owned(DtHostInfo& info, const OwnedRange& r) {
        if (r.range.size == 0) return;
        if (info.owned_count == DtHostInfo::kMaxOwned) {
            info.owned_incomplete = true;
            return;
        }
        info.owned[info.owned_count++] = r;
    }

    // Where a node's reg entries live: the parent's #address-cells/#size-cells, and whether the
    // parent bus addresses the CPU's physical space directly (else Fdt::translate() maps them
    // through the buses' `ranges`).
    struct Bus {
        u32 ac, sc;
        bool cpu_space;
    };

    // Every entry of n's `reg` property, as owned ranges; why_of(i) gives entry i's reason. A reg
    // not in the CPU's address space (an I2C or PCI child: no `ranges` up to the root, or cells
    // wider than 64 bits) is skipped: a VM cannot be handed such a thing as MMIO.
    template <typename Why>
    void own_reg(DtHostInfo& info, FdtNode n, const FdtProp& prop, Bus bus, OwnedKind kind, Why why_of) const {
        if (bus.ac == 0 || bus.ac > 2 || bus.sc > 2 || prop.size % (4 * (bus.ac + bus.sc))) return;
        FdtReg reg{{prop.data, prop.size / 4}, bus.ac, bus.sc};
        for (u32 i = 0; i < reg.count(); ++i) {
            auto base = bus.cpu_space ? Result<u64>(reg[i].base) : fdt.translate(n, reg[i].base);
            if (base.is_ok())
                add_owned(info, {{HostPhysAddr(base.value()), reg[i].size}, kind, fdt.name(n), why_of(i)});
        }
    }

    // Every node with a reg, in DT order: memory banks and DMA-capable devices (PCI host bridges
    // with their windows) here; `own_isa(info, n, facts, bus)` first gets the chance to claim the
    // ISA's own nodes (interrupt controller, console, firmware devices) and returns true if it did.
    template <typename OwnIsa> void read_owned(DtHostInfo& info, OwnIsa&& own_isa) const {
        own_children(info, fdt.root(), 0, true, own_isa);
    }

private:
    template <typename OwnIsa> void own_node(DtHostInfo& info, FdtNode n, Bus bus, OwnIsa& own_isa) const {
        DtNodeFacts f = dt_node_facts(fdt, n);
        if (!f.has_reg) return; // no MMIO of its own (cpus, psci, timer, ...)
        if (strcmp(f.device_type, "memory") == 0) {
            own_reg(info, n, f.reg, bus, OwnedKind::Ram, [](u32) { return "host RAM (cxvisor's and the VMs' memory)"; });
        } else if (own_isa(info, n, f, bus)) {
        } else if (f.dma_why) {
            own_reg(info, n, f.reg, bus, OwnedKind::DmaCapable, [&f](u32) { return f.dma_why; });
            // A PCI host bridge's windows (I/O, 32- and 64-bit MMIO) reach the bus-master devices
            // behind it: as much theirs as the bridge's config space.
            if (strcmp(f.device_type, "pci") == 0) {
                const char* name = fdt.name(n);
                auto r = for_each_pci_window(fdt, n, bus.ac, bus.cpu_space, [&](u64 base, u64 size) {
                    add_owned(info, {{HostPhysAddr(base), size}, OwnedKind::DmaCapable, name, f.dma_why});
                });
                // Unknown windows: nothing outside the listed ranges can be shown safe.
                if (r.is_error()) info.owned_incomplete = true;
            }
        }
    }

    // The children of `bus` (`depth` below the root) and their subtrees, in DT order. The walk
    // knows each node's parent, so reading reg needs no Fdt::parent() search: this runs over
    // every node at boot. `cpu_space`: bus's children address the CPU's physical space directly
    // (bus is the root, or a bus with an identity `ranges` inside such a one, like the GIC for
    // its ITS or QEMU riscv64's /soc).
    template <typename OwnIsa>
    void own_children(DtHostInfo& info, FdtNode bus, u32 depth, bool cpu_space, OwnIsa& own_isa) const {
        if (depth == kMaxDepth) { // deeper nodes are not looked at: the list cannot be complete
            info.owned_incomplete = true;
            return;
        }
        auto ac = fdt.address_cells(bus), sc = fdt.size_cells(bus);
        // Malformed cell counts: the children's reg cannot be read, so what they own is unknown.
        if (ac.is_error() || sc.is_error()) info.owned_incomplete = true;
        const Bus b{ac.is_ok() ? ac.value() : 0, sc.is_ok() ? sc.value() : 0, cpu_space};
        for (FdtNode n : fdt.children(bus)) {
            own_node(info, n, b, own_isa);
            if (!fdt.first_child(n).valid()) continue;
            auto ranges = fdt.prop(n, "ranges"); // empty: identity (devicetree spec 2.3.8)
            own_children(info, n, depth + 1, cpu_space && ranges.is_ok() && ranges.value().size == 0, own_isa);
        }
    }
    static constexpr u32 kMaxDepth = 16; // bounds the recursion on the boot stack
};
