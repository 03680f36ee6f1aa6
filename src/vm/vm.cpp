#include "vm/vm.hpp"
#include "abi/hypercall.hpp"
#include "arch.hpp"
#include "base/format.hpp"
#include "base/string.hpp"
#include "devices/passthrough.hpp"
#include "kernel/irq.hpp"
#include "kernel/log.hpp"
#include "kernel/percpu.hpp"
#include "kernel/timer.hpp"
#include "virtio/factory.hpp"
#include "virtio/mmio.hpp"
#include <new>
#include <stdarg.h>

using namespace vm_package;

namespace {
// The optional vCPU call (a template, so that an ISA without it compiles nothing here).
template <typename V>
bool attach_uart_fast(V& a, GuestPhysAddr base, UartFastBlock* block) {
    if constexpr (requires { a.attach_uart_fast(base, block); }) {
        a.attach_uart_fast(base, block);
        return true;
    }
    return false;
}


MemFlags flags_from_config(u32 f) {
    MemFlags m = MemFlags::None;
    if (f & 1) m = m | MemFlags::Read;
    if (f & 2) m = m | MemFlags::Write;
    if (f & 4) m = m | MemFlags::Exec;
    if (f & 8) m = m | MemFlags::Device;
    return m;
}

// Reserved regions and passthrough devices hand host-physical ranges to a guest. Refuses one that
// overlaps what the host owns or another VM was given, and says which range that is and why.
// `what` names the guest's range for the message ("passthrough device rtc at 9010000+1000").
// Errors: as PassthroughRegion::validate (InvalidArgument is left to the caller to report).
Result<void> check_host_range(const Vm& vm, const char* what, u64 gpa, u64 hpa, u64 size,
                              const HostOwnedRanges& owned) {
    PassthroughRegion region{what, GuestPhysAddr(gpa), HostPhysAddr(hpa), size};
    usize hit = 0;
    auto r = region.validate(owned.ranges, owned.incomplete ? 0 : owned.count, &hit);
    if (r.is_ok() && owned.incomplete) {
        kprint("cxvisor: vm %u (%s): %s: refused: cxvisor's list of host-owned and DMA-capable ranges is "
               "incomplete (the host DTB names too many, or PCI windows it cannot read), so no host range "
               "can be shown safe\n", vm.id(), vm.name(), what);
        return Error::Denied;
    }
    if (r.is_error() && r.error() == Error::Denied) {
        const HostOwnedRanges::Info& o = owned.info[hit];
        if (o.vm)
            kprint("cxvisor: vm %u (%s): %s overlaps %.31s, already given to vm %.31s; refused\n", vm.id(),
                   vm.name(), what, o.owner, o.vm);
        else
            kprint("cxvisor: vm %u (%s): %s overlaps %s, %s; refused\n", vm.id(), vm.name(), what, o.owner, o.why);
    }
    return r;
}

Result<void> read_guest_thunk(void* ctx, GuestPhysAddr gpa, void* out, usize size) {
    return static_cast<Vm*>(ctx)->read_guest(gpa, out, size);
}

constexpr u32 MAX_REPORTS = 16;

void kick_thunk(void* ctx, vgic::VcpuSet vcpus) { static_cast<Vm*>(ctx)->kick(vcpus); }

void emulated_timer_fired(void* ctx) {
    Vcpu& v = *static_cast<Vcpu*>(ctx);
    v.vm().update_emulated_timer(v, arch::counter());
}

void reset_emulated_timer(Vcpu& v) {
    timer_cancel(v.emulated_timer().event);
    v.emulated_timer().reset();
}

} // namespace

Vm::Vm(const VmRecord& rec, const u8* package, GuestAddrSpace&& as)
    : m_rec(rec), m_package(package), m_as(static_cast<GuestAddrSpace&&>(as)),
      m_ram(reinterpret_cast<const MemRegion*>(package + rec.regions), rec.region_count,
            GuestRamAccess{ram_read, ram_write, ram_host_run, this}) {}

// GuestRam's access to the address space: under its lock, as a stage-2 fault would be (a write
// to lazily backed RAM backs it; a read of untouched RAM sees zeroes without allocating).
Result<void> Vm::ram_read(void* vm, u64 gpa, void* dst, usize len) {
    Vm& v = *static_cast<Vm*>(vm);
    SpinlockGuard guard(v.m_as_lock);
    return v.m_as.read(GuestPhysAddr(gpa), dst, len);
}

Result<void> Vm::ram_write(void* vm, u64 gpa, const void* src, usize len) {
    Vm& v = *static_cast<Vm*>(vm);
    SpinlockGuard guard(v.m_as_lock);
    return v.m_as.write(GuestPhysAddr(gpa), src, len);
}

// The lock covers the translation only: the frames it returns stay the VM's after it is released,
// because only AddrSpace::reset() frees them, and that runs after every vCPU is off and every
// virtio device was reset under its lock (end_life, finish_stop, begin_life), i.e. after the
// device's request that asked for the run has completed.
Result<virtio::HostRun> Vm::ram_host_run(void* vm, u64 gpa, usize len, bool device_writes) {
    Vm& v = *static_cast<Vm*>(vm);
    SpinlockGuard guard(v.m_as_lock);
    const auto run = TRY(v.m_as.host_run(GuestPhysAddr(gpa), len, device_writes));
    return virtio::HostRun{run.pa.value(), run.len};
}

