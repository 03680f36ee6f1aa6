// Host interrupt dispatch. The arch interrupt-controller driver acknowledges an interrupt and calls
// irq_dispatch; handlers run on the CPU that took it, with interrupts masked, and must be short.
#pragma once
#include "base/types.hpp"

// What became of an interrupt. Done: cxvisor has finished with it, the driver deactivates it.
// Forwarded: it was handed to a guest through a hardware-linked virtual interrupt, so the guest's
// deactivation deactivates it (until then the line stays active and cannot fire again).
enum class IrqAction : u8 { Done, Forwarded };
using IrqHandler = IrqAction (*)(u32 intid, void* ctx);
// Every ISA's host interrupt numbers fit: GIC INTIDs (< 1020), and on riscv64 PLIC sources (1..1023) plus
// the hart-local interrupts numbered from 1024 (arch/riscv64/arch.hpp).
inline constexpr u32 MAX_IRQS = 1040;

// Before the interrupt can be taken: the boot CPU before secondaries start, or any CPU for an
// interrupt that is still disabled at the interrupt controller (a VM's passthrough SPI, enabled
// after this returns; the release fence orders the entry before the enable).
void irq_register(u32 intid, IrqHandler handler, void* ctx);
IrqAction irq_dispatch(u32 intid);
