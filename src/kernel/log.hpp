// Console output for all of cxvisor. Generic code (devices, vm, vmm) prints only through these;
// the image implements them over the host UART (kernel/console.cpp), host unit tests over a
// capture buffer (tests/unit/support/host_console.cpp).
#pragma once
#include "base/types.hpp"

// Writes raw bytes to the hypervisor console. Callable from any CPU, with or without interrupts
// masked; output of one call is never interleaved with another CPU's.
void console_write(const char* s, usize n);

// printf-style line output prefixed with nothing; the caller adds "\n".
void kprint(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

// A broken hypervisor invariant: prints the message with the CPU id and stops this CPU (and asks
// the others to stop). Never call it for anything a guest or a config file can cause.
[[noreturn]] void panic(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
