// Host DTB -> RvPlatformInfo. Bindings followed: devicetree spec v0.4 sections 2.4 (interrupts,
// interrupts-extended), 3.4-3.8 (memory, reserved-memory, chosen, cpus); Linux v6.1 bindings
// riscv/cpus.yaml (reg = hart id, riscv,isa, timebase-frequency, the riscv,cpu-intc child),
// interrupt-controller/sifive,plic-1.0.0.yaml (riscv,ndev; interrupts-extended lists the contexts
// in order, each as <cpu-intc phandle, cause>: 11 M-mode external, 9 S-mode external),
// serial/8250.yaml (ns16550a, reg-shift, reg-io-width), timer/sifive,clint.yaml,
// power/reset/syscon-poweroff.yaml.
#include "arch/riscv64/dt_platform.hpp"

bool riscv_isa_has(const char* isa, const char* ext) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; };
    if (!isa || !ext || !ext[0]) return false;
    // "rv32"/"rv64"/"rv128", then the single-letter extensions up to the first '_'.
    if (lower(isa[0]) != 'r' || lower(isa[1]) != 'v') return false;
    const char* p = isa + 2;
    while (*p >= '0' && *p <= '9') ++p;
    if (!ext[1]) {
        for (; *p && *p != '_'; ++p)
            if (lower(*p) == lower(ext[0])) return true;
        return false;
    }
    for (;;) {
        while (*p && *p != '_') ++p;
        if (!*p) return false;
        const char* name = ++p;
        usize i = 0;
        while (ext[i] && name[i] && name[i] != '_' && lower(name[i]) == lower(ext[i])) ++i;
        if (!ext[i] && (!name[i] || name[i] == '_')) return true;
    }
}

u32 riscv_mmu_type_bits(const char* t) {
    if (!t) return 0;
    const char* prefix = "riscv,sv";
    for (usize i = 0; prefix[i]; ++i)
        if (t[i] != prefix[i]) return 0;
    const char* n = t + 8;
    if (!n[0] || !n[1] || n[2]) return 0;
    const u32 bits = u32(n[0] - '0') * 10 + u32(n[1] - '0');
    return bits == 39 || bits == 48 || bits == 57 ? bits : 0;
}

usize fdt_set_mmu_type(u8* blob, usize size, u32 va_bits) {
    if (va_bits != 39 && va_bits != 48 && va_bits != 57) return 0;
    auto fdt = Fdt::create(blob, size); // a blob that is no well-formed FDT is left alone
    if (fdt.is_error()) return 0;
    usize rewritten = 0;
    for (FdtNode n : fdt.value().nodes()) {
        auto mt = fdt.value().prop_string(n, "mmu-type");
        // "riscv,svNN": the two digits change, nothing moves (the Fdt views the same bytes).
        if (mt.is_ok() && riscv_mmu_type_bits(mt.value())) {
            char* digits = const_cast<char*>(mt.value()) + 8;
            digits[0] = char('0' + va_bits / 10);
            digits[1] = char('0' + va_bits % 10);
            ++rewritten;
        }
    }
    return rewritten;
}

namespace {

constexpr u32 kCauseSExternal = 9; // Privileged Spec 20211203, 4.1.9 table 4.2: supervisor external

struct Reader : DtHostReader {
    FdtNode plic{};
    u32 plic_phandle = 0;
    FdtNode console{};
    u32 intc_phandle[RvPlatformInfo::kMaxCpus] = {}; // each hart's riscv,cpu-intc

    // A cpu node's ISA: riscv,isa, or the newer riscv,isa-extensions string list.
    bool isa_has(FdtNode n, const char* ext) const {
        auto isa = fdt.prop_string(n, "riscv,isa");
        if (isa.is_ok()) return riscv_isa_has(isa.value(), ext);
        auto list = fdt.prop_strings(n, "riscv,isa-extensions");
        return list.is_ok() && list.value().contains(ext);
    }

