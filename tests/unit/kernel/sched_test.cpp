#include "kernel/irq.hpp"
#include "kernel/percpu.hpp"
#include "kernel/sched.hpp"
#include "vcpu/idle_wait.hpp"
#include <gtest/gtest.h>
#include <atomic>
#include <thread>

namespace {

constexpr u64 CPU0 = 1, CPU1 = 2, ANY = 3;

struct SchedTest : testing::Test {
    SchedEntity e[4];
    void SetUp() override {
        fake::reset();
        sched_set_cpu_count(2);
        for (unsigned c = 0; c < 2; ++c) {
            fake::use_cpu(c);
            sched_init_cpu();
        }
        fake::use_cpu(0);
    }
    void TearDown() override {
        for (SchedEntity& x : e) sched_stop(&x); // nothing of this test stays queued
    }
    void start(SchedEntity& x, u64 affinity = ANY) {
        x.affinity = affinity;
        ASSERT_TRUE(sched_wake(&x, true));
        ASSERT_EQ(x.state, SchedState::Runnable);
    }
    SchedEntity* pick_on(unsigned cpu) {
        fake::use_cpu(cpu);
        SchedEntity* p = sched_pick();
        fake::use_cpu(0);
        return p;
    }
};

} // namespace

TEST_F(SchedTest, PickRespectsAffinityInFifoOrder) {
    EXPECT_FALSE(sched_wake(&e[0])); // Off stays Off unless starting is allowed
    EXPECT_EQ(e[0].state, SchedState::Off);
    start(e[0], CPU1);
    start(e[1]);
    start(e[2], CPU0);
    start(e[3]);
    EXPECT_EQ(sched_pick(), &e[1]); // e[0] may not run on CPU 0
    EXPECT_EQ(e[1].state, SchedState::Running);
    EXPECT_EQ(e[1].cpu, 0u);
    EXPECT_EQ(sched_pick(), &e[2]);
    EXPECT_EQ(pick_on(1), &e[0]);
    EXPECT_EQ(e[0].cpu, 1u);
    EXPECT_EQ(pick_on(1), &e[3]);
    EXPECT_TRUE(fake::ipis.empty()); // no CPU was idle
}

TEST_F(SchedTest, YieldRequeuesAtTheTail) {
    start(e[0]);
    start(e[1]);
    SchedEntity* p = sched_pick();
    ASSERT_EQ(p, &e[0]);
    EXPECT_EQ(sched_leave(p, Leave::Yield), SchedState::Runnable);
    EXPECT_EQ(sched_pick(), &e[1]);
    EXPECT_EQ(sched_pick(), &e[0]);
}

TEST_F(SchedTest, BlockAndWake) {
    start(e[0]);
    ASSERT_EQ(sched_pick(), &e[0]);
    EXPECT_EQ(sched_leave(&e[0], Leave::Block), SchedState::Blocked);
    EXPECT_TRUE(sched_wake(&e[0]));
    EXPECT_EQ(sched_state(&e[0]), SchedState::Runnable);
    EXPECT_TRUE(sched_wake(&e[0])); // already runnable: nothing changes
    EXPECT_EQ(sched_pick(), &e[0]);
    EXPECT_EQ(sched_leave(&e[0], Leave::Off), SchedState::Off);
}

TEST_F(SchedTest, WakeWhileRunningTurnsTheNextBlockIntoYield) {
    start(e[0]);
    start(e[1]);
    ASSERT_EQ(sched_pick(), &e[0]);
    ASSERT_EQ(pick_on(1), &e[1]);
    EXPECT_TRUE(sched_wake(&e[0])); // running here: no IPI needed
    EXPECT_TRUE(e[0].wake_pending);
    EXPECT_TRUE(fake::ipis.empty());
    EXPECT_EQ(sched_leave(&e[0], Leave::Block), SchedState::Runnable);
    EXPECT_FALSE(e[0].wake_pending);
    EXPECT_TRUE(sched_wake(&e[1])); // running on CPU 1: kicked so its guest exits
    EXPECT_EQ(fake::ipis, (std::vector<u64>{0x101}));
}

