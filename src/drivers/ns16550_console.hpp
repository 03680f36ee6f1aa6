#pragma once
#include "kernel/console.hpp"

// A console over a 16550-compatible UART at `base` (physical = virtual: the hypervisor is
// identity-mapped): register i at base + (i << reg_shift), accessed `reg_io_width` bytes wide
// (1 or 4), as the DTB's reg-shift / reg-io-width say. One console per image: the UART's layout
// is kept in the driver.
ConsoleUart ns16550_console(u64 base, u32 reg_shift, u32 reg_io_width);
