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
} // namespace rt::detail
