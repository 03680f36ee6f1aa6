#pragma once
#include "kernel/console.hpp"

// A console over the PL011 at `base` (physical = virtual: the hypervisor is identity-mapped).
ConsoleUart pl011_console(u64 base);
