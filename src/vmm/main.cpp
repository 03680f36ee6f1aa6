// Boot flow: from the first instruction in C++ to every CPU running vCPUs.
//   boot CPU: machine description (DTB; x86: Multiboot + ACPI) -> console -> frames -> MMU -> heap
//             -> interrupt controller + timer -> start secondaries
//             (they initialise in parallel) -> VMs from the package -> run loop
//   secondary: MMU -> GIC redistributor + CPU interface -> timer -> run loop
#include "abi/vm_package.hpp"
#include "arch.hpp"
#include "arch_vcpu.hpp" // vcpu_backend_missing
#include "base/format.hpp"
#include "base/string.hpp"
#include "drivers/virtio_blk_host.hpp"
#include "fdt/fdt.hpp"
#include "kernel/cmdline.hpp"
#include "kernel/console.hpp"
#include "kernel/frames.hpp"
#include "kernel/heap.hpp"
#include "kernel/host_platform.hpp"
#include "kernel/irq.hpp"
#include "kernel/log.hpp"
#include "kernel/percpu.hpp"
#include "virtio/console.hpp"
#include "virtio/mmio.hpp"
#include "virtio/net.hpp"
#include "vmm/boot_medium.hpp"
#include "vmm/package.hpp"
#include "vmm/vmm.hpp"
#include <stdarg.h>

extern "C" char _start[], __image_start[], __image_end[];
extern "C" u64 cxv_package_offset;
extern "C" char cpu_stacks[];
extern "C" void secondary_entry();
void vmm_add_vm(Vm* vm);

PerCpu g_percpu[MAX_CPUS];
usize g_cpu_count = 1;