Result<Vm*> Vm::create(const VmRecord& rec, const u8* package, u32 vmid, usize host_cpus,
                       const HostOwnedRanges& host_owned) {
    // The record passed package_check_vm (vmm/package.hpp): counts, offsets, names, alignment and
    // layout are known good. What is checked here depends on this machine.
    for (u32 i = 0; i < rec.cpu_num; ++i) {
        if (rec.phys_cpu_ids[i] != ANY_CPU && rec.phys_cpu_ids[i] >= host_cpus) {
            kprint("cxvisor: vm %u (%s): vcpu %u is pinned to physical CPU %u, but this machine has %zu CPUs\n",
                   rec.id, rec.name, i, rec.phys_cpu_ids[i], host_cpus);
            return Error::InvalidArgument;
        }
    }
    // What only the running machine knows goes into the VM's device tree (arch.hpp
    // prepare_guest_dt; riscv64: the translation modes its harts give a guest). In place, once:
    // every life of the VM loads the same blob.
    if (rec.dtb.size) arch::prepare_guest_dt(const_cast<u8*>(package) + rec.dtb.offset, rec.dtb.size);
    // Lazily allocated RAM is taken on first touch, so VMs may together promise more than the
    // machine has; one VM promising more than is free can never run its guest to the end.
    u64 ram_frames = 0;
    auto* regions = reinterpret_cast<const MemRegion*>(package + rec.regions);
    for (u32 i = 0; i < rec.region_count; ++i)
        if (MapType(regions[i].map_type) == MapType::Alloc) ram_frames += regions[i].size / FRAME_SIZE;
    if (ram_frames > frames_free_count()) {
        kprint("cxvisor: vm %u (%s): its memory regions need %lu MiB of RAM, but only %lu MiB are free; give the "
               "machine more RAM (QEMU -m) or make the VM's memory_regions smaller\n",
               rec.id, rec.name, ram_frames * FRAME_SIZE / MiB, u64(frames_free_count()) * FRAME_SIZE / MiB);
        return Error::NoMemory;
    }
    auto no_memory = [&](const char* what) {
        kprint("cxvisor: vm %u (%s): out of memory for its %s (%lu KiB of RAM free); give the machine more RAM "
               "(QEMU -m) or start fewer VMs\n", rec.id, rec.name, what, u64(frames_free_count()) * FRAME_SIZE / KiB);
        return Error::NoMemory;
    };
    auto as = GuestAddrSpace::create(g_kernel_frames, arch::Stage2Tlb{vmid}, arch::stage2_cpu_config().geometry());
    if (as.is_error()) return as.error() == Error::NoMemory ? no_memory("stage-2 tables") : as.error();
    Vm* vm = new (std::nothrow) Vm(rec, package, static_cast<GuestAddrSpace&&>(as.value()));
    if (!vm) return no_memory("VM state (heap)");
    auto fail = [&](Error e) -> Result<Vm*> {
        delete vm; // frees devices, vCPUs, the address space, its tables and RAM
        return e;
    };
    if (auto r = vm->setup_memory(host_owned); r.is_error()) return fail(r.error());
    vm->m_kernel_mapped = vm->map_image(rec.kernel, rec.kernel_load_addr);
    vm->m_ramdisk_mapped = vm->map_image(rec.ramdisk, rec.ramdisk_load_addr);
    if (auto r = vm->setup_devices(host_owned); r.is_error()) return fail(r.error());
    if (auto r = vm->setup_shm(); r.is_error()) return fail(r.error());
    for (u32 i = 0; i < rec.cpu_num; ++i) {
        u64 affinity = rec.phys_cpu_ids[i] == ANY_CPU ? ((1ull << host_cpus) - 1) : (1ull << rec.phys_cpu_ids[i]);
        Vcpu* v = new (std::nothrow) Vcpu(*vm, i, affinity);
        if (!v) return fail(no_memory("vCPUs (heap)"));
        v->arch().init(i, rec.cpu_num, vmid);
        v->arch().set_stage2(vm->m_as.root());
        v->arch().attach_vintc(vm->m_vgic, GuestPhysAddr(rec.intc_base));
        // The first PL011's FR reads and DR writes, answered by the exit vector where the ISA's
        // vector can (devices/uart_fast.hpp; optional in the vCPU interface).
        if (!vm->m_uarts.empty() && attach_uart_fast(v->arch(), vm->m_uarts[0]->base(), vm->m_uarts[0]->fast_block()))
            vm->m_fast_uart = vm->m_uarts[0];
        vm->m_vcpus[i] = v;
    }
    return vm;
}

Result<void> Vm::setup_memory(const HostOwnedRanges& host_owned) {
    auto* regions = reinterpret_cast<const MemRegion*>(m_package + m_rec.regions);
    for (u32 i = 0; i < m_rec.region_count; ++i) {
        const MemRegion& r = regions[i];
        MemFlags flags = flags_from_config(r.flags);
        Result<void> res{};
        switch (MapType(r.map_type)) {
        case MapType::Alloc:
            // Lazily: a 2 MiB block is allocated, zeroed and mapped on the guest's first touch.
            res = m_as.map_alloc(GuestPhysAddr(r.gpa), r.size, flags, false);
            break;
        case MapType::Identical:
            // Guest-physical == host-physical RAM, taken out of the allocator so no one else gets it.
            res = frames_reserve(HostPhysAddr(r.gpa), r.size / FRAME_SIZE);
            if (res.is_error()) {
                kprint("cxvisor: vm %u (%s): identical region %lx+%lx %s\n", id(), name(), r.gpa, r.size,
                       res.error() == Error::Busy ? "is in use (cxvisor's own memory or another VM's)"
                                                  : "is not host RAM that cxvisor manages");
                return res;
            }
            m_reserved_regions |= 1u << i; // given back by ~Vm
            res = m_as.map_linear(GuestPhysAddr(r.gpa), HostPhysAddr(r.gpa), r.size, flags);
            break;
        case MapType::Reserved: {
            // Host-physical memory outside what cxvisor manages (a carve-out), mapped 1:1.
            char what[64];
            format(what, sizeof what, "reserved region %lx+%lx", r.gpa, r.size);
            if (auto c = check_host_range(*this, what, r.gpa, r.gpa, r.size, host_owned); c.is_error()) {
                if (c.error() != Error::Denied)
                    kprint("cxvisor: vm %u (%s): %s must be 4 KiB aligned, non-zero and not wrap\n", id(), name(),
                           what);
                return c;
            }
            res = m_as.map_linear(GuestPhysAddr(r.gpa), HostPhysAddr(r.gpa), r.size, flags);
            break;
        }
        default:
            kprint("cxvisor: vm %u (%s): unknown map_type %u\n", id(), name(), r.map_type);
            return Error::BadFormat;
        }
        if (res.is_error()) {
            // Past the stage-2 tables' reach: the translation mode this machine gave its VMs (riscv64:
            // the G-stage mode on the boot line) cannot map it, whatever RAM is free.
            const u64 limit = m_as.page_table().limit();
            if (res.error() == Error::OutOfRange && (r.gpa >= limit || r.size > limit - r.gpa))
                kprint("cxvisor: vm %u (%s): cannot map region %lx+%lx: this machine's stage-2 translation reaches "
                       "guest-physical addresses below %lx only; place the region lower\n",
                       id(), name(), r.gpa, r.size, limit);
            else
                kprint("cxvisor: vm %u (%s): cannot map region %lx+%lx: %s\n", id(), name(), r.gpa, r.size,
                       error_name(res.error()));
            return res;
        }
    }
    return {};
}

// --- Shared memory (docs/virtio.md, "Shared memory"; the registry and the doorbell: vmm/shm.cpp) ---

const ShmRegion* Vm::shm_named(const char* name) const {
    for (u32 i = 0; i < m_rec.shm_count; ++i)
        if (strcmp(shm(i)->name, name) == 0) return shm(i);
    return nullptr;
}

Result<void> Vm::setup_shm() {
    for (u32 i = 0; i < m_rec.shm_count; ++i) m_shm_hpa[i] = TRY(vmm_shm_backing(*this, *shm(i)));
    return {};
}

// Linear regions: the address space never frees them, and reset() (a restart) maps them again.
// Normal memory, read-write, never executable: data shared between VMs is not code.
Result<void> Vm::map_shm() {
    if (m_shm_mapped) return {};
    for (u32 i = 0; i < m_rec.shm_count; ++i) {
        const ShmRegion& s = *shm(i);
        if (auto r = m_as.map_linear(GuestPhysAddr(s.gpa), m_shm_hpa[i], s.size, MemFlags::Read | MemFlags::Write);
            r.is_error()) {
            kprint("cxvisor: vm %u (%s): cannot map shm %s at %lx: %s\n", id(), name(), s.name, s.gpa,
                   error_name(r.error()));
            for (u32 j = 0; j < i; ++j) (void)m_as.unmap(GuestPhysAddr(shm(j)->gpa), shm(j)->size);
            return r;
        }
    }
    m_shm_mapped = true;
    return {};
}

