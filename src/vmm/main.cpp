// Boot flow: from the first instruction in C++ to every CPU running vCPUs.
//   boot CPU: DTB -> console -> frames -> EL2 MMU -> heap -> GIC + timer -> start secondaries
//             (they initialise in parallel) -> VMs from the package -> run loop
//   secondary: MMU -> GIC redistributor + CPU interface -> timer -> run loop
#include "abi/vm_package.hpp"
#include "arch.hpp"
#include "arch/aarch64/dt_platform.hpp"
#include "arch/aarch64/gicv3.hpp"
#include "arch/aarch64/mmu.hpp"
#include "base/format.hpp"
#include "base/string.hpp"
#include "fdt/fdt.hpp"
#include "kernel/console.hpp"
#include "kernel/frames.hpp"
#include "kernel/heap.hpp"
#include "kernel/irq.hpp"
#include "kernel/log.hpp"
#include "kernel/percpu.hpp"
#include "platform/qemu-virt/pl011_console.hpp"
#include "vmm/package.hpp"
#include "vmm/vmm.hpp"

extern "C" char _start[], __image_start[], __image_end[];
extern "C" u64 cxv_package_offset;
extern "C" char cpu_stacks[];
extern "C" void secondary_entry();
void vmm_add_vm(Vm* vm);
namespace arch { extern bool g_psci_use_hvc; }

PerCpu g_percpu[MAX_CPUS];
usize g_cpu_count = 1;