namespace {

HostPlatform g_plat;
bool g_exit_when_done; // host command line: set before anything can power off
bool g_package_given;  // the boot image or a boot medium carries a VM package (usable or not)

IrqAction timer_irq(u32, void*) {
    timer_handle_irq();
    return IrqAction::Done;
}
IrqAction kick_irq(u32, void*) { return IrqAction::Done; } // waking the CPU / making the guest exit is all it is for
IrqAction uart_irq(u32, void*) {
    console_handle_rx();
    return IrqAction::Done;
}

// A host configuration nothing can run on (too little RAM, no usable boot CPU, no VM that can
// start): say why and power the machine off, so that QEMU exits instead of hanging. Boot CPU only.
[[noreturn]] __attribute__((format(printf, 1, 2))) void power_off(const char* fmt, ...) {
    char why[384];
    va_list ap;
    va_start(ap, fmt);
    vformat(why, sizeof why, fmt, ap);
    va_end(ap);
    kprint("cxvisor: %s\ncxvisor: nothing can run; powering off\n", why);
    // A scripted run (exit_when_done) must not read this as a clean end.
    if (g_exit_when_done) kprint("cxvisor: all VMs have stopped: exit status 1 (nothing could run)\n");
    arch::system_off();
    kprint("cxvisor: the firmware did not power off (%s); halted\n", arch::SYSTEM_OFF_CALL);
    for (;;) arch::wfe();
}

const vm_package::PackageHeader* find_package(u64 image_size) {
    if (!cxv_package_offset) return nullptr;
    if (cxv_package_offset >= image_size) {
        kprint("cxvisor: the VM package offset lies outside the image; ignored\n");
        return nullptr;
    }
    const char* why = nullptr;
    auto h = package_open(_start + cxv_package_offset, image_size - cxv_package_offset, arch::PACKAGE_ISA, &why);
    if (h.is_error()) {
        kprint("cxvisor: the VM package is corrupt: %s; no VMs started\n", why);
        return nullptr;
    }
    return h.value();
}

// The heap holds what create_vms allocates per VM (the Vm, its vCPUs, its emulated devices). Its
// size follows the machine and the package instead of a fixed 8 MiB that a 16 MiB machine cannot
// spare: 1/32 of RAM up to 8 MiB (room for what other objects VMs may come to need), and never
// less than this package needs. Records are counted within the format's limits; package_check_vm
// rejects the others later.
usize heap_bytes_for(const vm_package::PackageHeader* h, u64 ram_total) {
    constexpr usize OVERHEAD = 64; // kmalloc header and rounding, per allocation
    constexpr usize SLACK = 64 * KiB, MOST = 8 * MiB;
    usize need = SLACK;
    auto* recs = h ? reinterpret_cast<const vm_package::VmRecord*>(reinterpret_cast<const u8*>(h) + h->vm_records)
                   : nullptr;
    for (u32 i = 0; h && i < h->vm_count; ++i) {
        u32 cpus = recs[i].cpu_num < vm_package::MAX_VCPUS ? recs[i].cpu_num : vm_package::MAX_VCPUS;
        u32 uarts = recs[i].emu_count < vm_package::MAX_EMU_DEVICES ? recs[i].emu_count : vm_package::MAX_EMU_DEVICES;
        // An emulated device: a PL011, or a virtio transport with its device (the largest type
        // stands for every virtio type; a block device's backend object is one more allocation,
        // its buffers and RAM-disk chunks come from the frame allocator).
        constexpr usize BLOCK = sizeof(virtio::BlockDevice) + OVERHEAD +
                                (sizeof(virtio::RamDiskBackend) > sizeof(HostRegionBackend) ? sizeof(virtio::RamDiskBackend)
                                                                                            : sizeof(HostRegionBackend));
        constexpr usize CONSOLE_OR_NET = sizeof(virtio::ConsoleDevice) > sizeof(virtio::NetDevice)
                                             ? sizeof(virtio::ConsoleDevice)
                                             : sizeof(virtio::NetDevice);
        constexpr usize VIRTIO_DEVICE = BLOCK > CONSOLE_OR_NET ? BLOCK : CONSOLE_OR_NET;
        constexpr usize DEVICE = sizeof(Pl011) > sizeof(virtio::MmioTransport) + VIRTIO_DEVICE
                                     ? sizeof(Pl011)
                                     : sizeof(virtio::MmioTransport) + VIRTIO_DEVICE + OVERHEAD;
        need += sizeof(Vm) + OVERHEAD + cpus * (sizeof(Vcpu) + OVERHEAD) + uarts * (DEVICE + OVERHEAD);
    }
    usize share = ram_total / 32 < MOST ? usize(ram_total / 32) : MOST;
    return align_up(need > share ? need : share, FRAME_SIZE);
}

struct BootCount {
    usize booted = 0;  // started at boot
    usize waiting = 0; // created and checked, [base] autostart = false: for the shell to start
};

// Creates every VM of the package that passes its checks and boots those marked to autostart.
BootCount create_vms(const vm_package::PackageHeader* h) {
    if (!h) {
        if (g_package_given) kprint("cxvisor: no VMs configured (the VM package above is unusable)\n");
        else kprint("cxvisor: no VMs configured (build the boot image with cxv-vmconfig --image, or give the package "
                    "as fw_cfg file %s); the shell is up\n", boot_medium::kPackageFile);
        return {};
    }
    // RAM, GIC frames, the console and DMA-capable devices, as the host DTB describes them.
    static HostOwnedRanges owned; // ~25 KiB: not on the boot stack
    static_assert(HostPlatform::kMaxOwned <= HostOwnedRanges::PLATFORM_CAPACITY);
    auto own = [&](PhysRange r, HostOwnedRanges::Info info) {
        if (owned.count == HostOwnedRanges::CAPACITY)
            panic("host-owned range table full"); // sized for the platform and package limits: a bug if reached
        owned.info[owned.count] = info;
        owned.ranges[owned.count++] = r;
    };
    for (u32 i = 0; i < g_plat.owned_count; ++i)
        own(g_plat.owned[i].range, {g_plat.owned[i].node, g_plat.owned[i].why, nullptr});
    owned.incomplete = g_plat.owned_incomplete;
    // Interrupts cxvisor keeps: its console's (SGIs and PPIs are never forwardable anyway).
    if (g_plat.console_irq) owned.irqs[owned.irq_count++] = {g_plat.console_irq, "the host console UART", nullptr};
    auto* base = reinterpret_cast<const u8*>(h);
    for (u32 i = 0; i < h->vm_count; ++i) {
        char why[PACKAGE_WHY_SIZE];
        auto checked = package_check_vm(*h, i, MAX_CPUS, why, sizeof why);
        if (checked.is_error()) {
            kprint("cxvisor: %s (corrupt package?); not started\n", why);
            continue;
        }
        const auto& rec = *checked.value();
        // An ISA whose vCPU backend is still missing says so for every VM instead of building
        // VMs it cannot run (arch_vcpu.hpp).
        if (const char* missing = arch::vcpu_backend_missing()) {
            kprint("cxvisor: %s; VM %s not started\n", missing, rec.name);
            continue;
        }
        auto vm = Vm::create(rec, base, i + 1, g_cpu_count, owned);
        if (vm.is_error()) { // Vm::create said why
            kprint("cxvisor: vm %u (%s) not started: %s\n", rec.id, rec.name, error_name(vm.error()));
            continue;
        }
        vmm_add_vm(vm.value());
        // Its passthrough devices and reserved carve-outs are its own from now on: a later VM
        // claiming them is refused like one claiming cxvisor's devices (cxv-vmconfig checks this
        // too; the image does not trust the package). Identical RAM is guarded by the allocator.
        auto* pt = reinterpret_cast<const vm_package::PassthroughDevice*>(base + rec.pt_devices);
        for (u32 d = 0; d < rec.pt_count; ++d) {
            own({HostPhysAddr(pt[d].base_hpa), pt[d].length},
                {pt[d].name, nullptr, vm.value()->name()}); // printed with %.31s: may lack its NUL
            if (pt[d].irq && vm.value()->vintc() && owned.irq_count < HostOwnedRanges::IRQ_CAPACITY)
                owned.irqs[owned.irq_count++] = {pt[d].irq, pt[d].name, vm.value()->name()};
        }
        auto* regions = reinterpret_cast<const vm_package::MemRegion*>(base + rec.regions);
        for (u32 r = 0; r < rec.region_count; ++r)
            if (vm_package::MapType(regions[r].map_type) == vm_package::MapType::Reserved)
                own({HostPhysAddr(regions[r].gpa), regions[r].size}, {"a reserved region", nullptr, vm.value()->name()});
        // Where each vCPU may run: "cpu N" when pinned, "any" otherwise.
        char placement[vm_package::MAX_VCPUS * 8] = "";
        usize len = 0;
        for (u32 v = 0; v < rec.cpu_num && len < sizeof placement; ++v) {
            u32 p = rec.phys_cpu_ids[v];
            len += p == vm_package::ANY_CPU ? format(placement + len, sizeof placement - len, "%sany", v ? " " : "")
                                            : format(placement + len, sizeof placement - len, "%scpu %u", v ? " " : "", p);
        }
        kprint("cxvisor: vm %u (%s): %u vCPU(s) [%s], entry %lx\n", rec.id, vm.value()->name(), rec.cpu_num, placement,
               rec.entry_point);
    }
    BootCount n;
    for (usize i = 0; i < vmm_vm_count(); ++i) {
        Vm* vm = vmm_vm(i);
        if (!vm->autostart()) { // the operator starts it from the shell
            kprint("cxvisor: vm %u (%s): created, not started (autostart = false)\n", vm->id(), vm->name());
            ++n.waiting;
        } else if (auto r = vm->boot(); r.is_error()) {
            kprint("cxvisor: vm %u (%s) failed to boot: %s\n", vm->id(), vm->name(), error_name(r.error()));
        } else {
            ++n.booted;
        }
    }
    return n;
}

// Logical CPU ids follow the DTB's cpu nodes (what configs' phys_cpu_ids name); the boot CPU can
// be any of them. Stack slot 0 is the boot CPU's (boot.S), CPU i otherwise uses slot i + 1.
// Returns how many were started (the firmware accepted CPU_ON); each reports online itself.
usize start_secondaries() {
    usize started = 0;
    for (u32 i = 0; i < g_cpu_count; ++i) {
        if (&g_percpu[i] == &this_cpu()) continue;
        PerCpu& c = g_percpu[i];
        c.id = i;
        c.hw_id = g_plat.cpu_hw_id[i];
        c.stack_top = u64(cpu_stacks) + (i + 2) * CPU_STACK_SIZE;
        arch::clean_dcache_range(&c, sizeof c); // it starts with its MMU and caches off
        if (arch::start_cpu(c.hw_id, u64(secondary_entry), u64(&c)).is_error())
            kprint("cxvisor: CPU %u (hardware id %lx) did not start\n", i, c.hw_id);
        else
            ++started;
    }
    return started;
}

usize cpus_online() {
    usize online = 0;
    for (usize i = 0; i < g_cpu_count; ++i) online += g_percpu[i].online.load();
    return online;
}

// The boot line's "started on N/M CPUs" is the operator's check that every CPU came up. The
// secondaries start while the VMs are built and usually beat it, but a slow machine (QEMU TCG
// bringing up 16 CPUs one after another on a loaded host) may not: give each started CPU up to
// this long before counting, so that a CPU missing from the count really did not come up.
constexpr u64 CPU_ONLINE_WAIT_MS = 3000;

} // namespace

