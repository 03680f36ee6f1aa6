// The x86_64 side of the host bring-up (kernel/host_platform.hpp): Multiboot information and ACPI
// tables instead of a device tree (boot_info.hpp), the 16550 at I/O port 0x3F8 as the console,
// the local APICs and IOAPICs (apic.hpp), cxvisor's 4- or 5-level tables (mmu.hpp) and SVM (svm.hpp).
#include "kernel/host_platform.hpp"
#include "kernel/cpu_slots.hpp"
#include "apic.hpp"
#include "arch.hpp"
#include "arch_vcpu.hpp"
#include "asm_offsets.hpp"
#include "base/format.hpp"
#include "boot_info.hpp"
#include "drivers/ns16550_console.hpp"
#include "fdt/fdt.hpp"
#include "kernel/frames.hpp"
#include "kernel/log.hpp"
#include "kernel/percpu.hpp"
#include "mmu.hpp"
#include "svm.hpp"
#include "vmx/probe.hpp"
#include <stddef.h>

extern "C" char _start[];
extern "C" void secondary_entry();

static_assert(offsetof(PerCpu, guest_regs) == PERCPU_GUEST_REGS && offsetof(PerCpu, host_sp) == PERCPU_HOST_SP &&
              offsetof(PerCpu, id) == PERCPU_ID && offsetof(PerCpu, stack_top) == PERCPU_STACK_TOP &&
              offsetof(PerCpu, hw_id) == PERCPU_HW_ID);
static_assert(sizeof(PerCpu) == PERCPU_SIZE && MAX_CPUS == PERCPU_COUNT, "boot.S scans g_percpu by APIC id");

