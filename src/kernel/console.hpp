// The hypervisor console: a UART found in the host DTB. Output from every CPU is serialized;
// input arrives by interrupt on the boot CPU and is handed to one consumer (the VMM's router).
//
// Input flow control: the consumer may refuse a character (a VM's receive FIFO is full). The
// console then holds that one character, stops reading the UART and masks its receive interrupt,
// so further input waits in the UART and behind it (QEMU's character backend stops reading its
// host side): nothing is lost. The consumer calls console_input_ready() when it can take input
// again; the held character is offered once more and reading resumes. A consumer that stays
// refusing for INPUT_PATIENCE_MS is offered the character with `overdue` set and should take it
// (deliver it or drop it): a guest that does not read its console cannot block input, and with it
// the console-switch key, for good. (A refusal of an overdue character restarts the wait: the
// consumer may have a new reason, such as a new focus.)
#pragma once
#include "base/types.hpp"

struct ConsoleUart {
    void (*putc)(void* ctx, char c);
    bool (*getc)(void* ctx, char* out); // false when nothing is waiting
    // Unmasks (true) or masks the receive interrupts without clearing them: input that is waiting
    // while they are masked raises the interrupt when they are unmasked. Any CPU.
    void (*set_rx_irq)(void* ctx, bool enabled);
    void* ctx;
};

void console_init(const ConsoleUart& uart);
// The UART console_init was given; null before. Any CPU.
const ConsoleUart* console_uart();

// Returns true when `c` was taken; false to make the console hold it until `ready` is called
// (that is console_input_ready, handed over so that consumers need not link the console).
// `overdue`: the console has held `c` for INPUT_PATIENCE_MS without a call of `ready`.
// Called with the console input lock held (the handler's own locks nest inside it), on the boot
// CPU (UART interrupt, patience timer) or on the CPU that calls console_input_ready().
using ConsoleInputHandler = bool (*)(char c, bool overdue, void (*ready)());
inline constexpr u64 INPUT_PATIENCE_MS = 2000;
void console_set_input_handler(ConsoleInputHandler h);
// IRQ path (boot CPU): read the UART's receive FIFO into the input handler until it is empty or
// the handler refuses a character.
void console_handle_rx();
// The consumer has room again: offer the held character and resume reading. Any CPU, with no
// lock held that the input handler takes (it runs in here).
void console_input_ready();
