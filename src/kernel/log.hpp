// Console output for all of cxvisor. Generic code (devices, vm, vmm) prints only through these;
// the image implements them over the host UART (kernel/console.cpp), host unit tests over a
// capture buffer (tests/unit/support/host_console.cpp).
#pragma once
#include "base/types.hpp"

// Writes raw bytes to the hypervisor console. Callable from any CPU, with or without interrupts
// masked; output of one call is never interleaved with another CPU's.
void console_write(const char* s, usize n);
// A line shown piece by piece (the console-focused VM's output, so what the user types echoes at
// once): `owner` identifies the line's writer. When the console's open line is not `owner`'s,
// `head` (the line's prefix) is written first. A piece ending in '\n' closes the line; s == null
// closes `owner`'s line if it is the open one. Any other output (console_write, another owner's
// piece) first ends an open line with a newline, so no two writers ever share a line.
void console_write_piece(const void* owner, const char* head, usize head_len, const char* s, usize n);

// printf-style output of cxvisor's own log lines; the caller adds "\n" (one call may hold several
// lines). Every non-empty line is kept in the log ring (log_recent) and, with a clock set
// (log_set_clock), starts with "[   12.345678] ": seconds and microseconds since boot. Guest
// output never goes through here. Any CPU, interrupts masked or not.
void kprint(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

// Turns the timestamps on (a function returning microseconds since boot) or off (null). Called at
// boot, before the other CPUs start, when the host command line asks for `timestamps`.
void log_set_clock(u64 (*now_us)());

// The log ring: the last LOG_RING_LINES lines kprint printed, each cut at LOG_LINE_MAX - 1
// characters, without timestamp or newline.
inline constexpr usize LOG_RING_LINES = 32;
inline constexpr usize LOG_LINE_MAX = 200;
// Calls fn for each line of the ring, oldest first. fn runs without any log lock held (it may
// kprint; what it prints joins the ring but is not shown in this walk). Any CPU.
void log_recent(void (*fn)(void* ctx, const char* line, usize len), void* ctx);

// A broken hypervisor invariant: prints the message with the CPU id and stops this CPU (and asks
// the others to stop). Never call it for anything a guest or a config file can cause.
[[noreturn]] void panic(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
