// Per-CPU data. TPIDR_EL2 (or the ISA's equivalent) points at the running CPU's PerCpu; the first
// fields are read by the exception vectors (arch/<isa>/asm_offsets.hpp) and must stay first.
#pragma once
#include "abi/vm_package.hpp"
#include "arch.hpp"
#include "base/types.hpp"
#include "kernel/timer.hpp"
#include <atomic>


inline constexpr usize MAX_CPUS = vm_package::MAX_CPUS;

struct PerCpu {
    void* guest_regs = nullptr; // vectors: where the exit path saves the guest's GPRs
    u64 host_sp = 0;            // vectors: host stack at guest entry
    u64 id = 0;                 // logical CPU index (order of the host DTB cpu nodes)
    u64 stack_top = 0;
    u64 exit_plan = 0;          // vectors: what the exit path does before cxvisor's first indirect
                                // branch (arch-defined: the Spectre plan on aarch64)
    const void* exit_fast = nullptr; // vectors: the loaded vCPU's answers for the exit vector
                                // (arch-defined), or null; set by load(), cleared by put()
    u64 hw_id = 0;              // MPIDR (aarch64) / hart id (riscv)
    std::atomic<bool> online{false};
    std::atomic<bool> idle{false};
    std::atomic<bool> need_resched{false};
    // No other entity waits for this CPU (kernel/sched.cpp): the running vCPU may wait for its
    // interrupts inside the guest (an untrapped WFI) instead of leaving the CPU. Set under the
    // scheduler lock when the queue holds nothing for this CPU; cleared, with a kick, by the
    // first entity that becomes runnable here and finds no idle CPU.
    std::atomic<bool> idle_in_guest{false};
    // The running vCPU waits inside its guest now (sched_begin_idle_wait .. sched_end_idle_wait):
    // the CPU a newly runnable entity kicks.
    std::atomic<bool> waiting_in_guest{false};
    // Idle accounting (kernel/sched.cpp): ticks spent in sched_pick's WFI before the current one,
    // and the counter when the current one began (~0 when not waiting).
    std::atomic<u64> idle_ticks{0};
    std::atomic<u64> idle_since{~0ull};
    void* current_vcpu = nullptr; // the Vcpu loaded here (between load and put), for its own interrupts
    TimerQueue timers;
};

extern PerCpu g_percpu[MAX_CPUS];
extern usize g_cpu_count;

inline PerCpu& this_cpu() { return *reinterpret_cast<PerCpu*>(arch::percpu_pointer()); }
inline usize cpu_id() { return this_cpu().id; }
