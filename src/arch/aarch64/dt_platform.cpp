// Host DTB -> PlatformInfo. Bindings followed: devicetree spec v0.4 sections 3.4 (memory), 3.5
// (reserved-memory), 3.6 (chosen), 3.7/3.8 (cpus); Linux bindings arm/psci.yaml,
// interrupt-controller/arm,gic-v3.yaml (+ arm,gic-v3-its, arm,gic-v2m-frame in arm,gic.yaml),
// serial/pl011.yaml, timer/arm,arch_timer.yaml.
#include "arch/aarch64/dt_platform.hpp"

namespace {

struct Reader : DtHostReader {
    FdtNode gic{};
    FdtNode console{};
    u32 gic_redist_regions = 1;
    u32 gic_phandle = 0; // saves a whole-tree phandle search per interrupt
    u32 gic_cells = 3;

    // The first `count` interrupt specifiers of n as INTIDs. The specifier format is the GICv3
    // binding's, so n's interrupt parent must be the GIC.
    Result<void> intids(FdtNode n, u32 count, u32* out, const char* piece) const {
        FdtNode p = TRY(interrupt_parent(n, gic, gic_phandle, piece));
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

    Result<void> read_cpus(PlatformInfo& info, u64 boot_mpidr) const {
        FdtNode cpus = TRY(check(fdt.find_path("/cpus"), "/cpus"));
        CpuSlots slots(PlatformInfo::kMaxCpus, boot_mpidr); // extra CPUs just stay off
        for (FdtNode n : fdt.children(cpus)) {
            // device_type "cpu" tells CPUs from cpu-map & co (spec 3.8); "fail" ones are broken.
            if (!has_string(n, "device_type", "cpu")) continue;
            auto status = fdt.prop_string(n, "status");
            if (status.is_ok() && strncmp(status.value(), "fail", 4) == 0) continue;
            FdtReg reg = TRY(check(fdt.reg(n), "/cpus/cpu reg"));
            if (reg.count() == 0) return fail(Error::BadFormat, "/cpus/cpu reg");
            u32 slot = 0;
            if (!slots.take(reg[0].base, slot)) continue;
            CpuInfo& cpu = info.cpus[slot];
            cpu = CpuInfo{};
            cpu.mpidr = reg[0].base;
            if (has_string(n, "enable-method", "psci")) {
                cpu.enable = CpuEnableMethod::Psci;
            } else if (has_string(n, "enable-method", "spin-table")) {
                cpu.enable = CpuEnableMethod::SpinTable;
                cpu.release_addr = TRY(check(fdt.prop_u64(n, "cpu-release-addr"), "cpu-release-addr"));
            }
        }
        info.cpu_count = slots.count();
        info.cpus_truncated = slots.truncated();
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

    // The GICv3 node, its phandle and #interrupt-cells: what decoding an `interrupts` needs.
    Result<void> find_gic() {
        gic = TRY(check(find_enabled("arm,gic-v3"), "GICv3 (compatible \"arm,gic-v3\")"));
        auto phandle = fdt.prop_u32(gic, "phandle");
        gic_phandle = phandle.is_ok() ? phandle.value() : 0;
        gic_cells = TRY(check(fdt.prop_u32(gic, "#interrupt-cells"), "GICv3 #interrupt-cells"));
        if (gic_cells < 3) return fail(Error::BadFormat, "GICv3 #interrupt-cells");
        return {};
    }

    Result<void> read_gic(PlatformInfo& info) {
        TRY(find_gic());
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

    Result<void> read_uart(PlatformInfo& info) {
        FdtNode n = console = TRY(check(console_node("arm,pl011"), "console UART (compatible \"arm,pl011\")"));
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

    // The GIC's frames, its ITS and GICv2m frames and the console UART; the rest is generic
    // (DtHostReader::read_owned).
    void read_owned(PlatformInfo& info) const {
        DtHostReader::read_owned(info, [this](DtHostInfo& in, FdtNode n, const DtNodeFacts& f, Bus bus) {
            auto own = [&](auto why_of) { own_reg(in, n, f.reg, bus, OwnedKind::HostDevice, why_of); };
            if (n == gic) own([this](u32 i) { return gic_frame_why(i); });
            else if (f.compatible.contains("arm,gic-v3-its"))
                own([](u32) { return "the host GIC's ITS (arm,gic-v3-its), which also writes its tables to host memory"; });
            else if (f.compatible.contains("arm,gic-v2m-frame"))
                own([](u32) { return "a GICv2m MSI frame of the host GIC (arm,gic-v2m-frame)"; });
            else if (n == console) own([](u32) { return "cxvisor's console UART"; });
            else return false;
            return true;
        });
    }
};

} // namespace

u32 gic_device_irq(const Fdt& fdt, FdtNode n) {
    Reader r{{fdt, nullptr}};
    if (r.find_gic().is_error()) return 0;
    u32 intid = 0;
    // A device's interrupt is an SPI (INTIDs 32..1019); a PPI belongs to one CPU.
    return r.intids(n, 1, &intid, "interrupts").is_ok() && intid >= 32 && intid < 1020 ? intid : 0;
}

Result<PlatformInfo> read_platform(const Fdt& fdt, u64 boot_mpidr, const char** what) {
    PlatformInfo info;
    Reader r{{fdt, what}};
    TRY(r.read_memory_and_reserved(info));
    TRY(r.read_cpus(info, boot_mpidr));
    TRY(r.read_psci(info));
    TRY(r.read_gic(info)); // before the UART and timer: their interrupts are decoded against it
    TRY(r.read_uart(info));
    TRY(r.read_timer(info));
    r.read_owned(info); // after the GIC and UART: it names their frames
    return info;
}
