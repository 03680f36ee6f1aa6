// The shell's view of the running system (shell/shell.hpp ShellBackend over the VMM): VM list and
// details, lifecycle calls, physical CPUs, the log ring, the version. Runs in the console input
// handler (boot CPU, interrupts masked, console input lock held): it only reads state that is safe
// to read while the VMs run on other CPUs and calls the Vm methods the lifecycle contract makes
// safe there; it never waits for another CPU.
#include "abi/hypercall.hpp"
#include "arch.hpp"
#include "vintc/layout.hpp"
#include "base/format.hpp"
#include "base/string.hpp"
#include "kernel/console.hpp"
#include "kernel/log.hpp"
#include "kernel/percpu.hpp"
#include "kernel/sched.hpp"
#include "kernel/timer.hpp"
#include "shell/shell.hpp"
#include "virtio/mmio.hpp"
#include "vmm/vmm.hpp"

#ifndef CXV_GIT_COMMIT
#define CXV_GIT_COMMIT "unknown"
#endif

namespace {

// Bytes as the largest unit that divides them, so sizes read as they were configured.
void size_text(char* out, usize cap, u64 bytes) {
    if (bytes && bytes % GiB == 0) format(out, cap, "%lu GiB", bytes / GiB);
    else if (bytes && bytes % MiB == 0) format(out, cap, "%lu MiB", bytes / MiB);
    else if (bytes && bytes % KiB == 0) format(out, cap, "%lu KiB", bytes / KiB);
    else format(out, cap, "%lu B", bytes);
}

const char* vcpu_state(Vcpu& v) {
    // A paused VM's vCPUs are parked (Runnable), waiting, or on their way off their CPUs.
    if (__atomic_load_n(&v.sched().paused, __ATOMIC_ACQUIRE) && sched_state(&v.sched()) != SchedState::Off)
        return "paused";
    switch (sched_state(&v.sched())) {
    case SchedState::Off: return "off";
    case SchedState::Runnable: return "runnable";
    case SchedState::Running: return "running";
    case SchedState::Blocked: return "waiting (WFI)";
    }
    return "?";
}

class VmmShellBackend final : public ShellBackend {
public:
    void write(const char* s, usize n) override { console_write(s, n); }
    void edit(const char* head, usize head_len, const char* s, usize n) override {
        console_write_piece(this, head, head_len, s, n);
    }

    usize vm_count() override { return vmm_vm_count(); }
    u32 vm_id(usize i) override { return vmm_vm(i)->id(); }
    const char* vm_name(usize i) override { return vmm_vm(i)->name(); }
    const char* vm_state(usize i) override { return vm_state_name(vmm_vm(i)->state()); }

    Result<void> vm_op(usize i, VmOp op) override {
        Vm& vm = *vmm_vm(i);
        switch (op) {
        // Forceful: whatever the guest is doing, its vCPUs leave their CPUs at their next exit
        // (kicked) and its RAM goes back; the log line says when it has stopped.
        case VmOp::Stop: return vm.stop("vm stop from the shell");
        case VmOp::Start: return vm.start();
        case VmOp::Restart: return vm.restart();
        case VmOp::Pause: return vm.pause();
        case VmOp::Resume: return vm.resume();
        }
        return Error::InvalidArgument;
    }

    const char* console_to(usize i) override {
        Vm* vm = vmm_vm(i);
        if (!vm->console()) return "has no console (PL011 or virtio-console)";
        if (!vmm_console_focus(vm)) return "is not running or paused";
        return nullptr;
    }

