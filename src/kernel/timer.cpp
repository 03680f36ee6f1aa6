#include "kernel/timer.hpp"
#include "arch.hpp"
#include "kernel/percpu.hpp"

namespace {

void program(TimerQueue& q) {
    if (q.head) arch::timer_set_deadline(q.head->deadline);
    else arch::timer_stop();
}

void unlink(TimerQueue& q, TimerEvent& ev) {
    for (TimerEvent** l = &q.head; *l; l = &(*l)->next) {
        if (*l == &ev) {
            *l = ev.next;
            break;
        }
    }
    ev.next = nullptr;
    ev.queue = nullptr;
}

} // namespace

void timer_cancel(TimerEvent& ev) {
    for (;;) {
        TimerQueue* q = __atomic_load_n(&ev.queue, __ATOMIC_ACQUIRE);
        if (!q) return;
        SpinlockGuard guard(q->lock);
        if (ev.queue != q) continue; // moved meanwhile; retry with its new queue
        bool was_head = q->head == &ev;
        unlink(*q, ev);
        // Only the owning CPU may program its timer; a stale earlier deadline there merely causes
        // one early interrupt that finds nothing expired.
        if (was_head && q == &this_cpu().timers) program(*q);
        return;
    }
}

void timer_arm(TimerEvent& ev, u64 deadline) {
    timer_cancel(ev);
    TimerQueue& q = this_cpu().timers;
    SpinlockGuard guard(q.lock);
    ev.deadline = deadline;
    TimerEvent** l = &q.head;
    while (*l && (*l)->deadline <= deadline) l = &(*l)->next;
    ev.next = *l;
    *l = &ev;
    __atomic_store_n(&ev.queue, &q, __ATOMIC_RELEASE);
    if (q.head == &ev) program(q);
}

void timer_handle_irq() {
    TimerQueue& q = this_cpu().timers;
    for (;;) {
        TimerEvent* ev;
        {
            SpinlockGuard guard(q.lock);
            ev = q.head;
            if (!ev || ev->deadline > arch::counter()) {
                program(q);
                return;
            }
            unlink(q, *ev);
        }
        ev->callback(ev->ctx);
    }
}

u64 timer_ticks_per_ms() { return arch::counter_frequency() / 1000; }

namespace {
u64 g_boot_counter;
}

void timer_mark_boot(u64 counter_at_boot) { g_boot_counter = counter_at_boot; }

u64 ticks_to_us(u64 ticks) {
    u64 freq = arch::counter_frequency();
    return ticks / freq * 1000000 + ticks % freq * 1000000 / freq;
}

u64 uptime_us() { return ticks_to_us(arch::counter() - g_boot_counter); }