    Result<void> read_harts(RvPlatformInfo& info, u64 boot_hartid) {
        FdtNode cpus = TRY(check(fdt.find_path("/cpus"), "/cpus"));
        auto cpus_tb = fdt.prop_u64(cpus, "timebase-frequency");
        u64 tb = cpus_tb.is_ok() ? cpus_tb.value() : 0;
        CpuSlots slots(RvPlatformInfo::kMaxCpus, boot_hartid); // extra harts just stay off
        for (FdtNode n : fdt.children(cpus)) {
            if (!has_string(n, "device_type", "cpu") || !fdt.is_enabled(n)) continue;
            if (!isa_has(n, "h")) { // no hypervisor extension: cxvisor cannot run VMs there
                ++info.harts_without_h;
                continue;
            }
            FdtReg reg = TRY(check(fdt.reg(n), "/cpus/cpu reg"));
            if (reg.count() == 0) return fail(Error::BadFormat, "/cpus/cpu reg");
            if (auto own_tb = fdt.prop_u64(n, "timebase-frequency"); tb == 0 && own_tb.is_ok()) tb = own_tb.value();
            u32 slot = 0;
            if (!slots.take(reg[0].base, slot)) continue;
            RvHart& h = info.harts[slot];
            h = RvHart{};
            h.hartid = reg[0].base;
            h.sstc = isa_has(n, "sstc");
            if (auto mt = fdt.prop_string(n, "mmu-type"); mt.is_ok()) h.mmu_va_bits = riscv_mmu_type_bits(mt.value());
            intc_phandle[slot] = 0;
            for (FdtNode c : fdt.children(n))
                if (fdt.is_compatible(c, "riscv,cpu-intc")) {
                    auto ph = fdt.prop_u32(c, "phandle");
                    if (ph.is_ok()) intc_phandle[slot] = ph.value();
                }
        }
        info.hart_count = slots.count();
        info.harts_truncated = slots.truncated();
        if (info.hart_count == 0) return fail(Error::NotFound, "harts with the H extension (/cpus/cpu@*, riscv,isa with \"h\")");
        if (tb == 0) return fail(Error::NotFound, "timebase-frequency (/cpus)");
        info.timebase_hz = tb;
        return {};
    }

    Result<void> read_plic(RvPlatformInfo& info) {
        auto n = find_enabled("sifive,plic-1.0.0");
        plic = TRY(check(n.is_ok() ? Result<FdtNode>(n.value()) : find_enabled("riscv,plic0"), "PLIC (compatible \"sifive,plic-1.0.0\" or \"riscv,plic0\")"));
        auto ph = fdt.prop_u32(plic, "phandle");
        plic_phandle = ph.is_ok() ? ph.value() : 0;
        TRY(reg_ranges(plic, 0, 1, &info.plic.mmio, "PLIC reg"));
        info.plic.ndev = TRY(check(fdt.prop_u32(plic, "riscv,ndev"), "PLIC riscv,ndev"));
        if (info.plic.ndev == 0 || info.plic.ndev > 1023) return fail(Error::BadFormat, "PLIC riscv,ndev");
        // interrupts-extended (spec 2.4.1.2): <phandle, specifier...> per context, the specifier as
        // long as the parent's #interrupt-cells (1 for riscv,cpu-intc: the cause).
        FdtProp ext = TRY(check(fdt.prop(plic, "interrupts-extended"), "PLIC interrupts-extended"));
        FdtCells cells{ext.data, ext.size / 4};
        bool found[RvPlatformInfo::kMaxCpus] = {};
        for (u32 at = 0, context = 0; at < cells.count; ++context) {
            u32 parent = cells[at];
            FdtNode p = TRY(check(fdt.find_phandle(parent), "PLIC interrupts-extended parent"));
            u32 n_cells = TRY(check(fdt.prop_u32(p, "#interrupt-cells"), "PLIC interrupts-extended #interrupt-cells"));
            if (n_cells == 0 || at + 1 + n_cells > cells.count) return fail(Error::BadFormat, "PLIC interrupts-extended");
            u32 cause = cells[at + 1];
            for (u32 h = 0; h < info.hart_count; ++h)
                if (intc_phandle[h] == parent && cause == kCauseSExternal && !found[h]) {
                    info.harts[h].s_context = context;
                    found[h] = true;
                }
            at += 1 + n_cells;
        }
        for (u32 h = 0; h < info.hart_count; ++h)
            if (!found[h]) return fail(Error::NotFound, "a PLIC S-mode context for every hart (interrupts-extended cause 9)");
        return {};
    }

