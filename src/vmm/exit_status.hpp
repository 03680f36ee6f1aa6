// The exit status of a scriptable run (host command line `exit_when_done`, or the shell's
// `shutdown`): once every VM has stopped, cxvisor prints one summary line
//   cxvisor: all VMs have stopped: exit status N (<what happened>)
// and powers the machine off; `make run` (scripts/run) exits with N.
//   0  every VM powered off by itself or was stopped by the operator
//   1  a VM was stopped by containment (StopKind::Crash) at least once during the run
//   2  a test guest reported FAIL (HC_TEST_RESULT); with a crash as well, still 2 (the larger)
// Pure logic, shared by the image (vmm/shutdown.cpp) and its host unit test.
#pragma once
#include "base/types.hpp"

inline constexpr int EXIT_CLEAN = 0, EXIT_CRASHED = 1, EXIT_FAILED = 2;

struct VmEnd {
    u32 id;
    const char* name;
    bool crashed; // stopped by containment at least once during the run
    bool failed;  // the guest reported FAIL at least once during the run
};

// Writes the summary line (with its newline) into out[0..n) and returns the exit status.
int exit_summary(const VmEnd* vms, usize count, char* out, usize n);
