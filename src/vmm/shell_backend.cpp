// The shell's view of the running system (shell/shell.hpp ShellBackend over the VMM): VM list and
// details, lifecycle calls, physical CPUs, the log ring, the version. Runs in the console input
// handler (boot CPU, interrupts masked, console input lock held): it only reads state that is safe
// to read while the VMs run on other CPUs and calls the Vm methods the lifecycle contract makes
// safe there; it never waits for another CPU.
#include "abi/hypercall.hpp"
#include "arch.hpp"
#include "base/format.hpp"
#include "base/string.hpp"
#include "kernel/console.hpp"
#include "kernel/log.hpp"
#include "kernel/percpu.hpp"
#include "kernel/sched.hpp"
#include "kernel/timer.hpp"
#include "shell/shell.hpp"
#include "vmm/vmm.hpp"

#ifndef CXV_GIT_COMMIT
#define CXV_GIT_COMMIT "unknown"
#endif

namespace {


const char* vm_state_text(Vm& vm) { return vm.stopped() ? "stopped" : "running"; }

const char* vcpu_state(Vm&, Vcpu& v) {
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
    const char* vm_state(usize i) override { return vm_state_text(*vmm_vm(i)); }

    Result<void> vm_op(usize, VmOp) override { return Error::Unsupported; }

    const char* console_to(usize i) override {
        Vm* vm = vmm_vm(i);
        if (!vm->console_uart()) return "has no console UART";
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
            out.line("%4u  %-16s  %-8s  %5u  %-15s", vm.id(), vm.name(), vm_state_text(vm), vm.vcpu_count(), cpus);
        }
    }

    void show_vm(usize i, ShellOut& out) override {
        Vm& vm = *vmm_vm(i);
        out.line("vm %u (%s): %s, %u reset(s)", vm.id(), vm.name(), vm_state_text(vm), vm.resets());
        for (u32 v = 0; v < vm.vcpu_count(); ++v) {
            SchedEntity& e = vm.vcpu(v)->sched();
            char where[16] = "";
            if (sched_state(&e) == SchedState::Running) format(where, sizeof where, " on cpu %zu", e.cpu);
            out.line("  vcpu %u: %s%s", v, vcpu_state(vm, *vm.vcpu(v)), where);
        }
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
