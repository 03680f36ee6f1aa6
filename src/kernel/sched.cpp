#include "kernel/sched.hpp"
#include "arch.hpp"
#include "kernel/log.hpp"
#include "kernel/percpu.hpp"
#include "kernel/spinlock.hpp"
#include "kernel/timer.hpp"

namespace {

Spinlock g_lock;
SchedEntity* g_head;
SchedEntity* g_tail;
usize g_cpus;
TimerEvent g_slice[MAX_CPUS];

void enqueue(SchedEntity* e) {
    e->next = nullptr;
    if (g_tail) g_tail->next = e; else g_head = e;
    g_tail = e;
}

void remove(SchedEntity* e) {
    SchedEntity* prev = nullptr;
    for (SchedEntity* p = g_head; p; prev = p, p = p->next) {
        if (p != e) continue;
        if (prev) prev->next = p->next; else g_head = p->next;
        if (g_tail == p) g_tail = prev;
        p->next = nullptr;
        return;
    }
}

SchedEntity* take_for(usize cpu) {
    SchedEntity* prev = nullptr;
    for (SchedEntity* p = g_head; p; prev = p, p = p->next) {
        if (!(p->affinity & (1ull << cpu))) continue;
        if (prev) prev->next = p->next; else g_head = p->next;
        if (g_tail == p) g_tail = prev;
        p->next = nullptr;
        return p;
    }
    return nullptr;
}

bool queued_for(usize cpu) {
    for (SchedEntity* p = g_head; p; p = p->next)
        if (p->affinity & (1ull << cpu)) return true;
    return false;
}

// Lock held. An idle CPU that may run `e` is woken. Otherwise every CPU that may run it loses the
// permission to wait inside its guest (idle_in_guest), so that its guest's next wait traps and
// gives the CPU to `e`, and the first of them whose guest waits there now is kicked out of that
// wait. Otherwise `e` waits for a slice end. The current CPU is never kicked (it is in cxvisor
// and rereads its permission before entry), nor anyone when `e` leaves this CPU and may run here
// again: it picks at once.
void kick_idle_for(SchedEntity* e, bool leaving_here) {
    for (usize c = 0; c < g_cpus; ++c) {
        if ((e->affinity & (1ull << c)) && g_percpu[c].idle.load() && c != cpu_id()) {
            arch::send_ipi(g_percpu[c].hw_id);
            return;
        }
    }
    if (leaving_here && (e->affinity & (1ull << cpu_id()))) return;
    bool kicked = false;
    for (usize c = 0; c < g_cpus; ++c) {
        if (!(e->affinity & (1ull << c)) || !g_percpu[c].idle_in_guest.exchange(false)) continue;
        // Seq-cst exchange, then load: against sched_begin_idle_wait's store, then load.
        if (!kicked && c != cpu_id() && g_percpu[c].waiting_in_guest.load()) {
            arch::send_ipi(g_percpu[c].hw_id);
            kicked = true;
        }
    }
}

// Lock held. A paused entity is parked: Runnable, but outside the queue until sched_resume
// (invariant: Runnable and not paused <=> queued).
void make_runnable(SchedEntity* e, bool leaving_here = false) {
    e->state = SchedState::Runnable;
    e->wake_pending = false;
    if (e->paused) return;
    enqueue(e);
    kick_idle_for(e, leaving_here);
}

void slice_expired(void*) { this_cpu().need_resched.store(true); }

} // namespace

void sched_set_cpu_count(usize n) { g_cpus = n; }

// While the guest waits inside, the slice timer would only interrupt the wait (every 10 ms, a
// host interrupt the vCPU must step back into its WFI from): nobody needs the slice end, since an
// entity that becomes runnable for this CPU kicks the wait instead. It starts again when the wait
// is over.
bool sched_begin_idle_wait() {
    PerCpu& me = this_cpu();
    me.waiting_in_guest.store(true);
    if (me.idle_in_guest.load()) {
        timer_cancel(g_slice[me.id]);
        return true;
    }
    me.waiting_in_guest.store(false);
    return false;
}

void sched_end_idle_wait() {
    PerCpu& me = this_cpu();
    if (!me.waiting_in_guest.load(std::memory_order_relaxed)) return;
    me.waiting_in_guest.store(false, std::memory_order_relaxed);
    sched_begin_slice();
}

void sched_init_cpu() {
    TimerEvent& t = g_slice[cpu_id()];
    t.callback = slice_expired;
    t.ctx = nullptr;
}

void sched_begin_slice() {
    this_cpu().need_resched.store(false);
    timer_arm(g_slice[cpu_id()], arch::counter() + SCHED_SLICE_MS * timer_ticks_per_ms());
}

