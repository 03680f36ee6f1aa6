// The riscv64 side of the host bring-up (kernel/host_platform.hpp): the board from the host DTB
// (dt_platform.hpp), the 16550 console, the SBI firmware (firmware.hpp), the hart id as the CPU
// id, the RISC-V Image header, cxvisor's Sv39 translation, the PLIC and each hart's interrupt
// enables and timer.
#include "kernel/host_platform.hpp"
#include "arch.hpp"
#include "arch_stage2.hpp"
#include "arch_vcpu.hpp"
#include "asm_offsets.hpp"
#include "base/format.hpp"
#include "drivers/ns16550_console.hpp"
#include "dt_platform.hpp"
#include "firmware.hpp"
#include "kernel/log.hpp"
#include "kernel/percpu.hpp"
#include "mmu.hpp"
#include "plic.hpp"
#include <stddef.h>

extern "C" char _start[];

static_assert(offsetof(PerCpu, guest_regs) == PERCPU_GUEST_REGS && offsetof(PerCpu, host_sp) == PERCPU_HOST_SP &&
              offsetof(PerCpu, id) == PERCPU_ID && offsetof(PerCpu, stack_top) == PERCPU_STACK_TOP &&
              offsetof(PerCpu, hw_id) == PERCPU_HW_ID);
static_assert(sizeof(PerCpu) == PERCPU_SIZE && MAX_CPUS == PERCPU_COUNT, "boot.S scans g_percpu by hart id");

namespace arch {

u64 g_timebase_hz = 10'000'000; // until the DTB says (QEMU virt's rate: only counter deltas use it early)

namespace {
PlicConfig g_plic; // for host_irq_init
bool g_sstc;       // every hart has Sstc: cxvisor's timer is stimecmp
u32 g_satp_va_bits; // the widest satp mode of the boot hart (mmu.hpp), for the guests' mmu-type
} // namespace

void timer_set_deadline(u64 deadline) {
    // Sstc 1.0: STIP is pending while time >= stimecmp, so a new compare value also clears it.
    if (g_sstc) csr::write<csr::stimecmp>(deadline);
    else sbi::set_timer(deadline);
}
void timer_stop() { timer_set_deadline(~0ull); } // never: the compare is unsigned (Sstc 1.0)
bool host_has_sstc() { return g_sstc; }          // vcpu.hpp

Result<void> host_discover(const Fdt& fdt, HostPlatform& out, const char** what) {
    const RvPlatformInfo p = TRY(read_rv_platform(fdt, this_cpu_hw_id(), what));
    console_init(ns16550_console(p.uart.mmio.base.value(), p.uart.reg_shift, p.uart.reg_io_width));
    g_timebase_hz = p.timebase_hz;
    sbi::init();
    g_sstc = true;
    for (u32 i = 0; i < p.hart_count; ++i) g_sstc = g_sstc && p.harts[i].sstc;
    if (p.harts_without_h)
        kprint("cxvisor: %u hart(s) without the H extension (riscv,isa) are left off\n", p.harts_without_h);

    static_assert(RvPlatformInfo::kMaxCpus <= vm_package::MAX_CPUS && HostPlatform::kMaxDevices >= 2);
    host_platform_take_dt(out, p);
    out.cpu_count = p.hart_count;
    out.cpus_truncated = p.harts_truncated;
    g_plic.base = p.plic.mmio.base.value();
    g_plic.ndev = p.plic.ndev;
    g_plic.hart_count = p.hart_count;
    for (u32 i = 0; i < p.hart_count; ++i) {
        out.cpu_hw_id[i] = p.harts[i].hartid;
        g_plic.hartid[i] = p.harts[i].hartid;
        g_plic.s_context[i] = p.harts[i].s_context;
    }
    out.devices[out.device_count++] = p.plic.mmio;
    out.devices[out.device_count++] = p.uart.mmio;
    out.timer_irq = IRQ_TIMER;
    out.vcpu_timer_irq = 0; // a guest's timer is its own (vstimecmp) or emulated: no host interrupt of its own
    out.console_irq = p.uart.irq;
    out.kick_irq = IRQ_SOFT;
    // The G-stage mode of every VM, chosen before any exists (arch_stage2.hpp): no wider than the
    // satp modes the hart has (measured) and the narrowest mmu-type the DT states for a hart (a
    // board may restrict it; none stated: no limit from the DT).
    g_satp_va_bits = satp_probe_va_bits();
    u32 va_bits = g_satp_va_bits;
    for (u32 i = 0; i < p.hart_count; ++i)
        if (p.harts[i].mmu_va_bits && p.harts[i].mmu_va_bits < va_bits) va_bits = p.harts[i].mmu_va_bits;
    if (!stage2_probe(va_bits))
        panic("cxvisor: this hart's hgatp keeps neither MODE Sv39x4 nor Sv48x4 (RISC-V Privileged Spec 20211203, "
              "8.2.10): cxvisor has no G-stage translation for VMs");
    format(out.summary, sizeof out.summary, "PLIC at %lx, console at %lx, timer %s, G-stage %s, VS-stage Sv%u",
           p.plic.mmio.base.value(), p.uart.mmio.base.value(), g_sstc ? "Sstc" : "SBI", gstage_mode_name(g_stage2_mode),
           g_satp_va_bits);
    return {};
}

void prepare_guest_dt(u8* dtb, usize size) { fdt_set_mmu_type(dtb, size, g_satp_va_bits); }

// SBI and the PLIC name harts by hart id; S-mode cannot read mhartid, so each hart's id is kept in
// its PerCpu (boot.S stores the boot hart's; start_secondaries fills the others before starting).
u64 this_cpu_hw_id() { return this_cpu().hw_id; }

// The RISC-V Image header's image_size (boot.S, offset 0x10), which cxv-vmconfig --image patches
// to include the VM package.
u64 boot_image_size() { return *reinterpret_cast<const u64*>(_start + 0x10); }

Result<void> host_mmu_init(const HostPlatform& p, const PhysRange* extra, usize extra_count) {
    return mmu_init(p, extra, extra_count);
}

void host_cpu_early() { mmu_enable_secondary(); }

Result<void> host_irq_init(const HostPlatform&) { return plic_init(g_plic); }

void host_cpu_init(const HostPlatform& p) {
    timer_stop(); // no deadline yet: a stale compare value must not fire
    irq_cpu_init();
    irq_enable(p.timer_irq, true);
    virt_cpu_init();
}

u32 dt_device_irq(const Fdt& fdt, FdtNode n) { return rv_device_irq(fdt, n); }

} // namespace arch
