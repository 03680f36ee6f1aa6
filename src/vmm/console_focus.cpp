// Console focus: who gets the console input, a VM's console (its first PL011 or virtio-console) or the shell (docs/shell.md), and
// the console keys. The focus changes only in the console input handler (console input lock
// held; lock order console input -> console device -> console output), and in vmm_console_boot before
// that handler is installed.
#include "kernel/console.hpp"
#include "kernel/log.hpp"
#include "shell/shell.hpp"
#include "vmm/vmm.hpp"
#include <atomic>

namespace {

constexpr usize SHELL_FOCUS = ~usize(0);
std::atomic<usize> g_focus{SHELL_FOCUS}; // an index into the VM list, or SHELL_FOCUS
Shell* g_shell;                          // set by vmm_console_boot, before any input is read
bool g_said_no_vm; // "no VM can take the console input" printed since a VM last had the input
constexpr char CONSOLE_NEXT = 0x1c;  // Ctrl-backslash
constexpr char CONSOLE_SHELL = 0x1d; // Ctrl-]

// A VM takes the console input while it runs or is paused (its console keeps what is typed).
bool takes_input(Vm& vm) {
    VmState s = vm.state();
    return vm.console() && (s == VmState::Running || s == VmState::Paused);
}

void announce(usize target) {
    if (target == SHELL_FOCUS) {
        kprint("cxvisor: console: the cxvisor shell has the console input\n");
        g_shell->show_prompt();
    } else {
        Vm& vm = *vmm_vm(target);
        kprint("cxvisor: console: %s (vm %u) has the console input\n", vm.name(), vm.id());
    }
}

void set_focus(usize target) {
    usize old = g_focus.load();
    // The VM with the console shows its output as it comes (typing echoes at once); the others
    // keep whole lines.
    if (old != target && old != SHELL_FOCUS)
        if (ConsolePort* p = vmm_vm(old)->console()) p->set_live(false);
    if (target != SHELL_FOCUS) {
        vmm_vm(target)->console()->set_live(true);
        g_said_no_vm = false;
    }
    g_focus.store(target);
    announce(target);
}

// Ctrl-\: VM -> the next VM that takes input -> ... -> the shell -> the first VM again. In this
// cycle the shell is position vmm_vm_count().
void focus_next() {
    usize n = vmm_vm_count();
    usize cur = g_focus.load();
    usize pos = cur == SHELL_FOCUS ? n : cur;
    for (usize step = 1; step <= n + 1; ++step) {
        usize p = (pos + step) % (n + 1);
        if (p < n) {
            if (takes_input(*vmm_vm(p))) return set_focus(p);
            continue;
        }
        if (cur != SHELL_FOCUS) return set_focus(SHELL_FOCUS);
        // Round the whole cycle from the shell and back: no VM can have it. Said once, not on
        // every key.
        if (!g_said_no_vm) kprint("cxvisor: console: no VM can take the console input; the cxvisor shell keeps it\n");
        g_said_no_vm = true;
        return;
    }
}

} // namespace

void vmm_console_boot(ShellBackend& backend) {
    static Shell shell(backend);
    g_shell = &shell;
    // The first VM with a console that runs, else the shell.
    usize first = SHELL_FOCUS;
    for (usize i = 0; i < vmm_vm_count() && first == SHELL_FOCUS; ++i)
        if (takes_input(*vmm_vm(i))) first = i;
    set_focus(first);
}

bool vmm_console_focus(Vm* vm) {
    if (!vm) {
        set_focus(SHELL_FOCUS);
        return true;
    }
    for (usize i = 0; i < vmm_vm_count(); ++i)
        if (vmm_vm(i) == vm) {
            if (!takes_input(*vm)) return false;
            set_focus(i);
            return true;
        }
    return false;
}

// Console keys and backpressure: a character the focused VM's FIFO cannot take yet is refused,
// and the console holds it (and everything typed after it) until the VM reads its UART, so a
// paste is never cut. The console keys queue behind that character like any other: a VM that
// reads its input lets them through at once; one that leaves its full FIFO unread is given
// INPUT_PATIENCE_MS (kernel/console.hpp), then its input is lost with an overrun (the guest's own
// doing: real hardware would have lost it at once), until it reads again, and the key gets through.
bool vmm_console_input(char c, bool overdue, void (*ready)()) {
    usize f = g_focus.load();
    if (c == CONSOLE_SHELL) {
        if (f != SHELL_FOCUS) set_focus(SHELL_FOCUS);
        return true;
    }
    if (c == CONSOLE_NEXT) {
        focus_next();
        return true;
    }
    // A key typed at a VM that has stopped brings up the shell (where the VM can be started
    // again) and goes there, instead of being dropped.
    if (f != SHELL_FOCUS && !takes_input(*vmm_vm(f))) {
        set_focus(SHELL_FOCUS);
        f = SHELL_FOCUS;
    }
    if (f == SHELL_FOCUS) {
        g_shell->input(c);
        return true;
    }
    return vmm_vm(f)->console()->push_input(c, ready, overdue);
}