TEST_F(SchedTest, StopInEveryState) {
    start(e[0]);
    start(e[1]);
    EXPECT_TRUE(sched_stop(&e[0])); // Runnable: off at once, out of the queue
    EXPECT_EQ(e[0].state, SchedState::Off);
    EXPECT_EQ(sched_pick(), &e[1]);
    sched_leave(&e[1], Leave::Block);
    EXPECT_TRUE(sched_stop(&e[1])); // Blocked
    EXPECT_EQ(e[1].state, SchedState::Off);
    EXPECT_FALSE(sched_wake(&e[1]));
    // Already off: nothing for the caller to account (a VM counts its active vCPUs by this).
    EXPECT_FALSE(sched_stop(&e[1]));

    start(e[2]);
    ASSERT_EQ(pick_on(1), &e[2]);
    EXPECT_FALSE(sched_stop(&e[2])); // Running elsewhere: stop_pending + kick
    EXPECT_TRUE(e[2].stop_pending);
    EXPECT_EQ(e[2].state, SchedState::Running);
    EXPECT_EQ(fake::ipis, (std::vector<u64>{0x101}));
    EXPECT_EQ(sched_leave(&e[2], Leave::Yield), SchedState::Off);
    EXPECT_FALSE(e[2].stop_pending);

    start(e[3]);
    ASSERT_EQ(sched_pick(), &e[3]);
    EXPECT_FALSE(sched_stop(&e[3])); // Running here: no IPI
    EXPECT_EQ(fake::ipis.size(), 1u);
    EXPECT_EQ(sched_leave(&e[3], Leave::Block), SchedState::Off);
}

