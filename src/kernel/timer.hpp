// Host timers: one queue per physical CPU, ordered by deadline, driving that CPU's hypervisor
// timer (CNTHP on aarch64). Deadlines are in counter ticks (arch::counter()).
// Contract: timer_arm/timer_cancel may be called from any CPU (each queue has its own lock);
// callbacks run on the queue's CPU, from the IRQ path, with no locks held.
#pragma once
#include "base/types.hpp"
#include "kernel/spinlock.hpp"

struct TimerQueue;

struct TimerEvent {
    using Callback = void (*)(void* ctx);
    Callback callback = nullptr;
    void* ctx = nullptr;
    u64 deadline = 0;
    TimerEvent* next = nullptr;
    TimerQueue* queue = nullptr; // non-null while armed
};

struct TimerQueue {
    Spinlock lock;
    TimerEvent* head = nullptr;
};

// Arms `ev` on this CPU's queue (re-arming moves it).
void timer_arm(TimerEvent& ev, u64 deadline);
// Disarms `ev` wherever it is armed; no effect if it is not armed.
void timer_cancel(TimerEvent& ev);
// Called on the CPU that took the timer interrupt: runs expired events, reprograms the hardware.
void timer_handle_irq();
u64 timer_ticks_per_ms();

// Time since cxvisor started: the counter value at boot is taken by timer_mark_boot (boot CPU,
// first thing). Any CPU.
void timer_mark_boot(u64 counter_at_boot);
u64 uptime_us();
// Counter ticks -> microseconds without overflow for any uptime (the counter runs at <= 1 GHz).
u64 ticks_to_us(u64 ticks);