void Vm::unmap_shm() {
    if (!m_shm_mapped) return;
    // Whole linear regions: nothing to cut, so unmap cannot run out of memory.
    for (u32 i = 0; i < m_rec.shm_count; ++i) (void)m_as.unmap(GuestPhysAddr(shm(i)->gpa), shm(i)->size);
    m_shm_mapped = false;
}

Result<void> Vm::setup_vintc() {
    VintcSetup setup;
    setup.vcpu_count = m_rec.cpu_num;
    setup.lines = m_rec.intc_lines;
    setup.priority_bits = arch::vintc_priority_bits();
    setup.base[0] = GuestPhysAddr(m_rec.intc_base);
    setup.base[1] = GuestPhysAddr(m_rec.intc_base2);
    setup.kick = kick_thunk;
    setup.kick_ctx = this;
    setup.hw_end = [](void*, u32 host_line) { arch::irq_deactivate(host_line); };
    auto g = VirtIntc::create_for_vm(setup);
    if (g.is_error()) {
        kprint("cxvisor: vm %u (%s): cannot create its virtual interrupt controller (%u vCPUs, %u lines): %s\n", id(),
               name(), m_rec.cpu_num, m_rec.intc_lines, error_name(g.error()));
        return g.error();
    }
    m_vgic = g.value();
    for (usize i = 0; i < m_vgic->window_count(); ++i) {
        MmioDevice* d = m_vgic->window(i);
        if (auto r = m_bus.add(d); r.is_error()) {
            kprint("cxvisor: vm %u (%s): %s at %lx: %s\n", id(), name(), d->name(), d->base().value(), error_name(r.error()));
            return r;
        }
    }
    return {};
}

void Vm::kick_some(vgic::VcpuSet vcpus) {
    // The vCPU loaded on this CPU is in its exit path (or this runs from an interrupt taken
    // there): its next entry presents the interrupts without any help.
    const void* self = this_cpu().current_vcpu;
    for (u32 b = vcpus.bits(); b; b &= b - 1) {
        Vcpu* v = vcpu(u64(__builtin_ctz(b)));
        if (v && v != self) sched_wake(&v->sched());
    }
}

void Vm::set_line(u32 intid, bool level) {
    if (!m_vgic) return;
    if (auto r = m_vgic->set_line(intid, level); r.is_ok()) kick(r.value());
}

void Vm::raise(u32 intid) {
    if (!m_vgic) return;
    if (auto r = m_vgic->raise(intid); r.is_ok()) kick(r.value());
}

void Vm::update_emulated_timer(Vcpu& vcpu, u64 now) {
    EmulatedTimer& t = vcpu.emulated_timer();
    timer_cancel(t.event);
    if (!m_vgic || !t.intid) return; // no controller: the guest can only poll ISTATUS
    const bool level = t.line(now);
    if (auto r = m_vgic->set_line(t.intid, level, u16(vcpu.id())); r.is_ok()) kick(r.value());
    if (!level && (t.ctl & EmulatedTimer::CTL_ENABLE) && !(t.ctl & EmulatedTimer::CTL_IMASK)) {
        t.event.callback = emulated_timer_fired;
        t.event.ctx = &vcpu;
        timer_arm(t.event, t.cval);
    }
}

bool Vm::drive_spi(u64 intid, bool pulse, bool level) {
    if (!m_vgic || intid > ~0u || !m_vgic->is_shared_line(u32(intid))) return false;
    auto* emu = reinterpret_cast<const EmuDevice*>(m_package + m_rec.emu_devices);
    for (u32 i = 0; i < m_rec.emu_count; ++i)
        if (emu[i].irq == intid) return false;
    auto* pt = reinterpret_cast<const PassthroughDevice*>(m_package + m_rec.pt_devices);
    for (u32 i = 0; i < m_rec.pt_count; ++i)
        if (pt[i].irq == intid) return false;
    if (pulse) raise(u32(intid));
    else set_line(u32(intid), level);
    return true;
}

static IrqAction passthrough_irq(u32 intid, void* ctx) {
    // Hardware-linked (set_hw): the physical SPI stays active until the guest deactivates the
    // virtual one, so a level line cannot fire again meanwhile (IHI 0069H, "Interrupt lifecycle").
    static_cast<Vm*>(ctx)->raise(intid);
    return IrqAction::Forwarded;
}

Result<void> Vm::forward_irq(const PassthroughDevice& d, const HostOwnedRanges& host_owned) {
    if (!m_vgic) {
        kprint("cxvisor: vm %u (%s): passthrough device %.31s: interrupt %u is not forwarded: the VM has "
               "interrupt_mode \"no_irq\"\n", id(), name(), d.name, d.irq);
        return {};
    }
    // package_check_vm made it one of the VM's SPIs; the host may still keep it for itself, or
    // another VM may have it already (the tool checks both; the image does not trust the package).
    for (usize i = 0; i < host_owned.irq_count; ++i) {
        const HostOwnedRanges::IrqOwner& o = host_owned.irqs[i];
        if (o.intid != d.irq) continue;
        if (o.vm)
            kprint("cxvisor: vm %u (%s): passthrough device %.31s: interrupt %u is already forwarded to vm %.31s "
                   "(%.31s); refused\n", id(), name(), d.name, d.irq, o.vm, o.owner);
        else
            kprint("cxvisor: vm %u (%s): passthrough device %.31s: interrupt %u is %s's, which cxvisor keeps; refused\n",
                   id(), name(), d.name, d.irq, o.owner);
        return Error::Denied;
    }
    for (u32 f : m_forwarded)
        if (f == d.irq) return {}; // two windows of one device with one interrupt
    if (auto r = m_vgic->set_hw(d.irq, d.irq); r.is_error()) return r;
    TRY(m_forwarded.push_back(d.irq));
    // Routed to the physical CPU of the VM's first vCPU when it is pinned, else to this (the boot)
    // CPU; the handler only queues it in the model and kicks the vCPU it targets. Enabled when a
    // life of the VM begins (take_forwarded): a VM that is not started gets none.
    irq_register(d.irq, passthrough_irq, this);
    const u32 first = m_rec.phys_cpu_ids[0];
    m_forward_target = first != ANY_CPU && first < g_cpu_count ? g_percpu[first].hw_id : this_cpu().hw_id;
    return {};
}

void Vm::take_forwarded() {
    for (u32 intid : m_forwarded) arch::irq_enable_shared_on(intid, m_forward_target);
}

void Vm::release_forwarded(bool disable) {
    // The guest will never deactivate what it holds now: end it here so the line can fire again
    // for the VM's next life (restart) or is off for good (stop, teardown).
    for (u32 intid : m_forwarded) {
        if (disable) arch::irq_enable(intid, false);
        arch::irq_deactivate(intid);
    }
}

