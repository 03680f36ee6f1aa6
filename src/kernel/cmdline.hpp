// The host command line: what the person or script that starts cxvisor asks of this run. It comes
// from the host DTB's /chosen/bootargs (QEMU -append "..."; `make run EXIT_WHEN_DONE=1
// TIMESTAMPS=1` sets it). Words are separated by blanks:
//   exit_when_done  when every VM has stopped for good, print the exit summary and power off
//   timestamps      cxvisor's log lines start with "[seconds.micros] " since boot
// Unknown words are reported in one line and ignored: a typo never stops a boot.
#pragma once
#include "base/types.hpp"
#include "fdt/fdt.hpp"

struct HostCmdline {
    bool exit_when_done = false;
    bool timestamps = false;
};

// Parses `n` characters of `text` (a NUL before n ends it); prints one line naming the unknown
// words, if any. Boot CPU, at boot.
HostCmdline cmdline_parse(const char* text, usize n);
// The command line of the host DTB: /chosen/bootargs, or nothing when it has none.
HostCmdline cmdline_from_fdt(const Fdt& fdt);