    void list_vms(ShellOut& out) override {
        out.line("  id  name              state     vCPUs  on CPUs          RAM");
        for (usize i = 0; i < vmm_vm_count(); ++i) {
            Vm& vm = *vmm_vm(i);
            // Per vCPU: the physical CPU it is on now, or '-' when it is not on one.
            char cpus[vm_package::MAX_VCPUS * 4 + 1] = "";
            usize len = 0;
            for (u32 v = 0; v < vm.vcpu_count(); ++v) {
                SchedEntity& e = vm.vcpu(v)->sched();
                len += sched_state(&e) == SchedState::Running
                           ? format(cpus + len, sizeof cpus - len, "%s%zu", v ? "," : "", e.cpu)
                           : format(cpus + len, sizeof cpus - len, "%s-", v ? "," : "");
                if (len >= sizeof cpus) len = sizeof cpus - 1;
            }
            char ram[24];
            size_text(ram, sizeof ram, vm.ram_bytes());
            out.line("%4u  %-16s  %-8s  %5u  %-15s  %s", vm.id(), vm.name(), vm_state_name(vm.state()), vm.vcpu_count(),
                     cpus, ram);
        }
    }

    void show_vm(usize i, ShellOut& out) override {
        Vm& vm = *vmm_vm(i);
        const vm_package::VmRecord& rec = vm.record();
        const u8* pkg = vm.package();
        out.line("vm %u (%s): %s, up %lu ms, %u reset(s), last life ended: %s", vm.id(), vm.name(),
                 vm_state_name(vm.state()), vm.uptime_ms(), vm.resets(), stop_kind_name(vm.last_stop()));
        char ram[24], backed[24];
        size_text(ram, sizeof ram, vm.ram_bytes());
        size_text(backed, sizeof backed, vm.ram_backed_bytes());
        out.line("  RAM %s, %s backed now; entry %lx", ram, backed, rec.entry_point);
        static const char* const MAPS[] = {"allocated", "identical", "reserved"};
        auto* regions = reinterpret_cast<const vm_package::MemRegion*>(pkg + rec.regions);
        for (u32 r = 0; r < rec.region_count; ++r) {
            char size[24];
            size_text(size, sizeof size, regions[r].size);
            u32 f = regions[r].flags;
            out.line("  region %lx-%lx  %s  %c%c%c%s  %s", regions[r].gpa, regions[r].gpa + regions[r].size - 1, size,
                     f & 1 ? 'r' : '-', f & 2 ? 'w' : '-', f & 4 ? 'x' : '-', f & 8 ? " device" : "",
                     regions[r].map_type < 3 ? MAPS[regions[r].map_type] : "?");
        }
        auto* emu = reinterpret_cast<const vm_package::EmuDevice*>(pkg + rec.emu_devices);
        static const char* const TYPES[] = {"?", "pl011", "virtio-blk", "virtio-net", "virtio-console"};
        for (u32 d = 0, v = 0; d < rec.emu_count; ++d) {
            const u32 type = emu[d].type < 5 ? emu[d].type : 0;
            char state[48] = "";
            if (type >= u32(vm_package::EmuType::VirtioBlk)) {
                // The transports are in config order among the emulated devices.
                if (virtio::MmioTransport* t = vm.virtio_transport(v++))
                    format(state, sizeof state, ", status %x, %u queue fault(s)", t->status(), t->faults());
            }
            out.line("  emulated %.31s: %s at %lx+%lx, irq %u%s", emu[d].name, TYPES[type], emu[d].base_gpa,
                     emu[d].length, emu[d].irq, state);
        }
        VintcLayout l;
        if (rec.interrupt_mode == u32(vm_package::InterruptMode::Emulated) &&
            vintc_layout_of(u32(arch::PACKAGE_ISA), rec.cpu_num, l)) {
            // e.g. "emulated vGICv3: the vGIC distributor (GICD) at 8000000, the vGIC redistributors (GICR) at 80a0000, 32 SPIs"
            char windows[128] = "";
            for (usize w = 0, n = 0; w < l.window_count && n < sizeof windows; ++w)
                n += format(windows + n, sizeof windows - n, "%s at %lx, ", l.window_name[w], w ? rec.intc_base2 : rec.intc_base);
            out.line("  emulated %s: %s%u %s", l.model, windows, rec.intc_lines, l.line_name);
        }
        auto* pt = reinterpret_cast<const vm_package::PassthroughDevice*>(pkg + rec.pt_devices);
        for (u32 d = 0; d < rec.pt_count; ++d)
            out.line("  passthrough %.31s: host %lx+%lx at guest %lx, irq %u", pt[d].name, pt[d].base_hpa,
                     pt[d].length, pt[d].base_gpa, pt[d].irq);
        if (rec.emu_count + rec.pt_count == 0) out.line("  no devices");
        for (u32 v = 0; v < vm.vcpu_count(); ++v) {
            Vcpu& vc = *vm.vcpu(v);
            SchedEntity& e = vc.sched();
            char where[16] = "";
            if (sched_state(&e) == SchedState::Running) format(where, sizeof where, " on cpu %zu", e.cpu);
            char exits[ShellOut::LINE_CAP] = "";
            usize len = 0;
            for (usize k = 0; k < EXIT_KIND_COUNT && len < sizeof exits; ++k)
                if (u64 n = vc.exit_count(ExitKind(k)))
                    len += format(exits + len, sizeof exits - len, "%s%s %lu", len ? ", " : "", exit_kind_name(ExitKind(k)), n);
            out.line("  vcpu %u: %s%s, pc %lx, exits: %s", v, vcpu_state(vc), where, vc.last_pc(), len ? exits : "none");
        }
        char report[ShellOut::LINE_CAP];
        if (vm.last_report(report, sizeof report)) out.line("  last report: %s", report);
        else out.line("  last report: none");
    }