namespace {

PlatformInfo g_plat;

void timer_irq(u32, void*) { timer_handle_irq(); }
void kick_irq(u32, void*) {} // waking the CPU / making the guest exit is all it is for
void uart_irq(u32, void*) { console_handle_rx(); }

void cpu_common_init() {
    arch::irq_cpu_init();
    arch::irq_enable(g_plat.timer.hyp_phys_intid, true);
    arch::virt_cpu_init();
    // The guests' virtual timer PPI stays disabled at the physical GIC: without a vGIC there is no
    // way to hand it to the guest, and a halted vCPU's timer is tracked by cxvisor (wake_deadline).
    arch::irq_enable(g_plat.timer.virt_intid, false);
}

const vm_package::PackageHeader* find_package(u64 image_size) {
    if (!cxv_package_offset) return nullptr;
    if (cxv_package_offset >= image_size) {
        kprint("cxvisor: the VM package offset lies outside the image; ignored\n");
        return nullptr;
    }
    const char* why = nullptr;
    auto h = package_open(_start + cxv_package_offset, image_size - cxv_package_offset, &why);
    if (h.is_error()) {
        kprint("cxvisor: the VM package is corrupt: %s; no VMs started\n", why);
        return nullptr;
    }
    return h.value();
}

void create_vms(u64 image_size) {
    const vm_package::PackageHeader* h = find_package(image_size);
    if (!h) {
        kprint("cxvisor: no VMs configured (build the boot image with cxv-vmconfig --image)\n");
        return;
    }
    // RAM, GIC frames, the console and DMA-capable devices, as the host DTB describes them.
    static HostOwnedRanges owned; // ~25 KiB: not on the boot stack
    static_assert(PlatformInfo::kMaxOwned <= HostOwnedRanges::PLATFORM_CAPACITY);
    auto own = [&](PhysRange r, HostOwnedRanges::Info info) {
        if (owned.count == HostOwnedRanges::CAPACITY)
            panic("host-owned range table full"); // sized for the platform and package limits: a bug if reached
        owned.info[owned.count] = info;
        owned.ranges[owned.count++] = r;
    };
    for (u32 i = 0; i < g_plat.owned_count; ++i)
        own(g_plat.owned[i].range, {g_plat.owned[i].node, g_plat.owned[i].why, nullptr});
    owned.incomplete = g_plat.owned_incomplete;
    auto* base = reinterpret_cast<const u8*>(h);
    auto* recs = reinterpret_cast<const vm_package::VmRecord*>(base + h->vm_records);
    for (u32 i = 0; i < h->vm_count; ++i) {
        const auto& rec = recs[i];
        auto vm = Vm::create(rec, base, h->total_size, i + 1, g_cpu_count, owned);
        if (vm.is_error()) {
            kprint("cxvisor: vm %u (%.31s) not started: %s\n", rec.id, rec.name, error_name(vm.error()));
            continue;
        }
        vmm_add_vm(vm.value());
        // Its passthrough devices and reserved carve-outs are its own from now on: a later VM
        // claiming them is refused like one claiming cxvisor's devices (cxv-vmconfig checks this
        // too; the image does not trust the package). Identical RAM is guarded by the allocator.
        auto* pt = reinterpret_cast<const vm_package::PassthroughDevice*>(base + rec.pt_devices);
        for (u32 d = 0; d < rec.pt_count; ++d)
            own({HostPhysAddr(pt[d].base_hpa), pt[d].length},
                {pt[d].name, nullptr, vm.value()->name()}); // printed with %.31s: may lack its NUL
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
    for (usize i = 0; i < vmm_vm_count(); ++i) {
        Vm* vm = vmm_vm(i);
        if (auto r = vm->boot(); r.is_error())
            kprint("cxvisor: vm %u (%s) failed to boot: %s\n", vm->id(), vm->name(), error_name(r.error()));
    }
}

// Logical CPU ids follow the DTB's cpu nodes (what configs' phys_cpu_ids name); the boot CPU can
// be any of them. Stack slot 0 is the boot CPU's (boot.S), CPU i otherwise uses slot i + 1.
void start_secondaries() {
    for (u32 i = 0; i < g_cpu_count; ++i) {
        if (&g_percpu[i] == &this_cpu()) continue;
        PerCpu& c = g_percpu[i];
        c.id = i;
        c.hw_id = g_plat.cpus[i].mpidr;
        c.stack_top = u64(cpu_stacks) + (i + 2) * CPU_STACK_SIZE;
        arch::clean_dcache_range(&c, sizeof c); // it starts with its MMU and caches off
        if (arch::start_cpu(c.hw_id, u64(secondary_entry), u64(&c)).is_error())
            kprint("cxvisor: CPU %u (MPIDR %lx) did not start\n", i, c.hw_id);
    }
}

} // namespace

extern "C" [[noreturn]] void kernel_main(u64 dtb) {
    u64 t0 = arch::counter();
    // Until the DTB says which logical CPU this is, run on slot 0's PerCpu (nothing before
    // read_platform uses per-CPU state).
    arch::set_percpu_pointer(&g_percpu[0]);

    auto fdt = Fdt::create(reinterpret_cast<const void*>(dtb), 2 * MiB);
    if (fdt.is_error()) for (;;) arch::wfe(); // no DTB, no console: nothing can be reported
    const char* what = nullptr;
    auto plat = read_platform(fdt.value(), &what);
    if (plat.is_error()) for (;;) arch::wfe();
    g_plat = plat.value();
    console_init(pl011_console(g_plat.uart.mmio.base.value()));
    arch::g_psci_use_hvc = g_plat.psci == PsciMethod::Hvc;
    g_cpu_count = g_plat.cpu_count < MAX_CPUS ? g_plat.cpu_count : MAX_CPUS;
    u64 boot_mpidr = read_sysreg(mpidr_el1) & 0xFF00FFFFFFull;
    usize boot_id = g_cpu_count;
    for (usize i = 0; i < g_cpu_count; ++i)
        if (g_plat.cpus[i].mpidr == boot_mpidr) boot_id = i;
    if (boot_id == g_cpu_count) {
        kprint("cxvisor: the boot CPU (MPIDR %lx) is not among the DTB's first %zu cpu nodes; halted\n", boot_mpidr,
               g_cpu_count);
        for (;;) arch::wfe();
    }
    PerCpu& boot = g_percpu[boot_id];
    boot.id = boot_id;
    boot.hw_id = boot_mpidr;
    boot.stack_top = u64(cpu_stacks) + CPU_STACK_SIZE;
    arch::set_percpu_pointer(&boot);

    u64 image_size = *reinterpret_cast<u64*>(_start + 0x10); // patched to include the VM package
    u64 ram_total = 0;
    PhysRange ram[PlatformInfo::kMaxRam];
    for (u32 i = 0; i < g_plat.ram_count; ++i) {
        ram[i] = g_plat.ram[i];
        ram_total += ram[i].size;
    }
    PhysRange used[PlatformInfo::kMaxReserved + 2];
    usize used_count = 0;
    used[used_count++] = {HostPhysAddr(u64(_start)), align_up(image_size, FRAME_SIZE)};
    used[used_count++] = {HostPhysAddr(dtb), align_up(fdt.value().totalsize(), FRAME_SIZE)};
    for (u32 i = 0; i < g_plat.reserved_count; ++i) used[used_count++] = g_plat.reserved[i];
    kprint("cxvisor %s: %u CPUs, %lu MiB RAM, GICv3 at %lx, console at %lx\n", arch::NAME, g_plat.cpu_count,
           ram_total / MiB, g_plat.gic.dist.base.value(), g_plat.uart.mmio.base.value());
    if (auto r = frames_init(ram, g_plat.ram_count, used, used_count); r.is_error())
        panic("frame allocator: %s", error_name(r.error()));

    arch::MmuRegion mram[PlatformInfo::kMaxRam], mdev[2 + PlatformInfo::kMaxRedistRegions];
    usize ndev = 0;
    for (u32 i = 0; i < g_plat.ram_count; ++i) mram[i] = {ram[i].base.value(), ram[i].size, false};
    mdev[ndev++] = {g_plat.gic.dist.base.value(), g_plat.gic.dist.size, true};
    for (u32 i = 0; i < g_plat.gic.redist_count; ++i)
        mdev[ndev++] = {g_plat.gic.redist[i].base.value(), g_plat.gic.redist[i].size, true};
    mdev[ndev++] = {g_plat.uart.mmio.base.value(), g_plat.uart.mmio.size, true};
    if (auto r = arch::mmu_init(mram, g_plat.ram_count, mdev, ndev); r.is_error())
        panic("EL2 MMU: %s", error_name(r.error()));
    if (auto r = heap_init(8 * MiB); r.is_error()) panic("heap: %s", error_name(r.error()));

    if (auto r = arch::gic_init({g_plat.gic.dist.base.value(), g_plat.gic.redist[0].base.value(),
                                 g_plat.gic.redist[0].size});
        r.is_error())
        panic("GICv3: %s", error_name(r.error()));
    irq_register(g_plat.timer.hyp_phys_intid, timer_irq, nullptr);
    irq_register(arch::SGI_KICK, kick_irq, nullptr);
    irq_register(g_plat.uart.intid, uart_irq, nullptr);
    cpu_common_init();
    arch::irq_enable(g_plat.uart.intid, true);
    console_set_input_handler(vmm_console_input);

    sched_set_cpu_count(g_cpu_count);
    boot.online.store(true);
    start_secondaries();
    create_vms(image_size);
    usize online = 0;
    for (usize i = 0; i < g_cpu_count; ++i) online += g_percpu[i].online.load();
    kprint("cxvisor: %zu VM(s) started on %zu/%zu CPUs in %lu us\n", vmm_vm_count(), online, g_cpu_count,
           (arch::counter() - t0) * 1000 / timer_ticks_per_ms());
    vmm_cpu_loop();
}

extern "C" [[noreturn]] void secondary_main(PerCpu* me) {
    arch::mmu_enable_secondary();
    cpu_common_init();
    me->online.store(true);
    vmm_cpu_loop();
}
