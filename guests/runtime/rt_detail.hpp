// Between the runtime's generic part (rt.cpp) and its ISA part (<isa>/arch.cpp); not for programs.
#pragma once
#include "rt.hpp"

namespace rt::detail {
// The console UART, polled (arch.cpp): one byte out, waiting for room; one byte in, or -1.
void uart_putc(char c);
int uart_try_getc();
[[noreturn]] void park(); // this vCPU idles for ever
// What each secondary vCPU runs once the runtime has set it up (start_cpu sets it, rt.cpp's
// rt_secondary_main reads it).
extern void (*volatile g_entry[MAX_CPUS])(unsigned);

// fault_record.cpp (riscv64, x86_64): each vCPU's armed-fault state. `resume`: where an armed
// fault continues, for an ISA whose instructions the handler cannot measure (x86); 0 otherwise.
struct FaultRecord {
    volatile bool armed;
    volatile uint64_t resume;
    ExcRecord last;
};
extern FaultRecord g_fault[MAX_CPUS];
// From the trap handler: true if this vCPU was armed, the exception then recorded and disarmed.
bool record_armed_fault(uint64_t esr, uint64_t far, uint64_t elr);
// The end of a probe: disarmed, and what the probe saw (rt::Probe).
Probe probe_end(uint64_t before, uint64_t v);
// probe_step.cpp's ISA part (riscv64, loongarch64): one load (zero-extended; 0 if the handler
// stepped over it) or store of `size` bytes (1, 2, 4, else 8) at addr, in a single instruction.
uint64_t probe_load(uint64_t addr, unsigned size);
void probe_store(uint64_t addr, unsigned size, uint64_t v);
} // namespace rt::detail
