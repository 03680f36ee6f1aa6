// Host interrupt dispatch. The arch interrupt-controller driver acknowledges an interrupt and calls
// irq_dispatch; handlers run on the CPU that took it, with interrupts masked, and must be short.
#pragma once
#include "base/types.hpp"

using IrqHandler = void (*)(u32 intid, void* ctx);
inline constexpr u32 MAX_IRQS = 1020;

void irq_register(u32 intid, IrqHandler handler, void* ctx); // boot CPU, before secondaries start
void irq_dispatch(u32 intid);
