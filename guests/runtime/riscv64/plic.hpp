// The guest's PLIC driver (riscv64 test guests; RISC-V PLIC Specification 1.0.0): the VM's vPLIC
// at PLIC_BASE (configs with interrupt_mode "emulated"; QEMU virt's address). Hart h's S-mode
// context is 2h + 1 (the board's context numbering, which the generated DT's interrupts-extended
// lists as <cpu h 11, cpu h 9>: M then S per hart). Calls are made on the vCPU whose context they
// name (claim/complete) or by any vCPU (priority, enable, threshold).
#pragma once
#include <stdint.h>

namespace rt::plic {

inline constexpr uint64_t PLIC_BASE = 0x0C000000;
inline constexpr unsigned s_context(unsigned hart) { return 2 * hart + 1; }

void set_priority(unsigned source, uint32_t priority); // 0 = never delivered
void enable(unsigned context, unsigned source, bool on);
void set_threshold(unsigned context, uint32_t threshold); // delivered if priority > threshold
uint32_t claim(unsigned context);                         // 0: nothing pending
void complete(unsigned context, unsigned source);

// Supervisor external interrupts (scause 1<<63 | 9) for this vCPU: sie.SEIE and sstatus.SIE, with
// `handler` called for each from the trap vector (it claims and completes). Null: both off.
void take_external_interrupts(void (*handler)());

} // namespace rt::plic