SchedEntity* sched_pick() {
    PerCpu& me = this_cpu();
    for (;;) {
        {
            SpinlockGuard guard(g_lock);
            if (SchedEntity* e = take_for(me.id)) {
                e->state = SchedState::Running;
                e->cpu = me.id;
                me.idle.store(false);
                me.idle_in_guest.store(!queued_for(me.id));
                return e;
            }
            me.idle.store(true);
        }
        // Interrupts stay masked: WFI still completes when one is pending (D1.16.2), and the
        // handlers run here, from a known place, instead of interrupting arbitrary EL2 code.
        u64 since = arch::counter();
        me.idle_since.store(since);
        arch::wfi();
        // Ticks first, then the end of the wait: sched_idle_ticks rereads the ticks to detect it.
        me.idle_ticks.fetch_add(arch::counter() - since);
        me.idle_since.store(~0ull);
        arch::handle_pending_irqs();
    }
}

bool sched_should_yield() {
    PerCpu& me = this_cpu();
    if (!me.need_resched.load()) return false;
    {
        SpinlockGuard guard(g_lock);
        if (queued_for(me.id)) return true;
        // Under the lock, so that an entity queued from now on finds the flag and kicks.
        me.idle_in_guest.store(true);
    }
    // Nobody waiting: keep running, but start a new slice, so that an entity which becomes
    // runnable for this CPU later (and finds no idle CPU) is let in when that slice ends.
    sched_begin_slice();
    return false;
}

SchedState sched_leave(SchedEntity* e, Leave how) {
    SpinlockGuard guard(g_lock);
    g_percpu[e->cpu].idle_in_guest.store(false); // no guest runs there until the next pick
    if (e->stop_pending || how == Leave::Off) {
        e->stop_pending = false;
        e->state = SchedState::Off;
    } else if (how == Leave::Yield || e->wake_pending) {
        make_runnable(e, true);
    } else {
        e->state = SchedState::Blocked;
    }
    return e->state;
}

bool sched_wake(SchedEntity* e, bool allow_start) {
    SpinlockGuard guard(g_lock);
    switch (e->state) {
    case SchedState::Off:
        if (!allow_start) return false;
        make_runnable(e);
        return true;
    case SchedState::Blocked:
        // Paused: the wake-up is kept for sched_resume (a WFI whose timer fired completes then).
        if (e->paused) e->wake_pending = true;
        else make_runnable(e);
        return true;
    case SchedState::Running:
        e->wake_pending = true;
        if (e->cpu != cpu_id()) arch::send_ipi(g_percpu[e->cpu].hw_id);
        return true;
    case SchedState::Runnable:
        return true;
    }
    return true;
}

bool sched_stop(SchedEntity* e) {
    SpinlockGuard guard(g_lock);
    switch (e->state) {
    case SchedState::Off: return false;
    case SchedState::Runnable:
        remove(e);
        e->state = SchedState::Off;
        return true;
    case SchedState::Blocked:
        e->state = SchedState::Off;
        e->wake_pending = false; // a wake-up kept during a pause is for a life that is over
        return true;
    case SchedState::Running:
        e->stop_pending = true;
        if (e->cpu != cpu_id()) arch::send_ipi(g_percpu[e->cpu].hw_id);
        return false;
    }
    return false;
}

void sched_pause(SchedEntity* e) {
    SpinlockGuard guard(g_lock);
    if (e->paused) return;
    __atomic_store_n(&e->paused, true, __ATOMIC_RELEASE);
    switch (e->state) {
    case SchedState::Runnable: remove(e); break; // parked
    case SchedState::Running:
        // Its CPU sees the flag at the next exit (sched_must_leave); the kick makes that soon. An
        // IPI that lands between that check and the guest entry makes the entry exit at once.
        if (e->cpu != cpu_id()) arch::send_ipi(g_percpu[e->cpu].hw_id);
        break;
    case SchedState::Blocked:
    case SchedState::Off: break;
    }
}

void sched_resume(SchedEntity* e) {
    SpinlockGuard guard(g_lock);
    if (!e->paused) return;
    __atomic_store_n(&e->paused, false, __ATOMIC_RELEASE);
    switch (e->state) {
    case SchedState::Runnable: // parked
        enqueue(e);
        kick_idle_for(e, false);
        break;
    case SchedState::Blocked:
        if (e->wake_pending) make_runnable(e);
        break;
    case SchedState::Running: // still on its way out: sched_leave requeues it as unpaused
    case SchedState::Off: break;
    }
}

u64 sched_idle_ticks(usize cpu) {
    if (cpu >= MAX_CPUS) return 0;
    const PerCpu& c = g_percpu[cpu];
    for (;;) {
        u64 ticks = c.idle_ticks.load();
        u64 since = c.idle_since.load();
        u64 now = arch::counter();
        if (c.idle_ticks.load() != ticks) continue; // a wait ended meanwhile: its ticks moved
        return since == ~0ull || now < since ? ticks : ticks + (now - since);
    }
}

SchedState sched_state(const SchedEntity* e) {
    SpinlockGuard guard(g_lock);
    return e->state;
}

#ifdef CXV_HOST_TEST
bool sched_consistent(const SchedEntity* e) {
    SpinlockGuard guard(g_lock);
    usize queued = 0;
    for (SchedEntity* p = g_head; p; p = p->next) queued += p == e;
    return queued == (e->state == SchedState::Runnable && !e->paused ? 1u : 0u);
}
#endif
