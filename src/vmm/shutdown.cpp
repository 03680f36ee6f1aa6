// The end of a run: test results, VMs that ended for good, and the exit summary with PSCI
// SYSTEM_OFF when every VM has stopped and the run asked for it (exit_when_done, or the shell's
// `shutdown`). See vmm/exit_status.hpp for the statuses.
#include "arch.hpp"
#include "kernel/log.hpp"
#include "kernel/spinlock.hpp"
#include "vmm/exit_status.hpp"
#include "vmm/vmm.hpp"
#include <atomic>

namespace {

std::atomic<bool> g_exit_when_done{false};
std::atomic<bool> g_shutting_down{false};
std::atomic<bool> g_vms_created{false};
// Test results are kept by VM id: a VM reports before the boot flow has listed every VM.
struct Failed {
    std::atomic<u32> id{0};
    std::atomic<bool> used{false};
};
Failed g_failed[vm_package::MAX_VMS];
Spinlock g_end_lock;
bool g_powering_off; // g_end_lock

// A VM that will not run again by itself: it stopped, or it was never started (autostart = false,
// or its boot failed); only the operator can start it. A VM publishes Stopped after its end line
// and its crash record (Vm::end_life), so a VM down here has said how it ended even if its own
// vmm_vm_ended has not run yet (it ended on another CPU an instant before).
bool vm_down(Vm& vm) {
    VmState s = vm.state();
    return s == VmState::Stopped || s == VmState::Created;
}

// Prints the summary and powers off once every VM is down. Any CPU, no locks held.
void maybe_power_off() {
    if (!g_vms_created.load() || !(g_exit_when_done.load() || g_shutting_down.load())) return;
    for (usize i = 0; i < vmm_vm_count(); ++i)
        if (!vm_down(*vmm_vm(i))) return;
    {
        SpinlockGuard guard(g_end_lock);
        if (g_powering_off) return; // two VMs ended at once on two CPUs: one summary
        g_powering_off = true;
    }
    VmEnd ends[vm_package::MAX_VMS];
    usize n = vmm_vm_count();
    for (usize i = 0; i < n; ++i) {
        Vm& vm = *vmm_vm(i);
        ends[i] = {vm.id(), vm.name(), vm.crashed(), vmm_vm_failed(vm)};
    }
    char line[512];
    exit_summary(ends, n, line, sizeof line);
    kprint("%s", line);
    arch::system_off();
    // Firmware without a power-off call: the summary is out; nothing else is left to do here.
    kprint("cxvisor: the firmware did not power off (%s); halted\n", arch::SYSTEM_OFF_CALL);
    for (;;) arch::wfe();
}

} // namespace

void vmm_set_exit_when_done(bool on) { g_exit_when_done.store(on); }

void vmm_vms_created() {
    g_vms_created.store(true);
    maybe_power_off(); // every VM may have ended before the last one was listed
}

// Only a trigger: how `vm` ended is its own (Vm::crashed), published before it was Stopped.
void vmm_vm_ended(Vm&) { maybe_power_off(); }

void vmm_shutdown(const char* why) {
    g_shutting_down.store(true);
    kprint("cxvisor: shutting down (%s): stopping every VM\n", why);
    for (usize i = 0; i < vmm_vm_count(); ++i)
        if (!vm_down(*vmm_vm(i))) vmm_vm(i)->request_stop(StopKind::Operator, why);
    maybe_power_off(); // all were down already
}

void vmm_test_result(Vm& vm, u64 result) {
    if (result == 0 || vmm_vm_failed(vm)) return; // a pass, or a failure already recorded
    for (Failed& f : g_failed) {
        bool expected = false;
        if (!f.used.compare_exchange_strong(expected, true)) continue;
        f.id.store(vm.id());
        kprint("cxvisor: vm %u (%s): the guest reported a test FAIL (%lu)\n", vm.id(), vm.name(), result);
        return;
    }
}

bool vmm_vm_failed(const Vm& vm) {
    for (const Failed& f : g_failed)
        if (f.used.load() && f.id.load() == vm.id()) return true;
    return false;
}
