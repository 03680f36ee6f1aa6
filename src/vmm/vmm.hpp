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