Result<void> Vm::setup_devices(const HostOwnedRanges& host_owned) {
    if (InterruptMode(m_rec.interrupt_mode) == InterruptMode::Emulated) TRY(setup_vintc());
    auto* emu = reinterpret_cast<const EmuDevice*>(m_package + m_rec.emu_devices);
    for (u32 i = 0; i < m_rec.emu_count; ++i) {
        const EmuDevice& d = emu[i];
        if (is_virtio(d.type)) {
            TRY(add_virtio(d, i));
            continue;
        }
        if (EmuType(d.type) == EmuType::Pl011) TRY(add_uart(d, m_uarts));
        else if (EmuType(d.type) == EmuType::Ns16550a) TRY(add_uart(d, m_uarts16550));
        else {
            kprint("cxvisor: vm %u (%s): device %.31s: unknown emulated device type %u\n", id(), name(), d.name, d.type);
            return Error::Unsupported;
        }
    }
    auto* pt = reinterpret_cast<const PassthroughDevice*>(m_package + m_rec.pt_devices);
    for (u32 i = 0; i < m_rec.pt_count; ++i) {
        const PassthroughDevice& d = pt[i];
        char what[96];
        format(what, sizeof what, "passthrough device %.31s at %lx+%lx", d.name, d.base_hpa, d.length);
        if (auto r = check_host_range(*this, what, d.base_gpa, d.base_hpa, d.length, host_owned); r.is_error()) {
            if (r.error() != Error::Denied)
                kprint("cxvisor: vm %u (%s): passthrough device %.31s: gpa %lx / hpa %lx / size %lx must be 4 KiB "
                       "aligned, non-zero and not wrap\n", id(), name(), d.name, d.base_gpa, d.base_hpa, d.length);
            return r;
        }
        if (auto r = m_as.map_linear(GuestPhysAddr(d.base_gpa), HostPhysAddr(d.base_hpa), d.length,
                                     MemFlags::Read | MemFlags::Write | MemFlags::Device);
            r.is_error()) {
            kprint("cxvisor: vm %u (%s): passthrough device %.31s at gpa %lx: cannot map: %s\n", id(), name(), d.name,
                   d.base_gpa, error_name(r.error()));
            return r;
        }
        if (d.irq) TRY(forward_irq(d, host_owned));
    }
    return {};
}

template <typename U, usize N> Result<void> Vm::add_uart(const EmuDevice& d, StaticVec<U*, N>& list) {
    // A UART in the port space (package_check_vm allows only the 16550 there) gets the window of
    // a PC COM port; in memory, its own.
    const bool port = d.space == u32(DeviceSpace::Port);
    U* uart = nullptr;
    if constexpr (requires { U::PortWindowSize; })
        uart = port ? new (std::nothrow) U(d.name, GuestPhysAddr(d.base_gpa), m_rec.name, console_sink(), U::PortWindowSize)
                    : new (std::nothrow) U(d.name, GuestPhysAddr(d.base_gpa), m_rec.name);
    else
        uart = new (std::nothrow) U(d.name, GuestPhysAddr(d.base_gpa), m_rec.name);
    if (!uart) return Error::NoMemory;
    MmioBus& bus = port ? m_port_bus : m_bus;
    // Its interrupt output drives the line the config gives it (package_check_vm checked it is one
    // of the VM's lines); with no_irq or irq 0 the guest polls.
    if (m_vgic && d.irq) uart->connect_irq(IrqLine{this, d.irq});
    if (auto r = bus.add(uart); r.is_error()) {
        kprint("cxvisor: vm %u (%s): device %.31s at %lx: %s\n", id(), name(), d.name, d.base_gpa, error_name(r.error()));
        delete uart; // not on the bus, not in the list: ~Vm would not free it
        return r;
    }
    if (auto r = list.push_back(uart); r.is_error()) {
        delete uart;
        return r;
    }
    if (!m_console) m_console = uart;
    return {};
}

// A virtio device behind its virtio-mmio transport (virtio/mmio.hpp), its interrupt the level SPI
// the config gives it (package_check_vm checked it is one of the VM's SPIs; none with no_irq).
Result<void> Vm::add_virtio(const EmuDevice& d, u32 index) {
    // The package starts with its header (package_check accepted total_size): devices check the
    // blobs their cfg words name against it.
    const u64 package_size = reinterpret_cast<const PackageHeader*>(m_package)->total_size;
    const virtio::DeviceEnv env{m_package, package_size, m_rec.name, id(), index};
    virtio::Device* dev = TRY(virtio::create_device(d, env));
    auto* t = new (std::nothrow) virtio::MmioTransport(d.name, GuestPhysAddr(d.base_gpa), m_rec.name, id(), dev, m_ram,
                                                       m_vgic && d.irq ? IrqLine{this, d.irq} : IrqLine{});
    if (!t) {
        delete dev;
        kprint("cxvisor: vm %u (%s): device %.31s: out of memory for its virtio-mmio transport (heap)\n", id(), name(),
               d.name);
        return Error::NoMemory;
    }
    if (auto r = m_virtio.push_back(t); r.is_error()) {
        delete t;
        return r;
    }
    // In m_virtio from here on: ~Vm frees it whatever fails next.
    if (auto r = m_bus.add(t); r.is_error()) {
        kprint("cxvisor: vm %u (%s): device %.31s at %lx: %s\n", id(), name(), d.name, d.base_gpa, error_name(r.error()));
        return r;
    }
    if (!m_console) m_console = dev->console_port();
    return {};
}

// At a life's boundaries only (its start, every stop): the device reset, and what lasts one life
// (a RAM disk's writes) starts over, which a driver's own reset must not do.
void Vm::reset_virtio() {
    for (virtio::MmioTransport* t : m_virtio) {
        t->reset();
        SpinlockGuard device_guard(t->lock());
        t->device().new_life();
    }
}

void Vm::flush_consoles() {
    for (Pl011* u : m_uarts) u->flush();
    for (Uart16550* u : m_uarts16550) u->flush();
    for (virtio::MmioTransport* t : m_virtio)
        if (ConsolePort* p = t->device().console_port()) p->flush();
}

namespace {
ImageMedium* g_package_medium;

// The blob lies (at least in part) past the package's resident part: on the boot medium.
bool on_medium(const u8* package, const Blob& blob) {
    return g_package_medium && blob.offset + blob.size > reinterpret_cast<const PackageHeader*>(package)->resident_size;
}
} // namespace

void Vm::set_package_medium(ImageMedium* medium) { g_package_medium = medium; }

// Maps a package blob into guest RAM at `gpa` instead of copying it at every boot: building the
// VM then costs no copy of a 30 MiB kernel, and a restart finds the original bytes.
//   In RAM (the package is part of cxvisor's image, VA == PA): its whole pages, copy-on-write
//   (AddrSpace::map_image): pages the guest only reads or executes are never copied. The package
//   is never written and never handed to the frame allocator, so its frames stay pristine for
//   every restart and every VM booting the same blob.
//   On the boot medium: the whole blob, read into the VM's own frames at each first touch
//   (AddrSpace::map_image_from; vmm/boot_medium.hpp says why).
// Returns how many bytes are mapped (0: the blob is copied as before, e.g. an unaligned load
// address or a range that is not one RAM region; boot() then reports what is wrong with it).
u64 Vm::map_image(const Blob& blob, u64 gpa) {
    if (blob.size && on_medium(m_package, blob))
        return m_as.map_image_from(GuestPhysAddr(gpa), *g_package_medium, blob.offset, blob.size).is_ok() ? blob.size
                                                                                                          : 0;
    const u64 whole = align_down(blob.size, FRAME_SIZE); // a partial last page is copied
    if (whole == 0) return 0;
    const HostPhysAddr host(reinterpret_cast<u64>(m_package + blob.offset));
    return m_as.map_image(GuestPhysAddr(gpa), host, whole).is_ok() ? whole : 0;
}

