// The hypervisor console: a UART found in the host DTB. Output from every CPU is serialized;
// input arrives by interrupt on the boot CPU and is handed to one consumer (the VMM's router).
#pragma once
#include "base/types.hpp"

struct ConsoleUart {
    void (*putc)(void* ctx, char c);
    bool (*getc)(void* ctx, char* out); // false when nothing is waiting
    void (*enable_rx_irq)(void* ctx);
    void* ctx;
};

void console_init(const ConsoleUart& uart);
using ConsoleInputHandler = void (*)(char c);
void console_set_input_handler(ConsoleInputHandler h);
// IRQ path: drain the UART's receive FIFO into the input handler.
void console_handle_rx();