namespace arch {

namespace {

// COM1 on every PC (the BIOS data area lists it at 0x400; QEMU's pc and q35 put the first -serial
// there, on ISA IRQ 4).
constexpr u16 COM1 = 0x3F8;
constexpr u8 COM1_ISA_IRQ = 4;

u32 com_read(void*, u32 reg) { return x86::inb(u16(COM1 + reg)); }
void com_write(void*, u32 reg, u32 v) { x86::outb(u16(COM1 + reg), u8(v)); }

// No firmware promises a line setting: 115200 8N1 with the FIFOs on and cleared (PC16550D
// datasheet: LCR.DLAB exposes the divisor latch; divisor 1 = 115200 baud from 1.8432 MHz).
void com_line_init() {
    com_write(nullptr, 3, 0x80); // LCR: DLAB
    com_write(nullptr, 0, 1);    // DLL
    com_write(nullptr, 1, 0);    // DLM
    com_write(nullptr, 3, 0x03); // LCR: 8 data bits, no parity, 1 stop bit
    com_write(nullptr, 2, 0x07); // FCR: FIFOs on, both cleared, receive trigger 1 byte
}

// The boot tables identity-map the first 4 GiB (boot.S): what the loader and the firmware left
// there is read in place.
const u8* identity_map(void*, u64 pa, u64 len) {
    constexpr u64 LIMIT = 4ull << 30;
    return pa < LIMIT && len <= LIMIT - pa ? reinterpret_cast<const u8*>(pa) : nullptr;
}

AcpiInfo g_acpi;
char g_cmdline[256];

// Multiboot's command line starts with the kernel's path (QEMU: "<-kernel file> <-append text>"):
// the host command line is what follows the first word.
void take_cmdline(u64 pa, HostPlatform& out) {
    if (!pa) return;
    const char* s = reinterpret_cast<const char*>(pa);
    usize n = 0;
    while (n + 1 < sizeof g_cmdline && s[n]) g_cmdline[n] = s[n], ++n;
    g_cmdline[n] = 0;
    usize i = 0;
    while (g_cmdline[i] && g_cmdline[i] != ' ') ++i;
    out.cmdline = cmdline_parse(g_cmdline + i, n - i);
}

} // namespace

Result<void> host_boot(u64 boot_arg, HostPlatform& out, const char** what) {
    com_line_init();
    console_init(ns16550_console(Ns16550Access{com_read, com_write, nullptr}));
    const PhysReader mem{identity_map, nullptr};
    auto fail = [&](Error e) {
        kprint("cxvisor: x86_64: cannot boot: %s\n", *what);
        return e;
    };
    const auto mb = multiboot_parse(mem, boot_arg, what);
    if (mb.is_error()) return fail(mb.error());
    take_cmdline(mb.value().cmdline, out);
    const auto rsdp = acpi_find_rsdp(mem);
    if (rsdp.is_error()) {
        *what = "no ACPI RSDP in the BIOS area (ACPI 6.5, 5.2.5.1): CPUs and IOAPICs cannot be found";
        return fail(rsdp.error());
    }
    auto acpi = acpi_parse(mem, rsdp.value(), what);
    if (acpi.is_error()) return fail(acpi.error());
    g_acpi = acpi.value();
    // NX is what keeps cxvisor's data and RAM non-executable (mmu.hpp): no W^X without it.
    if (!(x86::cpuid(0x8000'0001).d & bit(20))) {
        *what = "the CPU has no NX (CPUID 8000_0001h EDX[20]): cxvisor's W^X mappings need it";
        return fail(Error::Unsupported);
    }
    const bool x2apic = x86::cpuid(1).c & bit(21);
    apic_boot_init({g_acpi.lapic_base, x2apic, &g_acpi});
    smp_prepare_trampoline(u64(secondary_entry));

    const MultibootInfo& m = mb.value();
    static_assert(MultibootInfo::kMaxRam <= HostPlatform::kMaxRam);
    for (u32 i = 0; i < m.ram_count; ++i) {
        out.ram[out.ram_count++] = m.ram[i];
        out.owned[out.owned_count++] = {m.ram[i], "RAM", "host RAM (Multiboot memory map)"};
    }
    if (m.ram_truncated)
        kprint("cxvisor: x86_64: the memory map has more than %u RAM ranges; the rest is not used\n", MultibootInfo::kMaxRam);
    CpuSlots slots(vm_package::MAX_CPUS, apic_this_id()); // the BSP is kept (kernel/cpu_slots.hpp)
    for (u32 i = 0; i < g_acpi.cpu_count; ++i)
        if (u32 slot = 0; slots.take(g_acpi.cpus[i].apic_id, slot)) out.cpu_hw_id[slot] = g_acpi.cpus[i].apic_id;
    out.cpu_count = slots.count();
    out.cpus_truncated = slots.truncated() || g_acpi.cpus_truncated;
    const PhysRange lapic{HostPhysAddr(g_acpi.lapic_base), FRAME_SIZE};
    out.devices[out.device_count++] = lapic;
    out.owned[out.owned_count++] = {lapic, "local APIC", "cxvisor's interrupt controller"};
    for (u32 i = 0; i < g_acpi.ioapic_count && out.device_count < HostPlatform::kMaxDevices; ++i) {
        const PhysRange io{HostPhysAddr(g_acpi.ioapics[i].base), FRAME_SIZE};
        out.devices[out.device_count++] = io;
        out.owned[out.owned_count++] = {io, "IOAPIC", "cxvisor's interrupt controller"};
    }
    out.timer_irq = IRQ_TIMER;
    out.vcpu_timer_irq = 0;
    out.kick_irq = IRQ_KICK;
    out.console_irq = acpi_isa_irq(g_acpi, COM1_ISA_IRQ).gsi;

    const SvmInfo svm = svm_probe();
    const char* svm_text = !svm.present ? "no SVM" : svm.disabled ? "SVM disabled (VM_CR.SVMDIS)" : svm.npt ? "SVM+NPT" : "SVM without NPT";
    // The paging depth boot.S chose (mmu.hpp): cxvisor's own and, under SVM, its VMs' nested tables.
    format(out.summary, sizeof out.summary, "%s, IOAPIC at %lx, console at port %x, %s, %s", x2apic ? "x2APIC" : "xAPIC",
           g_acpi.ioapics[0].base, COM1, svm_text, host_paging().name());
    kprint("cxvisor: x86_64: TSC %lu kHz, LAPIC timer %lu kHz (PIT-calibrated)\n", g_tsc_hz / 1000,
           apic_timer_hz() / 1000);
    if (svm.present && !svm.disabled)
        kprint("cxvisor: x86_64: SVM revision %u, %u ASIDs, nested paging %s, nRIP save %s, decode assists %s, "
               "flush by ASID %s, VMCB clean bits %s\n",
               svm.revision, svm.asids, svm.npt ? "yes" : "no", svm.nrips ? "yes" : "no", svm.decode_assists ? "yes" : "no",
               svm.flush_by_asid ? "yes" : "no", svm.vmcb_clean ? "yes" : "no");
    // SVM or VMX, chosen from CPUID and the firmware's MSRs (vmx/select.hpp), and why.
    const VirtChoice& virt = virt_choose();
    kprint("cxvisor: x86_64: virtualization backend %s on %s: %s\n", virt_backend_name(virt.backend), virt.vendor, virt.why);
    if (virt.backend == VirtBackend::Vmx) vmx_boot_report();
    else if (virt.backend == VirtBackend::None)
        kprint("cxvisor: x86_64: %s: no VM could run here (CPUID 8000_0001h ECX.SVM, VM_CR.SVMDIS)\n", svm_text);
    return {};
}

u64 this_cpu_hw_id() { return apic_this_id(); }

// The image as loaded: from load_addr to the Multiboot header's bss_end_addr (boot.S), which
// cxv-vmconfig --image moves past the VM package it appends (board_x86_64.cpp), so the package
// is loaded with the image and reserved with it.
u64 boot_image_size() {
    const u32* mb = reinterpret_cast<const u32*>(_start + 4); // magic, flags, checksum, header_addr, load_addr, load_end, bss_end
    return u64(mb[6]) - u64(mb[4]);
}

Result<void> host_mmu_init(const HostPlatform& p, const PhysRange* extra, usize extra_count) {
    return mmu_init(p, extra, extra_count);
}

void host_cpu_early() { mmu_enable_secondary(); }

Result<void> host_irq_init(const HostPlatform&) {
    ioapic_init();
    return {};
}

void host_cpu_init(const HostPlatform& p) {
    timer_stop();
    irq_cpu_init();
    irq_enable(p.timer_irq, true);
    virt_cpu_init();
    // The boot CPU comes first (the others start after it) and says once that the interrupt path
    // works; any CPU on which it does not says so.
    static bool first = true;
    const char* what = nullptr;
    if (auto late = apic_check_this_cpu(&what); late.is_error())
        kprint("cxvisor: x86_64: CPU %lu: %s: its timers and kicks do not work\n", this_cpu().id, what);
    else if (first)
        kprint("cxvisor: x86_64: the LAPIC timer interrupts (taken %ld us after a 1 ms deadline) and so do IPIs\n",
               i64(late.value()));
    first = false;
}

// 4.8.3.2.1: SLP_TYPx (bits 12:10) with SLP_EN (bit 13) in one write enters the sleep state; the
// value for S5 comes from \_S5 (7.4.2).
void system_off() {
    if (!g_acpi.pm1a_cnt || !g_acpi.s5_found) {
        kprint("cxvisor: x86_64: the ACPI tables give no PM1a control block or \\_S5 object\n");
        return;
    }
    x86::outw(g_acpi.pm1a_cnt, u16(g_acpi.s5_slp_typ << 10 | 1u << 13));
    // The chipset takes its time (QEMU: the write only requests the shutdown, its main loop carries
    // it out while the CPUs keep running): give it 2 s before reporting that it stayed on.
    udelay(2'000'000);
}

u32 dt_device_irq(const Fdt&, FdtNode) { return 0; } // no host device tree on x86 (arch.hpp)

} // namespace arch
