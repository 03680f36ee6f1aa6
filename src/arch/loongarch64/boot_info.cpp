#include "boot_info.hpp"

namespace {

u64 le64(const u8* p) {
    u64 v = 0;
    for (int i = 7; i >= 0; --i) v = v << 8 | p[i];
    return v;
}

} // namespace

Result<LaPlatformInfo> read_la_platform(const Fdt& fdt, u64 boot_cpu_id, const char** what) {
    LaPlatformInfo info;
    DtHostReader r{fdt, what};
    // Cores: /cpus children with device_type "cpu"; reg is the core number CSR.CPUID reads.
    auto cpus = r.check(fdt.find_path("/cpus"), "/cpus");
    if (cpus.is_error()) return cpus.error();
    CpuSlots slots(LaPlatformInfo::kMaxCpus, boot_cpu_id); // extra cores just stay off
    for (FdtNode n : fdt.children(cpus.value())) {
        if (!r.has_string(n, "device_type", "cpu") || !fdt.is_enabled(n)) continue;
        FdtReg reg = TRY(r.check(fdt.reg(n), "cpu reg"));
        if (reg.count() == 0) return r.fail(Error::BadFormat, "cpu reg");
        if (u32 slot = 0; slots.take(reg[0].base, slot)) info.cpu_id[slot] = reg[0].base;
    }
    info.cpu_count = slots.count();
    info.cpus_truncated = slots.truncated();
    if (info.cpu_count == 0) return r.fail(Error::NotFound, "cpu nodes under /cpus");

    FdtNode uart = TRY(r.check(r.console_node("ns16550a"), "the ns16550a console (stdout-path)"));
    FdtReg ureg = TRY(r.check(fdt.reg(uart), "console reg"));
    if (ureg.count() == 0) return r.fail(Error::BadFormat, "console reg");
    info.uart.mmio = TRY(r.to_phys(uart, ureg[0], "console reg"));
    auto clk = fdt.prop_u32(uart, "clock-frequency");
    info.uart.clock_hz = clk.is_ok() ? clk.value() : 0;

    // The PCH-PIC: QEMU 7.2 names it "loongarch,ls7a", Linux's binding "loongson,pch-pic-1.0".
    auto linux_pic = r.find_enabled("loongson,pch-pic-1.0");
    FdtNode pic_node = linux_pic.is_ok() ? linux_pic.value()
                                         : TRY(r.check(r.find_enabled("loongarch,ls7a"),
                                                       "the PCH-PIC (loongson,pch-pic-1.0 or loongarch,ls7a)"));
    FdtReg preg = TRY(r.check(fdt.reg(pic_node), "PCH-PIC reg"));
    if (preg.count() == 0) return r.fail(Error::BadFormat, "PCH-PIC reg");
    info.pch_pic = TRY(r.to_phys(pic_node, preg[0], "PCH-PIC reg"));

    // The console's line, where the DTB says it: `interrupts` (first cell: the line; QEMU 8+ give
    // <2 4>) with the PCH-PIC as its interrupt parent (devicetree spec v0.4, 2.4.1).
    if (auto ints = fdt.prop(uart, "interrupts"); ints.is_ok() && ints.value().size >= 4) {
        auto pic_phandle = fdt.prop_u32(pic_node, "phandle");
        auto parent = r.interrupt_parent(uart, pic_node, pic_phandle.is_ok() ? pic_phandle.value() : 0,
                                         "console interrupt-parent");
        const u32 line = fdt_be32(ints.value().data);
        if (parent.is_ok() && parent.value().offset == pic_node.offset && line < 64) {
            info.uart.pic_line = line;
            info.uart.has_pic_line = true;
        }
    }

    FdtNode fw = TRY(r.check(r.find_enabled("qemu,fw-cfg-mmio"), "fw_cfg (qemu,fw-cfg-mmio)"));
    FdtReg freg = TRY(r.check(fdt.reg(fw), "fw_cfg reg"));
    if (freg.count() == 0 || freg[0].size < 0x18) return r.fail(Error::BadFormat, "fw_cfg reg");
    info.fw_cfg = TRY(r.to_phys(fw, freg[0], "fw_cfg reg"));

    r.read_owned(info, [&](DtHostInfo& out, FdtNode n, const DtNodeFacts& f, DtHostReader::Bus bus) {
        const char* why = nullptr;
        if (n.offset == uart.offset) why = "the host console UART (cxvisor's)";
        else if (n.offset == pic_node.offset) why = "the host interrupt controller (PCH-PIC, cxvisor's)";
        else if (n.offset == fw.offset) why = "QEMU's fw_cfg (the host's RAM map and firmware tables)";
        if (!why) return false;
        r.own_reg(out, n, f.reg, bus, OwnedKind::HostDevice, [why](u32) { return why; });
        return true;
    });
    return info;
}

Result<void> la_memmap_ram(const u8* data, usize size, LaPlatformInfo& info) {
    if (size % LA_MEMMAP_ENTRY) return Error::BadFormat;
    for (usize off = 0; off < size; off += LA_MEMMAP_ENTRY) {
        const u64 base = le64(data + off), len = le64(data + off + 8);
        const u32 type = u32(le64(data + off + 16));
        if (base + len < base) return Error::BadFormat;
        if (type != LA_MEMMAP_RAM || len == 0) continue;
        if (info.ram_count == DtHostInfo::kMaxRam) {
            info.ram_truncated = true;
            break;
        }
        const PhysRange bank{HostPhysAddr(base), len};
        info.ram[info.ram_count++] = bank;
        DtHostReader::add_owned(info, {bank, OwnedKind::Ram, "etc/memmap", "host RAM (cxvisor's and the VMs' memory)"});
    }
    if (info.ram_count == 0) return Error::NotFound;
    return {};
}