extern "C" [[noreturn]] void kernel_main(u64 boot_arg) {
    u64 t0 = arch::counter();
    timer_mark_boot(t0);
    // Until the machine's description says which logical CPU this is, run on slot 0's PerCpu
    // (nothing before host_boot returns uses per-CPU state).
    arch::set_percpu_pointer(&g_percpu[0]);

    const char* what = nullptr;
    // No valid description (no DTB, no Multiboot information): there may be no console, so
    // nothing can be reported.
    if (arch::host_boot(boot_arg, g_plat, &what).is_error()) for (;;) arch::wfe();
    const HostCmdline cmdline = g_plat.cmdline;
    if (cmdline.timestamps) log_set_clock(uptime_us);
    g_exit_when_done = cmdline.exit_when_done;
    vmm_set_exit_when_done(cmdline.exit_when_done);
    g_cpu_count = g_plat.cpu_count;
    if (g_plat.cpus_truncated)
        kprint("cxvisor: the machine has more CPUs than cxvisor supports (MAX_CPUS = %zu): it uses the first %zu "
               "listed (with the boot CPU as the last if it comes later) and leaves the others off (give QEMU -smp "
               "%zu or fewer, or raise MAX_CPUS in src/abi/vm_package.hpp)\n",
               MAX_CPUS, g_cpu_count, MAX_CPUS);
    const u64 boot_hw_id = arch::this_cpu_hw_id();
    usize boot_id = g_cpu_count;
    for (usize i = 0; i < g_cpu_count; ++i)
        if (g_plat.cpu_hw_id[i] == boot_hw_id) boot_id = i;
    if (boot_id == g_cpu_count)
        power_off("the boot CPU (hardware id %lx) is not among the CPUs the firmware lists", boot_hw_id);
    PerCpu& boot = g_percpu[boot_id];
    boot.id = boot_id;
    boot.hw_id = boot_hw_id;
    boot.stack_top = u64(cpu_stacks) + CPU_STACK_SIZE;
    arch::set_percpu_pointer(&boot);

    const u64 image_size = arch::boot_image_size();
    u64 ram_total = 0;
    for (u32 i = 0; i < g_plat.ram_count; ++i) ram_total += g_plat.ram[i].size;
    PhysRange used[HostPlatform::kMaxReserved + 2];
    usize used_count = 0;
    used[used_count++] = {HostPhysAddr(u64(_start)), align_up(image_size, FRAME_SIZE)};
    if (g_plat.boot_data.size) used[used_count++] = g_plat.boot_data;
    for (u32 i = 0; i < g_plat.reserved_count; ++i) used[used_count++] = g_plat.reserved[i];
    kprint("cxvisor %s: %u CPUs, %lu MiB RAM, %s\n", arch::NAME, g_plat.cpu_count, ram_total / MiB, g_plat.summary);
    // What cxvisor itself needs before any VM: its image and the VM package (as loaded), the DTB,
    // the frame bitmap, its page tables and the heap. Reported when the machine has less.
    const vm_package::PackageHeader* package = find_package(image_size);
    g_package_given = cxv_package_offset != 0;
    // Without one in the image, the package may be on a boot medium: its resident part is read to
    // the next page after the image and kept from the allocator like an embedded package.
    boot_medium::Package from_medium;
    if (!g_package_given) {
        from_medium = boot_medium::load_package(g_plat, HostPhysAddr(u64(_start)) + align_up(image_size, FRAME_SIZE),
                                                used + 1, used_count - 1);
        g_package_given = from_medium.present;
        package = from_medium.header;
        if (package) used[0].size += from_medium.resident.size;
        Vm::set_package_medium(from_medium.medium);
    }
    usize heap_bytes = heap_bytes_for(package, ram_total);
    // RAM below the image end counts as needed: a loader puts the image near the start of its bank.
    u64 below_image = image_size;
    for (u32 i = 0; i < g_plat.ram_count; ++i)
        if (g_plat.ram[i].overlaps(HostPhysAddr(u64(_start)), 1))
            below_image = u64(_start) - g_plat.ram[i].base.value() + image_size;
    auto host_setup_failed = [&](const char* what, Error e) {
        if (e != Error::NoMemory) power_off("%s failed: %s", what, error_name(e));
        power_off("not enough RAM for cxvisor itself: %s failed (out of memory); the machine has %lu MiB, cxvisor "
                  "needs its image and VM package (%lu KiB), %zu KiB of heap and about 1 MiB of tables, plus the "
                  "VMs' RAM; give the machine more RAM (QEMU -m, at least %lu MiB for cxvisor alone)",
                  what, ram_total / MiB, image_size / KiB, heap_bytes / KiB,
                  align_up(below_image + heap_bytes + MiB, MiB) / MiB);
    };
    if (auto r = frames_init(g_plat.ram, g_plat.ram_count, used, used_count); r.is_error())
        host_setup_failed("the frame allocator", r.error());

    // The host's virtio-blk disk for VMs' host regions: found while translation is still off (its
    // registers are read at their physical addresses), mapped with cxvisor's devices.
    const HostDisk::Probe host_disk = g_plat.fdt ? HostDisk::probe(*g_plat.fdt) : HostDisk::Probe{};
    // Device windows cxvisor's own drivers use besides the platform's: the disk, and the boot
    // medium kernels are read from at the VMs' first touches.
    PhysRange windows[2];
    usize window_count = 0;
    if (host_disk.found)
        windows[window_count++] = {HostPhysAddr(align_down(host_disk.mmio.base.value(), FRAME_SIZE)), FRAME_SIZE};
    if (from_medium.header) windows[window_count++] = from_medium.registers;
    if (auto r = arch::host_mmu_init(g_plat, windows, window_count); r.is_error())
        host_setup_failed("cxvisor's page tables", r.error());
    if (auto r = heap_init(heap_bytes); r.is_error()) host_setup_failed("the heap", r.error());
    HostDisk::init(host_disk);

    if (auto r = arch::host_irq_init(g_plat); r.is_error()) host_setup_failed("the interrupt controller set-up", r.error());
    irq_register(g_plat.timer_irq, timer_irq, nullptr);
    irq_register(g_plat.kick_irq, kick_irq, nullptr);
    if (g_plat.console_irq) irq_register(g_plat.console_irq, uart_irq, nullptr);
    if (g_plat.vcpu_timer_irq) irq_register(g_plat.vcpu_timer_irq, vmm_vcpu_timer_irq, nullptr);
    arch::host_cpu_init(g_plat);
    if (g_plat.console_irq) arch::irq_enable(g_plat.console_irq, true);

    sched_set_cpu_count(g_cpu_count);
    boot.online.store(true);
    const usize secondaries = start_secondaries();
    // VMs waiting for the operator keep cxvisor up (the shell can start them); a package none of
    // whose VMs can run does not.
    BootCount vms = create_vms(package);
    // An image without a VM package is a machine to look at (the shell: cpus, version, log); a
    // package none of whose VMs could start (or a corrupt one) is an error and ends the run. A
    // machine that cannot host any VM (no vCPU backend for this CPU: the boot line and each VM's
    // refusal said so) is a machine to look at too: its shell stays up, as without a package.
    if (g_package_given && vms.booted + vms.waiting == 0 && !arch::vcpu_backend_missing())
        power_off("no VM could be started (see the messages above)");
    vmm_vms_created();
    const u64 boot_us = (arch::counter() - t0) * 1000 / timer_ticks_per_ms();
    const u64 wait_end = arch::counter() + CPU_ONLINE_WAIT_MS * timer_ticks_per_ms();
    while (cpus_online() < 1 + secondaries && arch::counter() < wait_end) arch::cpu_relax();
    usize online = cpus_online();
    kprint("cxvisor: %zu VM(s) started on %zu/%zu CPUs in %lu us\n", vms.booted, online, g_cpu_count, boot_us);
    if (online < 1 + secondaries)
        kprint("cxvisor: %zu started CPU(s) did not come online within %lu ms; they run nothing\n",
               1 + secondaries - online, CPU_ONLINE_WAIT_MS);
    vmm_console_boot(vmm_shell_backend());
    // Only now is input read: what was typed while the VMs were built waited in the UART (and
    // behind it, in QEMU's character backend) and goes where the line above says.
    console_set_input_handler(vmm_console_input);
    vmm_cpu_loop();
}

extern "C" [[noreturn]] void secondary_main(PerCpu* me) {
    arch::host_cpu_early();
    arch::host_cpu_init(g_plat);
    me->online.store(true);
    vmm_cpu_loop();
}
