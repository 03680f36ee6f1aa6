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
// The console's input handler (kernel/console.hpp): routes `c` to the focused VM's UART, or
// handles the console-switch key (Ctrl-\). False while that UART's receive FIFO is full.
bool vmm_console_input(char c, bool overdue, void (*ready)());

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
// Vm::finish_stop, when a VM has stopped for good (not on a reset): notes a containment stop for
// the exit status and ends the run if it was the last VM and the run is to end. Any CPU, no locks.
void vmm_vm_ended(Vm& vm);
// HC_TEST_RESULT: a test guest reports its result (0 pass, anything else FAIL). Any CPU.
void vmm_test_result(Vm& vm, u64 result);
// A test guest of this VM reported FAIL during the run (kept over restarts). Any CPU.
bool vmm_vm_failed(const Vm& vm);