Result<void> Vm::load_blob(const Blob& blob, u64 gpa, const char* what, u64 skip) {
    if (blob.size <= skip) return {};
    // Through the address space's one checked path, which also cleans what it writes to the point
    // of coherency (the guest starts with its MMU and caches off). `skip` bytes at the start are
    // mapped from the package already (map_image). A blob on the boot medium that could not be
    // mapped goes through a bounce frame, one page at a time.
    Result<void> r{};
    if (on_medium(m_package, blob)) {
        auto bounce = frames_alloc_unzeroed(1, FRAME_SIZE);
        if (bounce.is_error()) r = bounce.error();
        for (u64 at = skip; r.is_ok() && at < blob.size; at += FRAME_SIZE) {
            const usize n = usize(blob.size - at < FRAME_SIZE ? blob.size - at : FRAME_SIZE);
            r = g_package_medium->read(blob.offset + at, bounce.value(), n);
            if (r.is_ok()) r = m_as.write(GuestPhysAddr(gpa + at), reinterpret_cast<const void*>(bounce.value().value()), n);
        }
        if (bounce.is_ok()) frames_free(bounce.value(), 1);
    } else {
        r = m_as.write(GuestPhysAddr(gpa + skip), m_package + blob.offset + skip, blob.size - skip);
    }
    if (r.is_error()) {
        kprint("cxvisor: vm %u (%s): cannot load %s at %lx (%lu bytes): %s\n", id(), name(), what, gpa, blob.size,
               r.error() == Error::Denied ? "the range is not RAM (a reserved or device region); images load only "
                                            "into RAM regions"
                                          : error_name(r.error()));
        return r;
    }
    return {};
}

Result<void> Vm::load_and_start() {
    // Identity-mapped RAM is this VM's for good (it is not freed on reset): clear it on every boot
    // so neither its previous life nor whoever had the frames before can be seen. Lazily allocated
    // RAM comes back zeroed from the frame allocator instead.
    auto* regions = reinterpret_cast<const MemRegion*>(m_package + m_rec.regions);
    for (u32 i = 0; i < m_rec.region_count; ++i) {
        if (!(m_reserved_regions & (1u << i))) continue;
        if (auto r = m_as.zero(GuestPhysAddr(regions[i].gpa), regions[i].size); r.is_error()) {
            kprint("cxvisor: vm %u (%s): cannot clear identical region %lx+%lx: %s\n", id(), name(), regions[i].gpa,
                   regions[i].size, error_name(r.error()));
            return r;
        }
    }
    TRY(map_shm());
    TRY(load_blob(m_rec.kernel, m_rec.kernel_load_addr, "kernel", m_kernel_mapped));
    TRY(load_blob(m_rec.ramdisk, m_rec.ramdisk_load_addr, "ramdisk", m_ramdisk_mapped));
    TRY(load_blob(m_rec.dtb, m_rec.dtb_load_addr, "device tree"));
    arch::invalidate_icache_all();
    arch::publish_stage2_updates();
    // Each boot starts the VM's virtual counter near zero (CNTVOFF per VM) and its interrupt
    // controller from reset.
    const u64 counter_offset = arch::counter();
    for (u32 i = 0; i < m_rec.cpu_num; ++i) {
        Vcpu& v = *m_vcpus[i];
        v.arch().reset(0, 0);
        v.arch().set_counter_offset(counter_offset);
        reset_emulated_timer(v);
        v.reset_stats();
        // All are Off: this only drops a pause the last life ended in, so vCPU 0 is queued.
        sched_resume(&v.sched());
    }
    if (m_vgic) m_vgic->reset();
    for (Pl011* u : m_uarts) u->reset(); // a restarted guest finds its UART as after power-on
    for (Uart16550* u : m_uarts16550) u->reset();
    // (Its virtio devices were reset by the caller, outside m_as_lock: a transport's lock orders
    // before the address-space lock, which GuestRam takes.)
    take_forwarded();
    m_reports.store(0); // a new life's faults are reported again
    SpinlockGuard guard(m_power_lock);
    m_stop = StopKind::None;
    m_active = 0;
    m_life_start.store(counter_offset);
    m_state.store(VmState::Running, std::memory_order_release);
    // Under the same lock hold as the state: whoever sees Running finds vCPU 0 counted.
    if (start_vcpu_locked(*m_vcpus[0], m_rec.entry_point, m_rec.dtb.size ? m_rec.dtb_load_addr : 0) !=
        PowerResult::Success)
        panic("vm %u: vCPU 0 not off at the start of a life", id()); // every vCPU was Off: a cxvisor bug
    return {};
}

Result<void> Vm::begin_life(bool announce) {
    VmState was;
    {
        SpinlockGuard guard(m_power_lock);
        was = m_state.load();
        if (m_starting || (was != VmState::Created && was != VmState::Stopped)) return Error::Busy;
        m_starting = true; // a second start, a pause, a stop: Busy or nothing until it is done
    }
    reset_virtio(); // as after power-on; before m_as_lock (lock order: transport -> address space)
    Result<void> r{};
    {
        SpinlockGuard guard(m_as_lock);
        // A stopped VM's tables were emptied at its stop; reset again in case that ran out of
        // memory (then only the tables of its linear regions were missing).
        if (was == VmState::Stopped) r = m_as.reset();
        if (r.is_ok()) r = load_and_start();
        if (r.is_error()) (void)m_as.reset(), unmap_shm(); // what the failed load took goes back
    }
    {
        SpinlockGuard guard(m_power_lock);
        m_starting = false;
        if (r.is_error()) m_state.store(VmState::Stopped, std::memory_order_release);
    }
    if (r.is_ok() && announce) kprint("cxvisor: vm %u (%s): started\n", id(), name());
    return r;
}

Result<void> Vm::boot() { return begin_life(false); }
Result<void> Vm::start() { return begin_life(true); }

Result<void> Vm::stop(const char* why) {
    {
        SpinlockGuard guard(m_power_lock);
        VmState s = m_state.load();
        if (s != VmState::Running && s != VmState::Paused) return Error::Busy;
    }
    request_stop(StopKind::Operator, why);
    return {};
}

Result<void> Vm::restart() {
    VmState s;
    {
        SpinlockGuard guard(m_power_lock);
        s = m_state.load();
        if (m_starting || s == VmState::Stopping) return Error::Busy;
    }
    if (s == VmState::Created || s == VmState::Stopped) return start();
    request_stop(StopKind::Reset, "restarted by the operator");
    return {};
}

