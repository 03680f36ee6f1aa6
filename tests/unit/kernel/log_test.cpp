// kprint's timestamps and the log ring behind the shell's `log` (kernel/log.hpp).
#include "host_console.hpp"
#include "kernel/log.hpp"
#include <gtest/gtest.h>
#include <string>
#include <vector>

namespace {

std::vector<std::string> recent() {
    std::vector<std::string> out;
    log_recent([](void* ctx, const char* line, usize len) {
        EXPECT_EQ(std::string(line).size(), len); // NUL-terminated at len
        static_cast<std::vector<std::string>*>(ctx)->emplace_back(line, len);
    }, &out);
    return out;
}

u64 g_now_us;
u64 now_us() { return g_now_us; }

struct LogTest : testing::Test {
    void SetUp() override {
        log_set_clock(nullptr);
        clear_captured_console();
    }
    void TearDown() override { log_set_clock(nullptr); }
};

} // namespace

TEST_F(LogTest, WithoutAClockLinesAreAsWritten) {
    kprint("cxvisor: plain %d\n", 7);
    EXPECT_EQ(captured_console(), "cxvisor: plain 7\n");
}

TEST_F(LogTest, WithAClockEveryNonEmptyLineStartsWithSecondsAndMicroseconds) {
    log_set_clock(now_us);
    g_now_us = 12'345'678;
    kprint("cxvisor: one\ncxvisor: two\n");
    EXPECT_EQ(captured_console(), "[   12.345678] cxvisor: one\n[   12.345678] cxvisor: two\n");
    clear_captured_console();
    g_now_us = 5;
    kprint("\ncxvisor: after an empty line");
    EXPECT_EQ(captured_console(), "\n[    0.000005] cxvisor: after an empty line");
    clear_captured_console();
    g_now_us = 123'456'000'001; // past the field width: widens, never cut
    kprint("x\n");
    EXPECT_EQ(captured_console(), "[123456.000001] x\n");
}

TEST_F(LogTest, RingKeepsTheLast32LinesOldestFirstWithoutStamps) {
    log_set_clock(now_us);
    for (int i = 0; i < 40; ++i) kprint("ring line %d\n", i);
    kprint("ring pair a\nring pair b\n");
    auto lines = recent();
    ASSERT_EQ(lines.size(), LOG_RING_LINES);
    EXPECT_EQ(lines.front(), "ring line 10");
    EXPECT_EQ(lines[29], "ring line 39");
    EXPECT_EQ(lines[30], "ring pair a");
    EXPECT_EQ(lines.back(), "ring pair b");
}

TEST_F(LogTest, RingCutsLongLinesAndSkipsEmptyOnes) {
    std::string long_line(300, 'y');
    kprint("\n%s\n\n", long_line.c_str());
    auto lines = recent();
    EXPECT_EQ(lines.back(), long_line.substr(0, LOG_LINE_MAX - 1));
    EXPECT_EQ(captured_console(), "\n" + long_line + "\n\n"); // the console gets it whole
}

TEST_F(LogTest, TheWalkMayPrintAndSeesOnlyTheLinesBeforeIt) {
    for (int i = 0; i < 32; ++i) kprint("walk %d\n", i);
    std::vector<std::string> seen;
    struct Ctx {
        std::vector<std::string>* seen;
    } ctx{&seen};
    log_recent([](void* c, const char* line, usize len) {
        static_cast<Ctx*>(c)->seen->emplace_back(line, len);
        kprint("shell echo\n"); // e.g. the shell printing the line: must not deadlock
    }, &ctx);
    // Each print overwrote the line just shown (the oldest): the walk still shows all 32 it
    // began with, and none of the lines printed during it.
    ASSERT_EQ(seen.size(), 32u);
    EXPECT_EQ(seen.front(), "walk 0");
    EXPECT_EQ(seen.back(), "walk 31");
    EXPECT_EQ(recent().back(), "shell echo");
}