    Result<void> read_uart(RvPlatformInfo& info) {
        auto n = console_node("ns16550a");
        console = TRY(check(n.is_ok() ? Result<FdtNode>(n.value()) : console_node("ns16550"), "console UART (compatible \"ns16550a\")"));
        TRY(reg_ranges(console, 0, 1, &info.uart.mmio, "16550 reg"));
        auto shift = fdt.prop_u32(console, "reg-shift");
        auto width = fdt.prop_u32(console, "reg-io-width");
        info.uart.reg_shift = shift.is_ok() ? shift.value() : 0;
        info.uart.reg_io_width = width.is_ok() ? width.value() : 1;
        if (info.uart.reg_shift > 3 || (info.uart.reg_io_width != 1 && info.uart.reg_io_width != 4))
            return fail(Error::Unsupported, "16550 reg-shift/reg-io-width (shift 0..3, width 1 or 4)");
        // Its interrupt, if the PLIC delivers it; without one the console is polled.
        info.uart.irq = plic_source(console, info.plic.ndev);
        return {};
    }

    // Node n's first interrupt as a source of the PLIC (read_plic first): its `interrupts` under
    // the PLIC's one-cell binding (sifive,plic-1.0.0.yaml), 1..ndev; 0 if it has none or another
    // controller delivers it.
    u32 plic_source(FdtNode n, u32 ndev) const {
        auto irqs = fdt.interrupts(n);
        if (irqs.is_error() || irqs.value().count < 1) return 0;
        auto parent = interrupt_parent(n, plic, plic_phandle, "interrupt parent");
        if (parent.is_error() || parent.value() != plic) return 0;
        const u32 src = irqs.value()[0];
        return src >= 1 && src <= ndev ? src : 0;
    }

    // The PLIC and its source count alone (rv_device_irq), without the harts' contexts.
    Result<u32> find_plic() {
        auto n = find_enabled("sifive,plic-1.0.0");
        plic = TRY(n.is_ok() ? Result<FdtNode>(n.value()) : find_enabled("riscv,plic0"));
        auto ph = fdt.prop_u32(plic, "phandle");
        plic_phandle = ph.is_ok() ? ph.value() : 0;
        const u32 ndev = TRY(fdt.prop_u32(plic, "riscv,ndev"));
        if (ndev == 0 || ndev > 1023) return Error::BadFormat;
        return ndev;
    }

    // The PLIC, the console, and what the firmware below cxvisor drives or what acts on the whole
    // machine; the rest is generic (DtHostReader::read_owned).
    void read_owned(RvPlatformInfo& info) const {
        DtHostReader::read_owned(info, [this](DtHostInfo& in, FdtNode n, const DtNodeFacts& f, Bus bus) {
            auto own = [&](const char* why) { own_reg(in, n, f.reg, bus, OwnedKind::HostDevice, [why](u32) { return why; }); };
            if (n == plic) own("the host PLIC, which cxvisor drives");
            else if (n == console) own("cxvisor's console UART");
            else if (f.compatible.contains("riscv,clint0") || f.compatible.contains("sifive,clint0") ||
                     f.compatible.contains("riscv,aclint-mswi") || f.compatible.contains("riscv,aclint-mtimer") ||
                     f.compatible.contains("riscv,aclint-sswi"))
                own("the CLINT/ACLINT: the M-mode timer and software interrupts the SBI firmware drives");
            else if (f.compatible.contains("sifive,test0") || f.compatible.contains("sifive,test1"))
                own("the test finisher (sifive,test0), which powers off or resets the whole machine");
            else return false;
            return true;
        });
    }
};

} // namespace

u32 rv_device_irq(const Fdt& fdt, FdtNode n) {
    Reader r{{fdt, nullptr}};
    auto ndev = r.find_plic();
    return ndev.is_ok() ? r.plic_source(n, ndev.value()) : 0;
}

Result<RvPlatformInfo> read_rv_platform(const Fdt& fdt, u64 boot_hartid, const char** what) {
    RvPlatformInfo info;
    Reader r{{fdt, what}};
    TRY(r.read_memory_and_reserved(info));
    TRY(r.read_harts(info, boot_hartid));
    TRY(r.read_plic(info)); // before the UART: its interrupt is decoded against the PLIC
    TRY(r.read_uart(info));
    r.read_owned(info); // after the PLIC and UART: it names them
    return info;
}