Result<void> Vm::pause() { return set_paused(true); }
Result<void> Vm::resume() { return set_paused(false); }

// Running <-> Paused. Pausing flags every vCPU, Off ones included: one that a sibling starts with
// CPU_ON while on its way out is parked by the scheduler too.
Result<void> Vm::set_paused(bool pause) {
    SpinlockGuard guard(m_power_lock);
    if (m_state.load() != (pause ? VmState::Running : VmState::Paused)) return Error::Busy;
    m_state.store(pause ? VmState::Paused : VmState::Running, std::memory_order_release);
    for (u32 i = 0; i < m_rec.cpu_num; ++i) {
        if (pause) sched_pause(&m_vcpus[i]->sched());
        else sched_resume(&m_vcpus[i]->sched());
    }
    return {};
}

PowerResult Vm::start_vcpu(u64 index, u64 entry, u64 arg) {
    Vcpu* v = vcpu(index);
    if (!v) return PowerResult::InvalidParameters;
    SpinlockGuard guard(m_power_lock);
    return start_vcpu_locked(*v, entry, arg);
}

PowerResult Vm::start_vcpu_locked(Vcpu& v, u64 entry, u64 arg) {
    // One look decides: the target may leave its CPU (Off) on another CPU at any moment, so a
    // second look after this one could contradict it (CPU_ON then answered DENIED).
    if (sched_state(&v.sched()) != SchedState::Off) return PowerResult::AlreadyOn;
    if (m_stop != StopKind::None) return PowerResult::Denied;
    v.arch().reset(entry, arg);
    reset_emulated_timer(v); // a powered-on CPU's timer starts disabled, whatever it did before
    ++m_active;
    sched_wake(&v.sched(), true); // a paused VM's vCPU is parked until resume
    return PowerResult::Success;
}

void Vm::vcpu_went_off() {
    bool last;
    {
        SpinlockGuard guard(m_power_lock);
        last = --m_active == 0;
        if (last && m_stop == StopKind::None) {
            m_stop = StopKind::PowerOff;
            m_stop_why = "all vCPUs are off";
            m_state.store(VmState::Stopping, std::memory_order_release);
        }
    }
    if (last) finish_stop();
}

void Vm::request_stop(StopKind kind, const char* why) {
    {
        SpinlockGuard guard(m_power_lock);
        VmState s = m_state.load();
        if (s != VmState::Running && s != VmState::Paused) return; // nothing runs, or already stopping
        m_stop = kind;
        m_stop_why = why;
        m_state.store(VmState::Stopping, std::memory_order_release);
    }
    // vCPUs taken off at once are accounted here; running ones account when they leave their CPU.
    for (u32 i = 0; i < m_rec.cpu_num; ++i) {
        Vcpu* v = m_vcpus[i];
        if (sched_stop(&v->sched())) {
            timer_cancel(v->wake_timer());
            vcpu_went_off();
        }
    }
}

// Stopped is published last, with release ordering: whoever sees it (the end of the run on
// another CPU, deciding that every VM is down) also sees how this life ended, the sticky crash
// record, and the end line the caller printed before.
void Vm::end_life(StopKind kind) {
    {
        SpinlockGuard guard(m_as_lock);
        (void)m_as.reset(); // a stopped VM gives its RAM back (NoMemory here only means tables stay empty)
        unmap_shm();        // and keeps no access to what it shared
    }
    release_forwarded(true);
    if (kind == StopKind::Crash) m_crashed.store(true, std::memory_order_release);
    m_last_stop.store(kind, std::memory_order_release);
    SpinlockGuard guard(m_power_lock);
    m_state.store(VmState::Stopped, std::memory_order_release);
}

void Vm::finish_stop() {
    StopKind kind;
    const char* why;
    {
        SpinlockGuard guard(m_power_lock);
        kind = m_stop;
        why = m_stop_why;
    }
    flush_consoles();
    // Before the RAM goes back: a device acting on its own (console input) finds it reset and
    // touches no guest memory from here on.
    reset_virtio();
#ifdef CXV_EXIT_STATS
    print_exit_stats();
#endif
    if (kind == StopKind::Reset) {
        ++m_resets;
        m_last_stop.store(kind, std::memory_order_release);
        kprint("cxvisor: vm %u (%s): reset (%s), restarting from its images (reset #%u)\n", id(), name(), why, m_resets);
        release_forwarded(false); // what the last life held is over; taken again by the new one
        Result<void> r{};
        {
            // All guest RAM is freed; it comes back zeroed on first touch.
            SpinlockGuard guard(m_as_lock);
            r = m_as.reset();
            if (r.is_ok()) r = load_and_start();
        }
        if (r.is_ok()) return;
        kprint("cxvisor: vm %u (%s): restart failed: %s; VM stopped\n", id(), name(), error_name(r.error()));
        end_life(StopKind::Crash); // a life that could not begin: a failure, not a reset
        vmm_vm_ended(*this);
        return;
    }
    // The end line goes out before end_life publishes Stopped: another VM ending on another CPU
    // may see this one down at once and power the machine off after the exit summary.
    if (kind == StopKind::Operator)
        kprint("cxvisor: vm %u (%s): stopped by the operator (%s)\n", id(), name(), why);
    else
        kprint("cxvisor: vm %u (%s): %s (%s)\n", id(), name(), kind == StopKind::Crash ? "stopped" : "powered off", why);
    end_life(kind);
    vmm_vm_ended(*this);
}

#ifdef CXV_EXIT_STATS
void Vm::print_exit_stats() {
    kprint("cxvisor: vm %u (%s): exit stats: %lu RAM faults fixed (%lu writes) in %lu us, %lu frames free\n", id(),
           name(), m_stat_ram_faults, m_stat_ram_write_faults, ticks_to_us(m_stat_ram_fault_ticks),
           u64(frames_free_count()));
    m_stat_ram_faults = m_stat_ram_write_faults = m_stat_ram_fault_ticks = 0;
    {
        char buf[512];
        usize n = 0;
        for (u32 b = 0; b < 32; ++b) n += format(buf + n, sizeof buf - n, " %u", m_stat_kernel_blocks[b]), m_stat_kernel_blocks[b] = 0;
        kprint("cxvisor: vm %u (%s): exit stats: write faults per 2 MiB of the kernel:%s\n", id(), name(), buf);
    }
    for (u32 i = 0; i < m_rec.cpu_num; ++i) {
        char buf[512];
        usize n = 0;
        const auto& st = m_vcpus[i]->arch().exit_stats();
        n += format(buf + n, sizeof buf - n, "irq=%u", st.irq);
        for (u32 ec = 0; ec < 64; ++ec)
            if (st.ec[ec]) n += format(buf + n, sizeof buf - n, " ec%02x=%u", ec, st.ec[ec]);
        kprint("cxvisor: vm %u (%s): exit stats vcpu %u: %s\n", id(), name(), i, buf);
        m_vcpus[i]->arch().clear_exit_stats();
    }
}
#endif

const char* vm_state_name(VmState s) {
    switch (s) {
    case VmState::Created: return "created";
    case VmState::Running: return "running";
    case VmState::Paused: return "paused";
    case VmState::Stopping: return "stopping";
    case VmState::Stopped: return "stopped";
    }
    return "?";
}

