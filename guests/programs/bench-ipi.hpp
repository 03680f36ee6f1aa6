// bench-ipi's ISA part (bench-ipi-<isa>.cpp): how vCPU 0 interrupts vCPU 1 and how vCPU 1 waits.
#pragma once
#include "rt.hpp"

namespace ipi {
void init_sender();                    // vCPU 0, before vCPU 1 starts
void init_receiver(void (*on_ipi)());  // vCPU 1, on itself: on_ipi runs in its interrupt handler,
                                       // after the handler's first counter read (passed to it)
void send();                           // vCPU 0: one IPI to vCPU 1
void irq_off();                        // this vCPU's interrupts masked / unmasked
void irq_on();
void wait();                           // WFI with interrupts masked: returns once one is pending
extern volatile uint64_t taken_at;     // the handler's first counter read (the ISA part sets it)
} // namespace ipi
