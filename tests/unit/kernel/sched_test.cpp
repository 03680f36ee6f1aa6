#include "kernel/irq.hpp"
#include "kernel/percpu.hpp"
#include "kernel/sched.hpp"
#include <gtest/gtest.h>

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