const char* stop_kind_name(StopKind k) {
    switch (k) {
    case StopKind::None: return "none";
    case StopKind::PowerOff: return "powered off";
    case StopKind::Reset: return "reset";
    case StopKind::Crash: return "crashed";
    case StopKind::Operator: return "stopped by the operator";
    }
    return "?";
}

u64 Vm::uptime_ms() const {
    VmState s = state();
    if (s != VmState::Running && s != VmState::Paused) return 0;
    u64 now = arch::counter(), began = m_life_start.load();
    return now > began ? (now - began) / timer_ticks_per_ms() : 0;
}

u64 Vm::ram_bytes() const {
    u64 total = 0;
    auto* regions = reinterpret_cast<const MemRegion*>(m_package + m_rec.regions);
    for (u32 i = 0; i < m_rec.region_count; ++i)
        if (MapType(regions[i].map_type) != MapType::Reserved) total += regions[i].size;
    return total;
}

u64 Vm::ram_backed_bytes() const {
    // Identity-mapped RAM is held from creation to destruction; lazily allocated RAM as touched.
    u64 total = 0;
    auto* regions = reinterpret_cast<const MemRegion*>(m_package + m_rec.regions);
    for (u32 i = 0; i < m_rec.region_count; ++i)
        if (m_reserved_regions & (1u << i)) total += regions[i].size;
    SpinlockGuard guard(m_as_lock);
    return total + m_as.owned_bytes();
}

usize Vm::last_report(char* out, usize n) const {
    if (!n) return 0;
    SpinlockGuard guard(m_report_lock);
    usize len = strlen(m_last_report);
    if (len >= n) len = n - 1;
    memcpy(out, m_last_report, len);
    out[len] = '\0';
    return len;
}

void Vm::note_report(Vcpu& vcpu, const char* msg) {
    SpinlockGuard guard(m_report_lock);
    format(m_last_report, sizeof m_last_report, "vcpu %u pc %lx: %s", vcpu.id(), vcpu.arch().pc(), msg);
}

// Every report is kept as the VM's last (`vm show`), printed or not: the newest one is what an
// operator looking at a faulting loop wants to see. `limited`: subject to the per-VM rate limit.
void Vm::report_va(Vcpu& vcpu, bool limited, const char* fmt, va_list ap) {
    char buf[256];
    vformat(buf, sizeof buf, fmt, ap);
    note_report(vcpu, buf);
    if (limited) {
        u64 n = m_reports.fetch_add(1); // 64-bit: never wraps back to reporting
        if (n > MAX_REPORTS) return;
        if (n == MAX_REPORTS) {
            kprint("cxvisor: vm %u (%s): further guest faults are not reported\n", id(), name());
            return;
        }
    }
    kprint("cxvisor: vm %u (%s) vcpu %u pc %lx: %s\n", id(), name(), vcpu.id(), vcpu.arch().pc(), buf);
}

void Vm::report(Vcpu& vcpu, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    report_va(vcpu, true, fmt, ap);
    va_end(ap);
}

void Vm::report_stop(Vcpu& vcpu, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    report_va(vcpu, false, fmt, ap);
    va_end(ap);
}

Result<void> Vm::read_guest(GuestPhysAddr gpa, void* out, usize size) {
    SpinlockGuard guard(m_as_lock);
    return m_as.read(gpa, out, size);
}

// ExitKind::ConsoleWrite (vcpu/exit.hpp): always handled here.
bool Vm::console_write(Vcpu& vcpu, const ExitReason& exit) {
    arch::Vcpu& a = vcpu.arch();
    // A prefix of the buffer, up to the end of its page: one page lies in one region (regions
    // are page aligned), so the read either succeeds whole or names nothing the guest may
    // hand over (a device window, a hole, a refused host range, RAM the guest itself may not
    // read: cxvisor's reads ignore the guest's permissions, the firmware call must not). The
    // caller asks again for the rest (SBI v2.0 12.1 allows the partial write).
    char buf[128];
    const u64 to_page_end = FRAME_SIZE - (exit.gpa & (FRAME_SIZE - 1));
    usize n = exit.args[0] < to_page_end ? usize(exit.args[0]) : usize(to_page_end);
    if (n > sizeof buf) n = sizeof buf;
    const auto* region = m_as.find_region(GuestPhysAddr(exit.gpa));
    if (n == 0 || !region || !has(region->flags, MemFlags::Read) ||
        read_guest(GuestPhysAddr(exit.gpa), buf, n).is_error()) {
        a.set_hypercall_result(n == 0 ? 0 : u64(cxv_abi::CXV_INVALID), 0, 0, 0);
        return true;
    }
    if (ConsolePort* p = console())
        for (usize i = 0; i < n; ++i) p->put_output(buf[i]);
    a.set_hypercall_result(0, n, 0, 0);
    return true;
}

// An access to an emulated device on one of the VM's buses (the memory bus for a stage-2 fault,
// the port bus for port I/O): the instruction decoded by the backend, the device read or written,
// the instruction completed. dev null (port I/O only): no device there; a PC's bus reads all ones
// from a port nothing decodes and drops writes to it, and so does this (reported).
bool Vm::emulate_access(Vcpu& vcpu, ExitReason& exit, MmioBus& bus, MmioDevice* dev) {
    arch::Vcpu& a = vcpu.arch();
    const bool port = exit.kind == ExitKind::PortIo;
    const char* what = port ? "port access" : "MMIO access";
    auto decoded = a.decode_mmio(exit, GuestMemoryReader{read_guest_thunk, this});
    if (decoded.is_error()) {
        // Either the instruction could not be fetched (its page translates nowhere the host
        // may read, or the memory system aborted the read), or it is not one cxvisor decodes.
        const Error err = decoded.error();
        if (err == Error::NotMapped || err == Error::Denied || err == Error::Aborted || err == Error::OutOfRange) {
            report_stop(vcpu, "%s at %lx: cannot read the instruction at the guest's pc to emulate it (%s); VM stopped",
                        what, exit.gpa, error_name(err));
            request_stop(StopKind::Crash, "MMIO instruction unreadable");
        } else {
            report_stop(vcpu, "%s at %lx by an instruction cxvisor cannot emulate (%s, insn %08lx); VM stopped",
                        what, exit.gpa, error_name(err), exit.detail);
            request_stop(StopKind::Crash, "unemulatable MMIO instruction");
        }
        return true; // handled: the vCPU leaves its CPU at the next check
    }
    MmioAccess acc = decoded.value();
    if (!dev) {
        report(vcpu, "%u-byte %s of port %lx, where the VM has no device: %s", acc.width, acc.is_write ? "write" : "read",
               exit.gpa, acc.is_write ? "ignored" : "reads all ones");
        a.complete_mmio(acc, acc.is_write ? 0 : ~u64(0) >> (64 - 8 * acc.width));
        return true;
    }
    if (acc.width == 0) { // cache maintenance on a device: nothing to do
        a.complete_mmio(acc, 0);
        return true;
    }
    if (acc.is_write) {
        if (bus.write(*dev, GuestPhysAddr(exit.gpa), acc.width, a.mmio_write_value(acc)).is_ok()) {
            a.complete_mmio(acc, 0);
            return true;
        }
    } else {
        auto v = bus.read(*dev, GuestPhysAddr(exit.gpa), acc.width);
        if (v.is_ok()) {
            a.complete_mmio(acc, v.value());
            return true;
        }
    }
    report(vcpu, "%u-byte %s of device register %s%lx rejected by the device: external abort injected",
           acc.width, acc.is_write ? "write" : "read", port ? "port " : "", exit.gpa);
    a.inject_external_abort(exit.gpa, exit.access);
    return true;
}

