// Host DTB -> PlatformInfo. Bindings followed: devicetree spec v0.4 sections 3.4 (memory), 3.5
// (reserved-memory), 3.6 (chosen), 3.7/3.8 (cpus); Linux bindings arm/psci.yaml,
// interrupt-controller/arm,gic-v3.yaml (+ arm,gic-v3-its, arm,gic-v2m-frame in arm,gic.yaml),
// serial/pl011.yaml, timer/arm,arch_timer.yaml.
#include "arch/aarch64/dt_platform.hpp"
#include "base/string.hpp"
#include "fdt/dma_capable.hpp"

namespace {

struct Reader {
    const Fdt& fdt;
    const char** what;
    FdtNode gic{};
    FdtNode console{};
    u32 gic_redist_regions = 1;
    u32 gic_phandle = 0; // saves a whole-tree phandle search per interrupt
    u32 gic_cells = 3;

    // Records which piece failed, so the caller can say more than "not found".
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

    // The first `count` interrupt specifiers of n as INTIDs. The specifier format is the GICv3
    // binding's, so n's interrupt parent must be the GIC. Finding it (spec 2.4.1): follow
    // `interrupt-parent`, else the tree parent, until a node with #interrupt-cells; the hop limit
    // stops phandle loops.
    Result<void> intids(FdtNode n, u32 count, u32* out, const char* piece) const {
        FdtNode p = n;
        for (u32 hops = 0;; ++hops) {
            if (hops == 64) return fail(Error::BadFormat, piece);
            auto ph = fdt.prop_u32(p, "interrupt-parent");
            if (ph.is_ok() && ph.value() == gic_phandle) p = gic;
            else if (ph.is_ok()) p = TRY(check(fdt.find_phandle(ph.value()), piece));
            else p = TRY(check(fdt.parent(p), piece));
            if (fdt.prop(p, "#interrupt-cells").is_ok()) break;
        }
        if (p != gic) return fail(Error::Unsupported, piece);
        FdtCells cells = TRY(check(fdt.interrupts(n), piece));
        if (count * gic_cells > cells.count) return fail(Error::BadFormat, piece);
        for (u32 i = 0; i < count; ++i) {
            u32 type = cells[i * gic_cells], num = cells[i * gic_cells + 1];
            // Cell 0: 0 SPI, 1 PPI, 2 extended SPI, 3 extended PPI; cell 1: number in that range.
            if (type == 0 && num < 988) out[i] = 32 + num;
            else if (type == 1 && num < 16) out[i] = 16 + num;
            else if (type == 2 && num < 1024) out[i] = 4096 + num;
            else if (type == 3 && num < 64) out[i] = 1056 + num;
            else return fail(Error::BadFormat, piece);
        }
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

    Result<void> read_memory(PlatformInfo& info) const {
        for (FdtNode n : fdt.children(fdt.root())) {
            if (!has_string(n, "device_type", "memory") || !fdt.is_enabled(n)) continue;
            FdtReg reg = TRY(check(fdt.reg(n), "/memory reg"));
            for (u32 i = 0; i < reg.count(); ++i) {
                if (reg[i].size == 0) continue;
                if (info.ram_count == PlatformInfo::kMaxRam) { // unused RAM is harmless
                    info.ram_truncated = true;
                    break;
                }
                info.ram[info.ram_count++] = TRY(to_phys(n, reg[i], "/memory reg"));
            }
        }
        if (info.ram_count == 0) return fail(Error::NotFound, "RAM (/memory with device_type \"memory\")");
        return {};
    }

    Result<void> add_reserved(PlatformInfo& info, PhysRange r) const {
        if (r.size == 0) return {};
        // Dropping a reserved range would hand firmware memory out: fail instead of truncating.
        if (info.reserved_count == PlatformInfo::kMaxReserved)
            return fail(Error::NoMemory, "reserved ranges (more than 16)");
        info.reserved[info.reserved_count++] = r;
        return {};
    }

    Result<void> read_reserved(PlatformInfo& info) const {
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

    Result<void> read_cpus(PlatformInfo& info) const {
        FdtNode cpus = TRY(check(fdt.find_path("/cpus"), "/cpus"));
        for (FdtNode n : fdt.children(cpus)) {
            // device_type "cpu" tells CPUs from cpu-map & co (spec 3.8); "fail" ones are broken.
            if (!has_string(n, "device_type", "cpu")) continue;
            auto status = fdt.prop_string(n, "status");
            if (status.is_ok() && strncmp(status.value(), "fail", 4) == 0) continue;
            if (info.cpu_count == PlatformInfo::kMaxCpus) { // extra CPUs just stay off
                info.cpus_truncated = true;
                break;
            }
            FdtReg reg = TRY(check(fdt.reg(n), "/cpus/cpu reg"));
            CpuInfo& cpu = info.cpus[info.cpu_count++];
            cpu.mpidr = reg[0].base;
            if (has_string(n, "enable-method", "psci")) {
                cpu.enable = CpuEnableMethod::Psci;
            } else if (has_string(n, "enable-method", "spin-table")) {
                cpu.enable = CpuEnableMethod::SpinTable;
                cpu.release_addr = TRY(check(fdt.prop_u64(n, "cpu-release-addr"), "cpu-release-addr"));
            }
        }
        if (info.cpu_count == 0) return fail(Error::NotFound, "CPUs (/cpus/cpu@*)");
        return {};
    }

    Result<void> read_psci(PlatformInfo& info) const {
        // PSCI 0.1 nodes ("arm,psci" only) use firmware-specific function IDs: not supported.
        auto v1 = find_enabled("arm,psci-1.0");
        auto n = v1.is_ok() ? v1 : find_enabled("arm,psci-0.2");
        if (n.is_error()) return {};
        const char* method = TRY(check(fdt.prop_string(n.value(), "method"), "psci method"));
        if (strcmp(method, "smc") == 0) info.psci = PsciMethod::Smc;
        else if (strcmp(method, "hvc") == 0) info.psci = PsciMethod::Hvc;
        else return fail(Error::BadFormat, "psci method");
        return {};
    }

    Result<void> read_gic(PlatformInfo& info) {
        gic = TRY(check(find_enabled("arm,gic-v3"), "GICv3 (compatible \"arm,gic-v3\")"));
        auto phandle = fdt.prop_u32(gic, "phandle");
        gic_phandle = phandle.is_ok() ? phandle.value() : 0;
        gic_cells = TRY(check(fdt.prop_u32(gic, "#interrupt-cells"), "GICv3 #interrupt-cells"));
        if (gic_cells < 3) return fail(Error::BadFormat, "GICv3 #interrupt-cells");
        auto regions = fdt.prop_u32(gic, "#redistributor-regions");
        u32 count = regions.is_ok() ? regions.value() : 1;
        if (count == 0 || count > PlatformInfo::kMaxRedistRegions)
            return fail(Error::Unsupported, "GICv3 #redistributor-regions");
        TRY(reg_ranges(gic, 0, 1, &info.gic.dist, "GICv3 distributor reg"));
        TRY(reg_ranges(gic, 1, count, info.gic.redist, "GICv3 redistributor reg"));
        info.gic.redist_count = count;
        gic_redist_regions = count;
        // Optional in the binding; when present it is the vGIC maintenance interrupt (a PPI).
        if (fdt.prop(gic, "interrupts").is_ok())
            TRY(intids(gic, 1, &info.gic.maintenance_intid, "GICv3 maintenance interrupt"));
        return {};
    }

    Result<FdtNode> console_uart() const {
        // Spec 3.6: stdout-path is a path or alias; a ':' ends it and starts UART options.
        auto chosen = fdt.find_path("/chosen");
        if (chosen.is_ok()) {
            FdtNode c = chosen.value();
            auto path = fdt.prop(c, "stdout-path").is_ok() ? fdt.prop_string(c, "stdout-path")
                                                           : fdt.prop_string(c, "linux,stdout-path");
            if (path.is_ok()) {
                usize len = 0;
                while (path.value()[len] && path.value()[len] != ':') ++len;
                auto n = fdt.find_path(path.value(), len);
                if (n.is_ok() && fdt.is_compatible(n.value(), "arm,pl011") && fdt.is_enabled(n.value()))
                    return n;
            }
        }
        return find_enabled("arm,pl011"); // no usable stdout-path: the first PL011
    }

    Result<void> read_uart(PlatformInfo& info) {
        FdtNode n = console = TRY(check(console_uart(), "console UART (compatible \"arm,pl011\")"));
        TRY(reg_ranges(n, 0, 1, &info.uart.mmio, "PL011 reg"));
        TRY(intids(n, 1, &info.uart.intid, "PL011 interrupts"));
        return {};
    }

    Result<void> read_timer(PlatformInfo& info) const {
        FdtNode n = TRY(check(find_enabled("arm,armv8-timer"), "arch timer (compatible \"arm,armv8-timer\")"));
        // Binding order: secure phys, non-secure phys, virtual, hypervisor phys (, hyp virtual).
        u32 ppi[4];
        TRY(intids(n, 4, ppi, "timer interrupts"));
        info.timer.secure_phys_intid = ppi[0];
        info.timer.nonsecure_phys_intid = ppi[1];
        info.timer.virt_intid = ppi[2];
        info.timer.hyp_phys_intid = ppi[3];
        auto freq = fdt.prop_u32(n, "clock-frequency");
        if (freq.is_ok()) info.timer.frequency_hz = freq.value();
        return {};
    }

    static void add_owned(PlatformInfo& info, const OwnedRange& r) {
        if (r.range.size == 0) return;
        if (info.owned_count == PlatformInfo::kMaxOwned) {
            info.owned_incomplete = true;
            return;
        }
        info.owned[info.owned_count++] = r;
    }

    // Every entry of n's `reg` property, as owned ranges; why_of(i) gives entry i's reason.
    // `ac`/`sc` are the parent's #address-cells/#size-cells; `cpu_space`: the parent bus
    // addresses the CPU's physical space directly (else Fdt::translate() maps them through the
    // buses' `ranges`). A reg not in the CPU's address space (an I2C or PCI child: no `ranges` up to the
    // root, or cells wider than 64 bits) is skipped: a VM cannot be handed such a thing as MMIO.
    template <typename Why>
    void own_reg(PlatformInfo& info, FdtNode n, const FdtProp& prop, u32 ac, u32 sc, bool cpu_space, OwnedKind kind,
                 Why why_of) const {
        if (ac == 0 || ac > 2 || sc > 2 || prop.size % (4 * (ac + sc))) return;
        FdtReg reg{{prop.data, prop.size / 4}, ac, sc};
        for (u32 i = 0; i < reg.count(); ++i) {
            auto base = cpu_space ? Result<u64>(reg[i].base) : fdt.translate(n, reg[i].base);
            if (base.is_ok())
                add_owned(info, {{HostPhysAddr(base.value()), reg[i].size}, kind, fdt.name(n), why_of(i)});
        }
    }

    // GICv3 binding (interrupt-controller/arm,gic-v3.yaml): reg = GICD, one entry per
    // redistributor region, then the optional GICv2-compatible GICC, GICH, GICV.
    const char* gic_frame_why(u32 i) const {
        if (i == 0) return "the host GIC's distributor (GICD), which cxvisor drives";
        if (i <= gic_redist_regions) return "the host GIC's redistributors (GICR), which cxvisor drives";
        static const char* const v2[] = {"the host GIC's GICv2-compatible CPU interface (GICC)",
                                         "the host GIC's virtual interface control (GICH)",
                                         "the host GIC's virtual CPU interface (GICV)"};
        u32 k = i - gic_redist_regions - 1;
        return k < 3 ? v2[k] : "a frame of the host GIC";
    }

    // Classifies node n; `ac`/`sc`/`cpu_space` describe its parent bus (see own_reg).
    void own_node(PlatformInfo& info, FdtNode n, u32 ac, u32 sc, bool cpu_space) const {
        DtNodeFacts f = dt_node_facts(fdt, n);
        if (!f.has_reg) return; // no MMIO of its own (cpus, psci, timer, ...)
        auto own = [&](OwnedKind kind, auto why_of) { own_reg(info, n, f.reg, ac, sc, cpu_space, kind, why_of); };
        if (strcmp(f.device_type, "memory") == 0) {
            own(OwnedKind::Ram, [](u32) { return "host RAM (cxvisor's and the VMs' memory)"; });
        } else if (n == gic) {
            own(OwnedKind::HostDevice, [this](u32 i) { return gic_frame_why(i); });
        } else if (f.compatible.contains("arm,gic-v3-its")) {
            own(OwnedKind::HostDevice, [](u32) {
                return "the host GIC's ITS (arm,gic-v3-its), which also writes its tables to host memory";
            });
        } else if (f.compatible.contains("arm,gic-v2m-frame")) {
            own(OwnedKind::HostDevice, [](u32) { return "a GICv2m MSI frame of the host GIC (arm,gic-v2m-frame)"; });
        } else if (n == console) {
            own(OwnedKind::HostDevice, [](u32) { return "cxvisor's console UART"; });
        } else if (f.dma_why) {
            own(OwnedKind::DmaCapable, [&f](u32) { return f.dma_why; });
            // A PCI host bridge's windows (I/O, 32- and 64-bit MMIO) reach the bus-master devices
            // behind it: as much theirs as the bridge's config space.
            if (strcmp(f.device_type, "pci") == 0) {
                const char* name = fdt.name(n);
                auto r = for_each_pci_window(fdt, n, ac, cpu_space, [&](u64 base, u64 size) {
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
    // its ITS).
    void own_children(PlatformInfo& info, FdtNode bus, u32 depth, bool cpu_space) const {
        if (depth == kMaxDepth) { // deeper nodes are not looked at: the list cannot be complete
            info.owned_incomplete = true;
            return;
        }
        auto ac = fdt.address_cells(bus), sc = fdt.size_cells(bus);
        // Malformed cell counts: the children's reg cannot be read, so what they own is unknown.
        if (ac.is_error() || sc.is_error()) info.owned_incomplete = true;
        for (FdtNode n : fdt.children(bus)) {
            own_node(info, n, ac.is_ok() ? ac.value() : 0, sc.is_ok() ? sc.value() : 0, cpu_space);
            if (!fdt.first_child(n).valid()) continue;
            auto ranges = fdt.prop(n, "ranges"); // empty: identity (devicetree spec 2.3.8)
            own_children(info, n, depth + 1, cpu_space && ranges.is_ok() && ranges.value().size == 0);
        }
    }
    static constexpr u32 kMaxDepth = 16; // bounds the recursion on the boot stack

    void read_owned(PlatformInfo& info) const { own_children(info, fdt.root(), 0, true); }
};

} // namespace

Result<PlatformInfo> read_platform(const Fdt& fdt, const char** what) {
    PlatformInfo info;
    Reader r{fdt, what};
    TRY(r.read_memory(info));
    TRY(r.read_reserved(info));
    TRY(r.read_cpus(info));
    TRY(r.read_psci(info));
    TRY(r.read_gic(info)); // before the UART and timer: their interrupts are decoded against it
    TRY(r.read_uart(info));
    TRY(r.read_timer(info));
    r.read_owned(info); // after the GIC and UART: it names their frames
    return info;
}