    void cpus(ShellOut& out) override {
        u64 up = uptime_us();
        for (usize c = 0; c < g_cpu_count; ++c) {
            PerCpu& p = g_percpu[c];
            // What runs there now: a vCPU whose scheduler entity is Running on this CPU.
            char what[48] = "idle";
            for (usize i = 0; i < vmm_vm_count(); ++i) {
                Vm& vm = *vmm_vm(i);
                for (u32 v = 0; v < vm.vcpu_count(); ++v) {
                    SchedEntity& e = vm.vcpu(v)->sched();
                    if (sched_state(&e) == SchedState::Running && e.cpu == c)
                        format(what, sizeof what, "vm %u (%s) vcpu %u", vm.id(), vm.name(), v);
                }
            }
            u64 idle_us = sched_idle_ticks(c) * 1000 / timer_ticks_per_ms();
            u64 permille = up ? idle_us * 1000 / up : 0;
            if (permille > 1000) permille = 1000;
            out.line("cpu %zu: %s, %s, idle %lu.%lu%% since boot", c, p.online.load() ? "online" : "offline", what,
                     permille / 10, permille % 10);
        }
    }

    void log(ShellOut& out) override {
        usize n = 0;
        struct Ctx {
            ShellOut& out;
            usize& n;
        } ctx{out, n};
        log_recent(
            [](void* c, const char* line, usize len) {
                auto& x = *static_cast<Ctx*>(c);
                char text[ShellOut::LINE_CAP - 2];
                while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) --len;
                if (len > sizeof text - 1) len = sizeof text - 1;
                memcpy(text, line, len);
                text[len] = 0;
                // Shown indented: shell output never starts with "cxvisor:", which marks log lines.
                x.out.line("  %s", text);
                ++x.n;
            },
            &ctx);
        if (n == 0) out.line("no log lines yet");
    }

    void version(ShellOut& out) override {
        out.line("cxvisor %s, hypercall ABI %u.%u, built from commit %s", arch::NAME, cxv_abi::VERSION_MAJOR,
                 cxv_abi::VERSION_MINOR, CXV_GIT_COMMIT);
    }

    void shutdown() override { vmm_shutdown("shutdown from the shell"); }
};

} // namespace

ShellBackend& vmm_shell_backend() {
    static VmmShellBackend backend;
    return backend;
}