bool Vm::handle_exit(Vcpu& vcpu, ExitReason& exit) {
    arch::Vcpu& a = vcpu.arch();
    switch (exit.kind) {
    case ExitKind::NestedPageFault: {
        // 1. An emulated device: checked first, it is the hot path (a UART poll is one exit per
        // character) and devices never overlap RAM regions (cxv-vmconfig rejects that).
        MmioDevice* dev = m_bus.find(GuestPhysAddr(exit.gpa));
        if (dev && (exit.access == AccessKind::Fetch || exit.stage1_walk)) {
            // Executing from a device window, or page tables placed on one, is the guest's bug,
            // like jumping to nothing: an abort, as on a bus that returns an error.
            report(vcpu, "%s device %s at %lx: abort injected",
                   exit.stage1_walk ? "page-table walk reads" : "instruction fetch from", dev->name(), exit.gpa);
            a.inject_external_abort(exit.gpa, exit.stage1_walk ? AccessKind::Read : exit.access);
            return true;
        }
        if (dev) return emulate_access(vcpu, exit, m_bus, dev);
        // 2. RAM allocated on demand.
        MemFlags need = exit.access == AccessKind::Write ? MemFlags::Write
                       : exit.access == AccessKind::Fetch ? MemFlags::Exec : MemFlags::Read;
        if (exit.stage1_walk) need = need | MemFlags::Read; // a walk reads, even when it also updates
        // Another vCPU of this VM may fault on the same block on another CPU right now: one maps
        // it, the other then finds it mapped (handle_fault returns true) and retries.
#ifdef CXV_EXIT_STATS
        const u64 fault_t0 = arch::counter();
#endif
        Result<bool> fixed = [&] {
            SpinlockGuard guard(m_as_lock);
            // Executable RAM gets its instruction cache made coherent inside, before it is mapped
            // (Tlb::prepare_exec).
            return m_as.handle_fault(GuestPhysAddr(exit.gpa), need);
        }();
        if (fixed.is_ok() && fixed.value()) {
#ifdef CXV_EXIT_STATS
            __atomic_fetch_add(&m_stat_ram_faults, 1, __ATOMIC_RELAXED);
            __atomic_fetch_add(&m_stat_ram_fault_ticks, arch::counter() - fault_t0, __ATOMIC_RELAXED);
            if (exit.access == AccessKind::Write) __atomic_fetch_add(&m_stat_ram_write_faults, 1, __ATOMIC_RELAXED);
            if (exit.access == AccessKind::Write && exit.gpa >= m_rec.kernel_load_addr &&
                exit.gpa - m_rec.kernel_load_addr < 32 * 2 * MiB)
                __atomic_fetch_add(&m_stat_kernel_blocks[(exit.gpa - m_rec.kernel_load_addr) / (2 * MiB)], 1, __ATOMIC_RELAXED);
#endif
            arch::publish_stage2_updates();
            return true;
        }
        if (fixed.is_error()) {
            report_stop(vcpu, "cannot back guest RAM at %lx: %s; VM stopped", exit.gpa, error_name(fixed.error()));
            request_stop(StopKind::Crash, fixed.error() == Error::NoMemory ? "out of memory for guest RAM"
                                                                           : "guest RAM fault failed");
            return true; // handled: the vCPU leaves its CPU at the next check
        }
        // 3. RAM the access is not allowed on (a region without W or X): a permission fault.
        const char* what = exit.access == AccessKind::Write ? "write" : exit.access == AccessKind::Fetch ? "instruction fetch" : "read";
        if (m_as.find_region(GuestPhysAddr(exit.gpa))) {
            report(vcpu, "%s at %lx not permitted by the memory region's flags: external abort injected", what, exit.gpa);
            a.inject_external_abort(exit.gpa, exit.access);
            return true;
        }
        // 4. Nothing there: the guest gets an external abort, as on a bus with no slave.
        report(vcpu, "%s at %lx outside the VM's memory and devices: external abort injected", what, exit.gpa);
        a.inject_external_abort(exit.gpa, exit.access);
        return true;
    }
    case ExitKind::SysRegRead:
    case ExitKind::SysRegWrite: {
        if (exit.timer != u8(TimerReg::None)) {
            EmulatedTimer& t = vcpu.emulated_timer();
            const u64 now = arch::counter();
            t.intid = exit.timer_intid;
            if (exit.kind == ExitKind::SysRegRead) {
                a.complete_sysreg(exit, t.read(TimerReg(exit.timer), now));
            } else {
                t.write(TimerReg(exit.timer), exit.value, now);
                update_emulated_timer(vcpu, now);
                a.complete_sysreg(exit, 0);
            }
            return true;
        }
        char name[40];
        report(vcpu, "%s of system register %s, which cxvisor does not emulate: UNDEF injected",
               exit.kind == ExitKind::SysRegRead ? "read" : "write", arch::describe_sysreg(exit.sysreg, name, sizeof name));
        a.inject_undefined();
        return true;
    }
    case ExitKind::Undefined:
        report(vcpu, "%s (%lx): UNDEF injected", exit.reason, exit.detail);
        return true;
    case ExitKind::PortIo:
        return emulate_access(vcpu, exit, m_port_bus, m_port_bus.find(GuestPhysAddr(exit.gpa)));
    default:
        // Outside the switch: as a case it cost every exit that goes on to level 3 (the null
        // hypercall) four instructions on aarch64, where it never happens.
        return exit.kind == ExitKind::ConsoleWrite && console_write(vcpu, exit);
    }
}

Vm::~Vm() {
    for (Vcpu*& v : m_vcpus) {
        delete v;
        v = nullptr;
    }
    for (Pl011* u : m_uarts) delete u;
    for (Uart16550* u : m_uarts16550) delete u;
    for (virtio::MmioTransport* t : m_virtio) delete t; // and its device
    release_forwarded(true);
    for (u32 intid : m_forwarded) irq_register(intid, nullptr, nullptr);
    delete m_vgic;
    // Identity-mapped RAM goes back to the allocator (no vCPU of this VM can run any more; the
    // stage-2 table that still maps it goes with m_as, which invalidates the VMID's TLB entries).
    auto* regions = reinterpret_cast<const MemRegion*>(m_package + m_rec.regions);
    for (u32 i = 0; i < m_rec.region_count; ++i)
        if (m_reserved_regions & (1u << i)) frames_free(HostPhysAddr(regions[i].gpa), regions[i].size / FRAME_SIZE);
}
