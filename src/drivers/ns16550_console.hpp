#pragma once
#include "kernel/console.hpp"

// A console over a 16550-compatible UART at `base` (physical = virtual: the hypervisor is
// identity-mapped): register i at base + (i << reg_shift), accessed `reg_io_width` bytes wide
// (1 or 4), as the DTB's reg-shift / reg-io-width say. One console per image: the UART's layout
// is kept in the driver.
ConsoleUart ns16550_console(u64 base, u32 reg_shift, u32 reg_io_width);

// The same console over a UART reached some other way (x86: I/O ports): `read`/`write` access
// register i (0..7) of the UART. The ISA's code supplies them; the driver stays ISA-free.
struct Ns16550Access {
    u32 (*read)(void* ctx, u32 reg);
    void (*write)(void* ctx, u32 reg, u32 value);
    void* ctx;
};
ConsoleUart ns16550_console(Ns16550Access access);
