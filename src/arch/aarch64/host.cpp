// The aarch64 side of the host bring-up (kernel/host_platform.hpp): the board from the host DTB
// (dt_platform.hpp), the PL011 console, the PSCI conduit, MPIDR as the CPU id, the arm64 Image
// header, cxvisor's EL2 translation, the GICv3 and the per-CPU EL2 virtualization registers.
#include "kernel/host_platform.hpp"
#include "arch.hpp"
#include "arch_stage2.hpp"
#include "base/format.hpp"
#include "dt_platform.hpp"
#include "drivers/pl011_console.hpp"
#include "gicv3.hpp"
#include "kernel/irq.hpp"
#include "kernel/log.hpp"
#include "mmu.hpp"
#include "vcpu.hpp"
#include "vgic_hw.hpp"

extern "C" char _start[];

namespace arch {

extern bool g_psci_use_hvc;

namespace {
// What host_irq_init and host_cpu_init need of the board beyond HostPlatform: the GIC layout.
decltype(PlatformInfo::gic) g_gic;
} // namespace

Result<void> host_discover(const Fdt& fdt, HostPlatform& out, const char** what) {
    const PlatformInfo p = TRY(read_platform(fdt, this_cpu_hw_id(), what));
    g_gic = p.gic;
    console_init(pl011_console(p.uart.mmio.base.value()));
    g_psci_use_hvc = p.psci == PsciMethod::Hvc;

    static_assert(PlatformInfo::kMaxCpus <= vm_package::MAX_CPUS && 2 + PlatformInfo::kMaxRedistRegions <= HostPlatform::kMaxDevices);
    host_platform_take_dt(out, p);
    out.cpu_count = p.cpu_count;
    out.cpus_truncated = p.cpus_truncated;
    for (u32 i = 0; i < p.cpu_count; ++i) out.cpu_hw_id[i] = p.cpus[i].mpidr;
    out.devices[out.device_count++] = p.gic.dist;
    for (u32 i = 0; i < p.gic.redist_count; ++i) out.devices[out.device_count++] = p.gic.redist[i];
    out.devices[out.device_count++] = p.uart.mmio;
    out.timer_irq = p.timer.hyp_phys_intid; // CNTHP: EL2's own timer (timer_hw.hpp)
    out.vcpu_timer_irq = p.timer.virt_intid;
    out.console_irq = p.uart.intid;
    out.kick_irq = SGI_KICK;
    // QEMU's virt machine: its TCG TLB prefers 4 KiB stage-2 leaves (arch_stage2.hpp).
    g_stage2_page_leaves = fdt.is_compatible(fdt.root(), "linux,dummy-virt");
    format(out.summary, sizeof out.summary, "GICv3 at %lx, console at %lx%s", p.gic.dist.base.value(),
           p.uart.mmio.base.value(), g_stage2_page_leaves ? ", stage-2 pages (QEMU virt)" : "");
    return {};
}

// MPIDR_EL1 affinity fields Aff3..Aff0, as the DTB's cpu nodes give them (D19.2 MPIDR_EL1).
u64 this_cpu_hw_id() { return read_sysreg(mpidr_el1) & 0xFF00FFFFFFull; }

// The arm64 Image header's image_size field (Linux Documentation/arch/arm64/booting.rst), which
// the build patches to include the VM package.
u64 boot_image_size() { return *reinterpret_cast<const u64*>(_start + 0x10); }

Result<void> host_mmu_init(const HostPlatform& p, const PhysRange* extra, usize extra_count) {
    MmuRegion ram[HostPlatform::kMaxRam], dev[HostPlatform::kMaxDevices + 4];
    usize ndev = 0;
    for (u32 i = 0; i < p.ram_count; ++i) ram[i] = {p.ram[i].base.value(), p.ram[i].size, false};
    for (u32 i = 0; i < p.device_count; ++i) dev[ndev++] = {p.devices[i].base.value(), p.devices[i].size, true};
    for (usize i = 0; i < extra_count && ndev < sizeof dev / sizeof dev[0]; ++i)
        dev[ndev++] = {extra[i].base.value(), extra[i].size, true};
    return mmu_init(ram, p.ram_count, dev, ndev);
}

void host_cpu_early() { mmu_enable_secondary(); }

Result<void> host_irq_init(const HostPlatform& p) {
    TRY(gic_init({g_gic.dist.base.value(), g_gic.redist[0].base.value(), g_gic.redist[0].size}));
    virt_set_timer_intid(p.vcpu_timer_irq);
    // The vGIC's maintenance interrupt only makes a vCPU exit (its list registers are then taken
    // back and refilled). Without one in the DTB an overflowing list still works, just later: at
    // the vCPU's next exit for any other reason.
    if (g_gic.maintenance_intid) vgichw::register_maintenance_irq(g_gic.maintenance_intid);
    else kprint("cxvisor: the host DTB names no GIC maintenance interrupt; more pending virtual interrupts than "
                "list registers are delivered at the next exit only\n");
    return {};
}

void host_cpu_init(const HostPlatform& p) {
    irq_cpu_init();
    irq_enable(p.timer_irq, true);
    virt_cpu_init();
    vgichw::cpu_init();
    if (g_gic.maintenance_intid) vgichw::enable_maintenance_irq(g_gic.maintenance_intid);
    // The guests' virtual timer PPI is enabled only while a vCPU with a vGIC is loaded
    // (Vcpu::load); without one a halted vCPU's timer is tracked by cxvisor (wake_deadline).
    irq_enable(p.vcpu_timer_irq, false);
}

u32 dt_device_irq(const Fdt& fdt, FdtNode n) { return gic_device_irq(fdt, n); }

} // namespace arch
