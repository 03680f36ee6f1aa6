#include "host_console.hpp"
#include "kernel/irq.hpp"
#include "kernel/percpu.hpp"
#include "kernel/timer.hpp"
#include <gtest/gtest.h>
#include <vector>

namespace {

std::vector<int> g_fired;
struct Tagged {
    TimerEvent ev;
    int tag;
};
void record(void* ctx) { g_fired.push_back(static_cast<Tagged*>(ctx)->tag); }

struct TimerTest : testing::Test {
    Tagged t[4];
    void SetUp() override {
        fake::reset();
        g_fired.clear();
        for (int i = 0; i < 4; ++i) t[i] = {{record, &t[i]}, i};
    }
    void TearDown() override {
        for (Tagged& x : t) timer_cancel(x.ev);
    }
    static std::vector<u64> queue(unsigned cpu = 0) {
        std::vector<u64> out;
        for (TimerEvent* e = g_percpu[cpu].timers.head; e; e = e->next) out.push_back(e->deadline);
        return out;
    }
};

} // namespace

TEST_F(TimerTest, QueueIsOrderedAndHardwareGetsTheEarliest) {
    timer_arm(t[0].ev, 300);
    EXPECT_TRUE(fake::timer.enabled);
    EXPECT_EQ(fake::timer.deadline, 300u);
    timer_arm(t[1].ev, 100);
    EXPECT_EQ(fake::timer.deadline, 100u);
    unsigned programs = fake::timer.programs;
    timer_arm(t[2].ev, 200); // not the head: the hardware is left alone
    EXPECT_EQ(fake::timer.programs, programs);
    timer_arm(t[3].ev, 200); // equal deadlines keep arming order
    EXPECT_EQ(queue(), (std::vector<u64>{100, 200, 200, 300}));
    EXPECT_EQ(g_percpu[0].timers.head->next, &t[2].ev);
    EXPECT_EQ(t[0].ev.queue, &g_percpu[0].timers);
}

TEST_F(TimerTest, CancelReprogramsOnlyWhenTheHeadGoes) {
    timer_cancel(t[0].ev); // not armed: nothing happens
    EXPECT_EQ(fake::timer.programs, 0u);
    timer_arm(t[0].ev, 100);
    timer_arm(t[1].ev, 200);
    timer_arm(t[2].ev, 300);
    unsigned programs = fake::timer.programs;
    timer_cancel(t[1].ev);
    EXPECT_EQ(fake::timer.programs, programs);
    EXPECT_EQ(t[1].ev.queue, nullptr);
    timer_cancel(t[0].ev);
    EXPECT_EQ(fake::timer.deadline, 300u);
    EXPECT_TRUE(fake::timer.enabled);
    timer_cancel(t[2].ev);
    EXPECT_FALSE(fake::timer.enabled);
    EXPECT_TRUE(queue().empty());
}

TEST_F(TimerTest, RearmMovesTheEvent) {
    timer_arm(t[0].ev, 100);
    timer_arm(t[1].ev, 200);
    timer_arm(t[0].ev, 500);
    EXPECT_EQ(queue(), (std::vector<u64>{200, 500}));
    EXPECT_EQ(fake::timer.deadline, 200u);
    timer_arm(t[0].ev, 50);
    EXPECT_EQ(queue(), (std::vector<u64>{50, 200}));
    EXPECT_EQ(fake::timer.deadline, 50u);
}

TEST_F(TimerTest, ExpiryRunsCallbacksInDeadlineOrder) {
    timer_arm(t[2].ev, 300);
    timer_arm(t[0].ev, 100);
    timer_arm(t[3].ev, 400);
    timer_arm(t[1].ev, 200);
    fake::counter_value = 250;
    timer_handle_irq();
    EXPECT_EQ(g_fired, (std::vector<int>{0, 1}));
    EXPECT_EQ(queue(), (std::vector<u64>{300, 400}));
    EXPECT_EQ(fake::timer.deadline, 300u);
    EXPECT_EQ(t[0].ev.queue, nullptr);
    fake::counter_value = 1000;
    timer_handle_irq();
    EXPECT_EQ(g_fired, (std::vector<int>{0, 1, 2, 3}));
    EXPECT_FALSE(fake::timer.enabled);
}

namespace {
TimerEvent g_periodic;
int g_periodic_runs;
void periodic(void*) {
    ++g_periodic_runs;
    timer_arm(g_periodic, g_periodic.deadline + 100); // a callback may re-arm its own event
}
IrqAction timer_irq(u32, void*) {
    timer_handle_irq();
    return IrqAction::Done;
}
} // namespace

TEST_F(TimerTest, CallbackRearmingItselfRunsUntilNotExpired) {
    g_periodic = {periodic, nullptr};
    g_periodic_runs = 0;
    timer_arm(g_periodic, 100);
    fake::counter_value = 250; // 100 and 200 are due, 300 is not
    irq_register(26, timer_irq, nullptr);
    fake::raise_irq(26);
    arch::handle_pending_irqs();
    EXPECT_EQ(g_periodic_runs, 2);
    EXPECT_EQ(fake::timer.deadline, 300u);
    timer_cancel(g_periodic);
}

TEST_F(TimerTest, CancelFromAnotherCpuLeavesThisCpusTimerAlone) {
    fake::use_cpu(1);
    timer_arm(t[0].ev, 100);
    EXPECT_EQ(t[0].ev.queue, &g_percpu[1].timers);
    fake::use_cpu(0);
    unsigned programs = fake::timer.programs;
    timer_cancel(t[0].ev);
    EXPECT_EQ(fake::timer.programs, programs); // only CPU 1 may program CPU 1's timer
    EXPECT_TRUE(queue(1).empty());
}

TEST_F(TimerTest, TicksPerMsAndUnknownInterrupt) {
    EXPECT_EQ(timer_ticks_per_ms(), 62'500u);
    clear_captured_console();
    irq_dispatch(77);
    EXPECT_EQ(captured_console(), "cxvisor: unexpected interrupt 77 (no handler), ignored\n");
}

TEST_F(TimerTest, UptimeCountsFromTheBootCounterInMicroseconds) {
    fake::counter_value = 1'000'000;
    timer_mark_boot(1'000'000);
    EXPECT_EQ(uptime_us(), 0u);
    fake::counter_value += 62'500 * 1500 + 63; // 1.5 s and 1.008 us at 62.5 MHz
    EXPECT_EQ(uptime_us(), 1'500'001u);
    // Days of uptime at a 1 GHz counter do not overflow the conversion.
    fake::frequency = 1'000'000'000;
    fake::counter_value = 1'000'000 + 10ull * 86400 * 1'000'000'000;
    EXPECT_EQ(uptime_us(), 10ull * 86400 * 1'000'000 + 0u);
    timer_mark_boot(0);
}