TEST_F(SchedTest, ShouldYieldOnlyWhenSliceOverAndSomeoneWaitsForThisCpu) {
    start(e[0]);
    ASSERT_EQ(sched_pick(), &e[0]);
    sched_begin_slice();
    EXPECT_EQ(fake::timer.deadline, SCHED_SLICE_MS * 62'500);
    start(e[1]);
    EXPECT_FALSE(sched_should_yield()); // slice not over
    fake::counter_value = fake::timer.deadline;
    timer_handle_irq();
    EXPECT_TRUE(g_percpu[0].need_resched.load());
    EXPECT_TRUE(sched_should_yield());
    sched_leave(&e[0], Leave::Yield);
    ASSERT_EQ(sched_pick(), &e[1]);
    sched_stop(&e[0]);
    start(e[2], CPU1); // waits, but not for this CPU
    EXPECT_FALSE(sched_should_yield());
    EXPECT_FALSE(g_percpu[0].need_resched.load()); // nobody waiting: a new slice
}

TEST_F(SchedTest, MakingRunnableKicksAnIdleCpuThatMayRunIt) {
    g_percpu[0].idle.store(true);
    g_percpu[1].idle.store(true);
    start(e[0], CPU0); // CPU 0 is the caller: it does not IPI itself
    EXPECT_TRUE(fake::ipis.empty());
    start(e[1], ANY);
    EXPECT_EQ(fake::ipis, (std::vector<u64>{0x101}));
    g_percpu[1].idle.store(false);
    start(e[2], ANY); // nobody idle: waits for a slice end
    EXPECT_EQ(fake::ipis.size(), 1u);
}

// Waiting inside the guest (an untrapped WFI) is allowed only while nobody else waits for the CPU:
// the permission is given at a pick with nothing else queued for the CPU (and at a slice end that
// finds nobody), and taken away, with a kick of a guest that waits there now, by the first entity
// that becomes runnable for the CPU and finds no idle one.
TEST_F(SchedTest, WaitInTheGuestOnlyWhileNobodyElseWaitsForTheCpu) {
    start(e[0]);
    start(e[1], CPU0);
    ASSERT_EQ(sched_pick(), &e[0]);
    EXPECT_FALSE(sched_may_idle_in_guest()); // e[1] waits for CPU 0
    EXPECT_FALSE(sched_begin_idle_wait());
    EXPECT_FALSE(g_percpu[0].waiting_in_guest.load());
    sched_leave(&e[0], Leave::Yield);
    ASSERT_EQ(sched_pick(), &e[1]);
    EXPECT_FALSE(sched_may_idle_in_guest()); // e[0] is queued and may run here
    ASSERT_EQ(pick_on(1), &e[0]);
    EXPECT_TRUE(g_percpu[1].idle_in_guest.load()); // nothing else queued
    sched_begin_slice(); // CPU 0's slice ends with nobody waiting: the permission comes back
    fake::counter_value = fake::timer.deadline;
    timer_handle_irq();
    EXPECT_FALSE(sched_should_yield());
    EXPECT_TRUE(sched_may_idle_in_guest());
    fake::use_cpu(1);
    EXPECT_TRUE(sched_may_idle_in_guest());
    EXPECT_TRUE(sched_begin_idle_wait()); // CPU 1's guest waits inside now
    fake::use_cpu(0);
    EXPECT_TRUE(fake::ipis.empty());
    start(e[2], CPU1); // no idle CPU: CPU 1 loses the permission and its waiting guest is kicked
    EXPECT_EQ(fake::ipis, (std::vector<u64>{0x101}));
    EXPECT_FALSE(g_percpu[1].idle_in_guest.load());
    EXPECT_TRUE(g_percpu[0].idle_in_guest.load()); // CPU 0 may not run e[3]: keeps its own
    fake::use_cpu(1);
    EXPECT_FALSE(sched_begin_idle_wait()); // its next wait traps and gives the CPU away
    sched_end_idle_wait();
    EXPECT_FALSE(g_percpu[1].waiting_in_guest.load());
    fake::use_cpu(0);
}

// vcpu/idle_wait.hpp, the bookkeeping aarch64 and riscv64 share: a 4-byte wait instruction at
// 0x1000, its trap off only while a wait is noted.
TEST_F(SchedTest, IdleWaitKeepsTheGuestAtItsWaitUntilSomethingIsPendingForIt) {
    start(e[0], CPU0);
    ASSERT_EQ(sched_pick(), &e[0]); // nothing else queued: the permission is given
    bool trap_off = false;
    IdleWait w{4, [](void* v, bool off) { *static_cast<bool*>(v) = off; }, &trap_off};
    w.allow(sched_may_idle_in_guest());
    EXPECT_FALSE(w.begin(0x1000, true)) << "something pending: the WFI completes";
    EXPECT_FALSE(trap_off);
    ASSERT_TRUE(w.begin(0x1000, false));
    EXPECT_TRUE(trap_off);
    EXPECT_TRUE(g_percpu[0].waiting_in_guest.load());
    // A host interrupt taken just past the WFI, nothing for the guest: back to the WFI.
    u64 pc = 0x1004;
    w.host_interrupt(pc);
    ASSERT_TRUE(w.noted());
    w.resume(pc, false);
    EXPECT_EQ(pc, 0x1000u);
    EXPECT_TRUE(trap_off);
    // An interrupt for the guest taken at the WFI: it completes, the wait is over.
    w.resume(pc, true);
    EXPECT_EQ(pc, 0x1004u);
    EXPECT_FALSE(w.noted());
    EXPECT_FALSE(trap_off);
    EXPECT_FALSE(g_percpu[0].waiting_in_guest.load());
    // An exit elsewhere (the guest ran on) ends it; so does any other exit.
    ASSERT_TRUE(w.begin(0x1000, false));
    w.host_interrupt(0x2000);
    EXPECT_FALSE(w.noted());
    EXPECT_FALSE(trap_off);
    ASSERT_TRUE(w.begin(0x1000, false));
    w.other_exit();
    EXPECT_FALSE(trap_off);
    // Put off the CPU while waiting: it resumes at the WFI, trapped.
    ASSERT_TRUE(w.begin(0x1000, false));
    pc = 0x1004;
    w.put(pc);
    EXPECT_EQ(pc, 0x1000u);
    EXPECT_FALSE(trap_off);
    // The permission withdrawn (another entity wants CPU 0): the WFI executes again, trapped.
    ASSERT_TRUE(w.begin(0x1000, false));
    start(e[1], CPU0);
    w.allow(sched_may_idle_in_guest());
    pc = 0x1004;
    w.resume(pc, false);
    EXPECT_EQ(pc, 0x1000u) << "no wake-up for the guest: it executes the WFI again, trapped";
    EXPECT_FALSE(w.noted());
    EXPECT_FALSE(trap_off);
    EXPECT_FALSE(g_percpu[0].waiting_in_guest.load());
}

TEST_F(SchedTest, PermissionTakenWithoutAKickWhenNoGuestWaitsInside) {
    start(e[0], CPU1);
    ASSERT_EQ(pick_on(1), &e[0]);
    EXPECT_TRUE(g_percpu[1].idle_in_guest.load());
    start(e[1], CPU1); // CPU 1's guest is busy: it keeps running until it waits (trapped) or the slice ends
    EXPECT_TRUE(fake::ipis.empty());
    EXPECT_FALSE(g_percpu[1].idle_in_guest.load());
    // Leaving the CPU takes the permission of the CPU it ran on; an entity that yields here
    // and may run here kicks nobody: this CPU picks again at once.
    start(e[2], ANY);
    ASSERT_EQ(sched_pick(), &e[2]);
    EXPECT_TRUE(g_percpu[0].idle_in_guest.load());
    fake::use_cpu(1);
    g_percpu[1].idle_in_guest.store(true); // (as if) CPU 1 got it back
    EXPECT_TRUE(sched_begin_idle_wait());
    fake::use_cpu(0);
    sched_leave(&e[2], Leave::Yield);
    EXPECT_TRUE(fake::ipis.empty());
    EXPECT_FALSE(g_percpu[0].idle_in_guest.load());
    EXPECT_TRUE(g_percpu[1].idle_in_guest.load());
}

TEST_F(SchedTest, SliceEndWithNobodyWaitingGivesThePermissionBack) {
    start(e[0], CPU0);
    start(e[1], CPU0);
    ASSERT_EQ(sched_pick(), &e[0]);
    EXPECT_FALSE(sched_may_idle_in_guest());
    sched_stop(&e[1]); // the one waiting goes away
    sched_begin_slice();
    fake::counter_value = fake::timer.deadline;
    timer_handle_irq();
    EXPECT_FALSE(sched_should_yield()); // slice over, nobody waits: keep running
    EXPECT_TRUE(sched_may_idle_in_guest());
}

namespace {
SchedEntity* g_to_wake;
bool g_idle_while_waiting;
IrqAction wake_irq(u32, void*) {
    sched_wake(g_to_wake, true);
    return IrqAction::Done;
}
void idle_cpu() {
    g_idle_while_waiting = this_cpu().idle.load();
    fake::raise_irq(40); // the interrupt that ends the WFI
}
} // namespace

TEST_F(SchedTest, PickIdlesUntilAnInterruptMakesSomethingRunnable) {
    g_to_wake = &e[0];
    irq_register(40, wake_irq, nullptr);
    fake::wfi_hook = idle_cpu;
    start(e[1], CPU1); // runnable, but not here
    EXPECT_EQ(sched_pick(), &e[0]);
    EXPECT_EQ(fake::wfi_calls, 1u);
    EXPECT_TRUE(g_idle_while_waiting);
    EXPECT_FALSE(g_percpu[0].idle.load());
    EXPECT_EQ(e[0].state, SchedState::Running);
}

// Pause (sched_pause/sched_resume): a paused entity is never picked; each state is put back as it
// was on resume, and wake-ups and stops that come meanwhile are neither lost nor undone.
TEST_F(SchedTest, PauseParksARunnableEntityOutsideTheQueueUntilResume) {
    start(e[0]);
    start(e[1]);
    sched_pause(&e[0]);
    EXPECT_EQ(sched_state(&e[0]), SchedState::Runnable); // parked, not in the queue
    EXPECT_EQ(sched_pick(), &e[1]);
    EXPECT_EQ(sched_leave(&e[1], Leave::Yield), SchedState::Runnable);
    EXPECT_EQ(sched_pick(), &e[1]); // e[0] is not picked while paused
    g_percpu[1].idle.store(true);
    sched_resume(&e[0]);
    EXPECT_EQ(fake::ipis, (std::vector<u64>{0x101})); // an idle CPU that may run it is woken
    EXPECT_EQ(pick_on(1), &e[0]);
    sched_resume(&e[0]); // not paused: nothing
    EXPECT_EQ(e[0].state, SchedState::Running);
}

TEST_F(SchedTest, PauseOfARunningEntityKicksItsCpuAndParksItWhenItLeaves) {
    start(e[0]);
    ASSERT_EQ(pick_on(1), &e[0]);
    EXPECT_FALSE(sched_must_leave(&e[0]));
    sched_pause(&e[0]);
    EXPECT_EQ(fake::ipis, (std::vector<u64>{0x101})); // its guest exits
    EXPECT_TRUE(sched_must_leave(&e[0]));
    EXPECT_EQ(e[0].state, SchedState::Running); // until its CPU sees the flag
    fake::use_cpu(1);
    EXPECT_EQ(sched_leave(&e[0], Leave::Yield), SchedState::Runnable);
    fake::use_cpu(0);
    start(e[1]);
    EXPECT_EQ(sched_pick(), &e[1]); // e[0] is parked
    sched_resume(&e[0]);
    EXPECT_FALSE(sched_must_leave(&e[0]));
    EXPECT_EQ(pick_on(1), &e[0]);
}

TEST_F(SchedTest, PauseOfTheEntityRunningHereNeedsNoKick) {
    start(e[0]);
    ASSERT_EQ(sched_pick(), &e[0]);
    sched_pause(&e[0]);
    EXPECT_TRUE(fake::ipis.empty());
    EXPECT_TRUE(sched_must_leave(&e[0]));
}

// A WFI whose wake-up (its timer, an interrupt) comes during the pause completes on resume.
TEST_F(SchedTest, APausedBlockedEntityKeepsItsWakeUpForResume) {
    start(e[0]);
    start(e[1]);
    ASSERT_EQ(sched_pick(), &e[0]);
    EXPECT_EQ(sched_leave(&e[0], Leave::Block), SchedState::Blocked);
    ASSERT_EQ(sched_pick(), &e[1]);
    EXPECT_EQ(sched_leave(&e[1], Leave::Block), SchedState::Blocked);
    sched_pause(&e[0]);
    sched_pause(&e[1]);
    EXPECT_TRUE(sched_wake(&e[0])); // the timer fires during the pause
    EXPECT_EQ(e[0].state, SchedState::Blocked);
    EXPECT_TRUE(e[0].wake_pending);
    sched_resume(&e[0]);
    sched_resume(&e[1]);
    EXPECT_EQ(e[0].state, SchedState::Runnable);
    EXPECT_EQ(e[1].state, SchedState::Blocked); // nothing woke it: it waits on
    EXPECT_EQ(sched_pick(), &e[0]);
    EXPECT_TRUE(sched_wake(&e[1]));
    EXPECT_EQ(e[1].state, SchedState::Runnable);
}

// The vCPU is between its WFI exit and sched_leave on CPU 1 when the pause and then a wake-up
// come: it leaves Blocked-with-a-wake-up, i.e. parked Runnable, and runs on resume.
TEST_F(SchedTest, WakeUpWhileARunningEntityIsBeingPausedIsKept) {
    start(e[0]);
    ASSERT_EQ(pick_on(1), &e[0]);
    sched_pause(&e[0]);
    EXPECT_TRUE(sched_wake(&e[0]));
    fake::use_cpu(1);
    EXPECT_EQ(sched_leave(&e[0], Leave::Block), SchedState::Runnable);
    fake::use_cpu(0);
    start(e[1]);
    EXPECT_EQ(sched_pick(), &e[1]);
    sched_resume(&e[0]);
    EXPECT_EQ(pick_on(1), &e[0]);
}

// Resume before the running entity noticed the pause: it simply goes on (or, if it had already
// decided to leave, is queued as after any yield).
TEST_F(SchedTest, ResumeBeforeTheRunningEntityLeftUndoesThePause) {
    start(e[0]);
    ASSERT_EQ(pick_on(1), &e[0]);
    sched_pause(&e[0]);
    sched_resume(&e[0]);
    EXPECT_FALSE(sched_must_leave(&e[0]));
    EXPECT_EQ(e[0].state, SchedState::Running);
    fake::use_cpu(1);
    EXPECT_EQ(sched_leave(&e[0], Leave::Yield), SchedState::Runnable);
    fake::use_cpu(0);
    EXPECT_EQ(sched_pick(), &e[0]);
}

TEST_F(SchedTest, StopOfPausedEntitiesInEveryState) {
    start(e[0]); // parked Runnable
    start(e[1]); // Blocked with a kept wake-up
    start(e[2]); // Running on CPU 1
    ASSERT_EQ(sched_pick(), &e[0]);
    ASSERT_EQ(sched_pick(), &e[1]);
    ASSERT_EQ(pick_on(1), &e[2]);
    sched_leave(&e[0], Leave::Yield);
    sched_leave(&e[1], Leave::Block);
    for (SchedEntity* x : {&e[0], &e[1], &e[2], &e[3]}) sched_pause(x);
    sched_wake(&e[1]);
    EXPECT_TRUE(sched_stop(&e[0]));
    EXPECT_TRUE(sched_stop(&e[1]));
    EXPECT_FALSE(e[1].wake_pending) << "a wake-up of the stopped life survived";
    EXPECT_FALSE(sched_stop(&e[2])); // Running: it goes Off when it leaves
    EXPECT_FALSE(sched_stop(&e[3])); // Off already
    fake::use_cpu(1);
    EXPECT_EQ(sched_leave(&e[2], Leave::Yield), SchedState::Off);
    fake::use_cpu(0);
    for (SchedEntity* x : {&e[0], &e[1], &e[2]}) EXPECT_EQ(x->state, SchedState::Off);
    // A start while still paused (CPU_ON from a sibling on its way out) parks it; resume queues it.
    EXPECT_TRUE(sched_wake(&e[3], true));
    EXPECT_EQ(e[3].state, SchedState::Runnable);
    for (SchedEntity* x : {&e[0], &e[1], &e[2], &e[3]}) sched_resume(x);
    for (SchedEntity* x : {&e[0], &e[1], &e[2]}) EXPECT_EQ(x->state, SchedState::Off);
    EXPECT_EQ(sched_pick(), &e[3]);
}

// The same operations from two host threads standing for two CPUs, many times over: CPU 1 picks
// and runs two entities (leaving by yield or WFI at random), CPU 0 pauses, resumes, wakes, stops and
// restarts them at random. Every stop must be accounted exactly once (by sched_stop's true or by a
// leave that ends Off, as Vm counts its vCPUs), an entity is queued exactly when it is Runnable and
// not paused, and nothing deadlocks or corrupts the queue.
namespace {
std::atomic<bool> g_stress_done{false};
void stress_idle() { std::this_thread::yield(); }
} // namespace

TEST_F(SchedTest, PauseResumeWakeAndStopRaceWithAnotherCpuRunningTheEntities) {
    constexpr int ROUNDS = 20000;
    SchedEntity* work[] = {&e[0], &e[1]};
    SchedEntity& quit = e[2]; // picked by CPU 1 at the end: its thread leaves
    std::atomic<unsigned> offs_by_cpu1[2] = {0, 0}, picks{0};
    fake::wfi_hook = stress_idle;
    g_stress_done.store(false);
    for (SchedEntity* x : work) start(*x, CPU1);
    quit.affinity = CPU1;
    std::thread cpu1([&] {
        fake::use_cpu(1);
        unsigned seed = 7;
        for (;;) {
            SchedEntity* p = sched_pick();
            if (p == &quit) break;
            picks.fetch_add(1);
            for (int spin = int(seed % 4); spin > 0 && !sched_must_leave(p); --spin) std::this_thread::yield();
            seed = seed * 1103515245 + 12345;
            Leave how = (seed >> 16) % 3 == 0 ? Leave::Block : Leave::Yield;
            if (sched_leave(p, how) == SchedState::Off) offs_by_cpu1[p == &e[1]].fetch_add(1);
        }
        sched_leave(&quit, Leave::Off);
    });
    unsigned stops[2] = {0, 0}, offs_by_cpu0[2] = {0, 0};
    unsigned seed = 99;
    for (int round = 0; round < ROUNDS; ++round) {
        seed = seed * 1103515245 + 12345;
        const unsigned i = (seed >> 8) & 1;
        SchedEntity& x = *work[i];
        switch ((seed >> 12) % 5) {
        case 0:
            sched_pause(&x);
            break;
        case 1:
            sched_resume(&x);
            break;
        case 2: sched_wake(&x); break;
        case 3: // stop, and once it is accounted, start it again (a VM's stop and start)
            ++stops[i];
            if (sched_stop(&x)) ++offs_by_cpu0[i];
            while (offs_by_cpu0[i] + offs_by_cpu1[i].load() < stops[i]) std::this_thread::yield();
            ASSERT_EQ(sched_state(&x), SchedState::Off);
            ASSERT_TRUE(sched_wake(&x, true));
            break;
        case 4: break;
        }
        ASSERT_TRUE(sched_consistent(&x)) << "round " << round;
        if (round % 4 == 0) std::this_thread::yield(); // let CPU 1 in between
    }
    for (SchedEntity* x : work) sched_resume(x);
    for (unsigned i = 0; i < 2; ++i) {
        ++stops[i];
        if (sched_stop(work[i])) ++offs_by_cpu0[i];
    }
    for (unsigned i = 0; i < 2; ++i)
        while (offs_by_cpu0[i] + offs_by_cpu1[i].load() < stops[i]) std::this_thread::yield();
    ASSERT_TRUE(sched_wake(&quit, true));
    cpu1.join();
    fake::use_cpu(0);
    for (unsigned i = 0; i < 2; ++i) {
        EXPECT_EQ(offs_by_cpu0[i] + offs_by_cpu1[i].load(), stops[i]) << "a stop accounted twice or never";
        EXPECT_EQ(work[i]->state, SchedState::Off);
        EXPECT_TRUE(sched_consistent(work[i]));
    }
    EXPECT_EQ(quit.state, SchedState::Off);
    // How often CPU 1 had the entity when it was stopped (timing-dependent, so only recorded).
    RecordProperty("stops_seen_running_on_cpu1", int(offs_by_cpu1[0].load() + offs_by_cpu1[1].load()));
    RecordProperty("picks_on_cpu1", int(picks.load()));
}

namespace {
u64 g_idle_seen_mid_wait;
void idle_for_1000_ticks() {
    fake::counter_value += 400;
    g_idle_seen_mid_wait = sched_idle_ticks(0); // a wait in progress counts up to now
    fake::counter_value += 600;
    fake::raise_irq(40);
}
} // namespace

TEST_F(SchedTest, IdleTicksCountOnlyTheWaitForWork) {
    g_to_wake = &e[0];
    irq_register(40, wake_irq, nullptr);
    fake::wfi_hook = idle_for_1000_ticks;
    fake::counter_value = 5000;
    EXPECT_EQ(sched_idle_ticks(0), 0u);
    EXPECT_EQ(sched_pick(), &e[0]);
    EXPECT_EQ(g_idle_seen_mid_wait, 400u);
    EXPECT_EQ(sched_idle_ticks(0), 1000u);
    EXPECT_EQ(sched_idle_ticks(1), 0u); // per CPU
    // Running a vCPU is not idle time.
    fake::counter_value += 7000;
    EXPECT_EQ(sched_idle_ticks(0), 1000u);
    // A CPU that finds work at once does not wait at all.
    sched_leave(&e[0], Leave::Yield);
    EXPECT_EQ(sched_pick(), &e[0]);
    EXPECT_EQ(sched_idle_ticks(0), 1000u);
    EXPECT_EQ(sched_idle_ticks(MAX_CPUS), 0u); // no such CPU
}
