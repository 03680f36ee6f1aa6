// The scheduler: every vCPU is a SchedEntity; each physical CPU runs the entity it picks until
// the entity blocks (WFI), is preempted at the end of its time slice, or is switched off.
// One global FIFO with per-entity CPU affinity masks: simple, fair, and plenty for <= 16 CPUs.
//
// Contract: all functions may be called from any CPU with interrupts masked (always the case in
// cxvisor). State changes happen under the scheduler lock; functions never block except
// sched_pick, which idles the calling CPU until it has something to run.
#pragma once
#include "base/types.hpp"
#include "kernel/percpu.hpp"

enum class SchedState : u8 {
    Off,      // not started, powered off, or stopped
    Runnable, // in the run queue
    Running,  // owned by a physical CPU (in the guest or handling its exit)
    Blocked,  // waiting (WFI) for a wake-up
};

struct SchedEntity {
    SchedState state = SchedState::Off;
    u64 affinity = ~0ull;   // bit n: may run on physical CPU n
    SchedEntity* next = nullptr;
    bool wake_pending = false; // a wake-up arrived while Running: do not block
    bool stop_pending = false; // leave the CPU and go Off at the next exit
    // Paused (sched_pause): never in the run queue. A Runnable entity is parked outside it, a
    // Running one leaves its CPU at its next exit and is parked, a Blocked one keeps its wake-ups
    // in wake_pending; sched_resume puts each back.
    bool paused = false;
    usize cpu = 0;             // while Running: which CPU
    void* owner = nullptr;     // the object this entity schedules (a Vcpu)
};

inline constexpr u64 SCHED_SLICE_MS = 10;

void sched_init_cpu();                 // each CPU once, before sched_pick
SchedEntity* sched_pick();             // idles until an entity may run here; marks it Running
bool sched_should_yield();             // slice over and another entity could use this CPU
// Whether the running entity may wait for its interrupts without leaving this CPU (its guest's
// WFI untrapped): true while nobody else waits for the CPU. Read before every guest entry; an
// entity that becomes runnable later clears it and kicks the CPU, so the guest exits and its next
// wait traps again. Lock-free, one load.
inline bool sched_may_idle_in_guest() { return this_cpu().idle_in_guest.load(std::memory_order_relaxed); }
// The backend is about to let its guest wait inside the guest: true if it may (the permission
// still holds, checked after announcing the wait, so that an entity queued at the same time either
// sees the wait and kicks, or is seen here). sched_end_idle_wait when the wait is over.
bool sched_begin_idle_wait();
void sched_end_idle_wait();
void sched_begin_slice();              // (re)arm this CPU's slice timer
enum class Leave : u8 { Yield, Block, Off };
// The running entity leaves the CPU. Block turns into Yield if a wake-up is pending.
// Returns the state it ended in.
SchedState sched_leave(SchedEntity* e, Leave how);
// Off/Blocked -> Runnable (from any CPU). Running -> wake_pending (and the CPU is kicked so the
// guest exits). Runnable: nothing. Returns false if the entity is Off and `allow_start` is false.
bool sched_wake(SchedEntity* e, bool allow_start = false);
// Takes the entity off the CPU lists: Runnable/Blocked -> Off at once (returns true: the caller
// accounts for it); Running -> stop_pending + kick (returns false: it goes Off, and is accounted,
// when it leaves its CPU); already Off -> false (whoever turned it off accounted for it).
bool sched_stop(SchedEntity* e);
SchedState sched_state(const SchedEntity* e);
// Pause: the entity is not picked again until sched_resume. Runnable -> taken out of the queue
// (parked, still Runnable); Running -> leaves its CPU at its next exit (the CPU is kicked when it
// is another), then parked or Blocked as it left; Blocked -> stays Blocked, and a wake-up only
// sets wake_pending; Off -> stays Off, and a start (sched_wake with allow_start) parks it.
// sched_stop works on a paused entity as on any other; the flag stays until sched_resume.
void sched_pause(SchedEntity* e);
// Undoes sched_pause: a parked Runnable entity, and a Blocked one whose wake-up came during the
// pause, go into the run queue (an idle CPU that may run them is kicked).
void sched_resume(SchedEntity* e);
// The run loop's check after each exit: the entity must leave its CPU (a stop or a pause).
inline bool sched_must_leave(const SchedEntity* e) {
    return __atomic_load_n(&e->stop_pending, __ATOMIC_ACQUIRE) || __atomic_load_n(&e->paused, __ATOMIC_ACQUIRE);
}
// Counter ticks CPU `cpu` has spent waiting in sched_pick for something to run, since boot,
// including a wait in progress. Any CPU, lock-free; a value read while `cpu` wakes up is that of
// just before or just after the wake-up, never both counted.
u64 sched_idle_ticks(usize cpu);
// Number of CPUs that run entities, set once at boot.
void sched_set_cpu_count(usize n);

#ifdef CXV_HOST_TEST
// Host tests only: the queue invariant for `e`, checked under the scheduler lock: it is queued
// (once) exactly when it is Runnable and not paused.
bool sched_consistent(const SchedEntity* e);
#endif
