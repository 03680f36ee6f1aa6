// The VMM: boot flow, the VM list, the per-CPU run loop and level 3 of exit handling
// (power, hypercalls, halting), and routing of console input to VMs.
#pragma once
#include "kernel/irq.hpp"
#include "vm/vm.hpp"

// Runs `vcpu` on this CPU until it blocks, yields its slice, or goes off.
void vmm_run_vcpu(Vcpu& vcpu);
// Level 3. Returns how the vCPU leaves (or not) the CPU.
enum class Next : u8 { Continue, Block, Off };
Next vmm_handle_exit(Vcpu& vcpu, ExitReason& exit);
[[noreturn]] void vmm_cpu_loop();
// Host interrupt handler of the guests' timer PPI: hands it to the vCPU loaded on this CPU.
IrqAction vmm_vcpu_timer_irq(u32 intid, void* ctx);

// VM list (filled at boot, fixed afterwards).
usize vmm_vm_count();
Vm* vmm_vm(usize i);
// The console's input handler (kernel/console.hpp): routes `c` to the focused VM's UART or to the
// shell, or handles a console key (Ctrl-\: next target, Ctrl-]: the shell). False while that
// UART's receive FIFO is full (vmm/console_focus.cpp).
bool vmm_console_input(char c, bool overdue, void (*ready)());

// --- The console and the shell (docs/shell.md) ---
// A VM by decimal id or exact name; null if there is none.
Vm* vmm_find_vm(const char* id_or_name);
// Gives the console input to `vm` (null: to the shell) and announces it. False, and nothing
// changes, if the VM has no UART or is not running or paused. Console input handler context
// (console input lock held, boot CPU), or boot before the VMs run.
bool vmm_console_focus(Vm* vm);
// Boot CPU, once, after the VMs are created and before vmm_console_input is installed as the
// console's input handler: sets up the shell over `backend` and gives the console to the first
// VM with a UART that runs, else to the shell, and says which (vmm/console_focus.cpp).
class ShellBackend;
void vmm_console_boot(ShellBackend& backend);
// The shell's backend over the VMM (vmm/shell_backend.cpp).
ShellBackend& vmm_shell_backend();

// --- The end of a run (vmm/shutdown.cpp; statuses in vmm/exit_status.hpp) ---
// Host command line `exit_when_done`: power off with the exit summary once every VM has stopped.
// Boot CPU, at boot.
void vmm_set_exit_when_done(bool on);
// The boot flow has created and booted every VM of the package: from now on the last VM to stop
// can end the run (before, it could be only the first of several). Boot CPU, once.
void vmm_vms_created();
// Stops every VM (StopKind::Operator); when the last has stopped, prints the exit summary and
// powers off (the shell's `shutdown`). Any CPU; returns at once, the VMs stop asynchronously.
void vmm_shutdown(const char* why);
// Vm::finish_stop, when a VM has stopped for good (not on a reset), after its end line and its
// Stopped state (the VM records a crash itself: Vm::crashed()): ends the run if no VM is left
// running and the run is to end. Any CPU, no locks.
void vmm_vm_ended(Vm& vm);
// HC_TEST_RESULT: a test guest reports its result (0 pass, anything else FAIL). Any CPU.
void vmm_test_result(Vm& vm, u64 result);
// A test guest of this VM reported FAIL during the run (kept over restarts). Any CPU.
bool vmm_vm_failed(const Vm& vm);
