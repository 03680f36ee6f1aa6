// The shell's line editor and command parser against a fake backend: every key, the history ring,
// completion, the bounded line, and every command's usage and outcome.
#include "shell/shell.hpp"
#include <gtest/gtest.h>
#include <string>
#include <vector>

namespace {

// A terminal and a system in one: `screen` is what a terminal would show (backspace moves left,
// characters overwrite), `raw` every byte; the VMs are a small table with scripted op results.
class FakeBackend : public ShellBackend {
public:
    struct FakeVm {
        u32 id;
        std::string name;
        std::string state;
        bool uart = true;
    };
    std::vector<FakeVm> vms{{1, "hello", "running"}, {12, "beat", "running"}, {13, "beta", "stopped"},
                            {7, "linux", "paused", false}};
    std::string raw;
    std::vector<std::string> lines{""};
    usize col = 0;
    bool open = false; // the shell's edited line is the console's open line
    int bells = 0;
    std::vector<std::string> calls;
    Result<void> op_result = Result<void>();

    void put(char c) {
        raw += c;
        if (c == '\n') {
            lines.emplace_back();
            col = 0;
        } else if (c == '\b') {
            if (col) --col;
        } else if (c == '\a') {
            ++bells;
        } else {
            std::string& l = lines.back();
            if (col < l.size()) l[col] = c;
            else l += c;
            ++col;
        }
    }
    void put(const char* s, usize n) {
        for (usize i = 0; i < n; ++i) put(s[i]);
    }
    // Another writer's output (a log line, a VM's line): ends the open line first, as the console does.
    void other(const std::string& s) {
        if (open) put('\n');
        open = false;
        put(s.data(), s.size());
    }

    void write(const char* s, usize n) override { other(std::string(s, n)); }
    void edit(const char* head, usize head_len, const char* s, usize n) override {
        if (!open) put(head, head_len);
        put(s, n);
        open = !(n && s[n - 1] == '\n');
    }
    usize vm_count() override { return vms.size(); }
    u32 vm_id(usize i) override { return vms.at(i).id; }
    const char* vm_name(usize i) override { return vms.at(i).name.c_str(); }
    const char* vm_state(usize i) override { return vms.at(i).state.c_str(); }
    Result<void> vm_op(usize i, VmOp op) override {
        static const char* const names[] = {"stop", "start", "restart", "pause", "resume"};
        calls.push_back(std::string(names[int(op)]) + " " + vms.at(i).name);
        if (op_result.is_ok() && op == VmOp::Stop) vms.at(i).state = "stopping";
        if (op_result.is_error()) return op_result.error();
        return {};
    }
    const char* console_to(usize i) override {
        calls.push_back("console " + vms.at(i).name);
        return vms.at(i).uart ? nullptr : "has no console UART";
    }
    void list_vms(ShellOut& out) override { out.line("LIST"); }
    void show_vm(usize i, ShellOut& out) override { out.line("SHOW %s", vms.at(i).name.c_str()); }
    void cpus(ShellOut& out) override { out.line("CPUS"); }
    void log(ShellOut& out) override { out.line("LOG"); }
    void version(ShellOut& out) override { out.line("VERSION"); }
    void shutdown() override { calls.push_back("shutdown"); }

    // The last screen line that is not empty (what follows the last newline may be the prompt).
    std::string last() const { return lines.back(); }
    std::string line_before_last() const { return lines.size() > 1 ? lines[lines.size() - 2] : ""; }
    // Every line the commands printed (between the command line and the next prompt).
    bool shows(const std::string& s) const {
        for (const auto& l : lines)
            if (l == s) return true;
        return false;
    }
};

class ShellTest : public ::testing::Test {
protected:
    FakeBackend b;
    Shell sh{b};
    void SetUp() override { sh.show_prompt(); } // as when the shell is given the console
    void type(const std::string& s) {
        for (char c : s) sh.input(c);
    }
    // Runs a command as typed; returns the lines it printed.
    std::vector<std::string> run(const std::string& cmd) {
        usize before = b.lines.size();
        type(cmd + "\r");
        return std::vector<std::string>(b.lines.begin() + before, b.lines.end() - 1);
    }
    std::string one(const std::string& cmd) {
        auto out = run(cmd);
        EXPECT_EQ(out.size(), 1u) << cmd;
        return out.empty() ? "" : out[0];
    }
};

const std::string P = Shell::PROMPT;

TEST_F(ShellTest, PrintableCharactersEchoAndEnterRunsTheLine) {
    EXPECT_EQ(b.last(), P);
    type("version");
    EXPECT_EQ(b.last(), P + "version");
    EXPECT_STREQ(sh.line(), "version");
    type("\r");
    EXPECT_EQ(b.line_before_last(), "VERSION");
    EXPECT_EQ(b.last(), P); // a fresh prompt
    EXPECT_STREQ(sh.line(), "");
}

TEST_F(ShellTest, BackspaceAndDeleteRemoveTheLastCharacterAndRingAtAnEmptyLine) {
    type("cpuss\x7f");
    EXPECT_STREQ(sh.line(), "cpus");
    type("x\b");
    EXPECT_STREQ(sh.line(), "cpus");
    EXPECT_EQ(b.bells, 0);
    type("\b\b\b\b");
    EXPECT_STREQ(sh.line(), "");
    EXPECT_EQ(b.last().substr(0, P.size()), P);
    type("\x7f");
    EXPECT_EQ(b.bells, 1);
    type("log\r");
    EXPECT_TRUE(b.shows("LOG"));
}

TEST_F(ShellTest, CtrlUErasesTheLine) {
    type("vm list");
    type("\x15");
    EXPECT_STREQ(sh.line(), "");
    EXPECT_EQ(b.last(), P + std::string(7, ' ')); // blanked on the terminal
    type("cpus\r");
    EXPECT_TRUE(b.shows("CPUS"));
    EXPECT_FALSE(b.shows("LIST"));
    type("\x15"); // on an empty line: nothing to erase, no noise
    EXPECT_EQ(b.bells, 0);
}

TEST_F(ShellTest, CtrlCCancelsTheLineWithoutRunningIt) {
    type("shutdown\x03");
    EXPECT_EQ(b.line_before_last(), P + "shutdown^C");
    EXPECT_EQ(b.last(), P);
    EXPECT_TRUE(b.calls.empty());
    EXPECT_EQ(sh.history_size(), 0u);
}

TEST_F(ShellTest, CrLfIsOneEnterAndALoneLfIsOne) {
    type("cpus\r\n");
    type("log\n");
    int prompts = 0;
    for (const auto& l : b.lines) prompts += l.rfind(P, 0) == 0;
    EXPECT_EQ(prompts, 3); // first, after cpus, after log: no empty command in between
    EXPECT_TRUE(b.shows("CPUS"));
    EXPECT_TRUE(b.shows("LOG"));
}

TEST_F(ShellTest, TheLineIsBoundedAndExtraCharactersRingTheBell) {
    type(std::string(Shell::LINE_LEN, 'x'));
    EXPECT_EQ(b.bells, 0);
    type("yz");
    EXPECT_EQ(b.bells, 2);
    EXPECT_EQ(std::string(sh.line()), std::string(Shell::LINE_LEN, 'x'));
    type("\r");
    // One line of usage, cut to the output line, never a crash.
    std::string l = b.line_before_last();
    EXPECT_EQ(l.rfind("unknown command 'xxx", 0), 0u) << l;
    EXPECT_LT(l.size(), ShellOut::LINE_CAP);
}

TEST_F(ShellTest, OtherControlCharactersRingTheBellAndAreNotInserted) {
    type("\x01\x02\x7");
    EXPECT_EQ(b.bells, 3);
    EXPECT_STREQ(sh.line(), "");
}

TEST_F(ShellTest, HistoryUpAndDownWithTheDraftKept) {
    run("cpus");
    run("log");
    type("vers");
    type("\x1b[A");
    EXPECT_STREQ(sh.line(), "log");
    EXPECT_EQ(b.last().substr(0, P.size() + 3), P + "log");
    type("\x1b[A");
    EXPECT_STREQ(sh.line(), "cpus");
    type("\x1b[A"); // nothing older
    EXPECT_EQ(b.bells, 1);
    EXPECT_STREQ(sh.line(), "cpus");
    type("\x1b[B");
    EXPECT_STREQ(sh.line(), "log");
    type("\x1b[B");
    EXPECT_STREQ(sh.line(), "vers"); // the draft comes back
    type("\x1b[B");
    EXPECT_EQ(b.bells, 2);
    type("\x1bOA"); // application cursor mode
    EXPECT_STREQ(sh.line(), "log");
    type("\r");
    EXPECT_EQ(b.line_before_last(), "LOG");
}

TEST_F(ShellTest, HistoryKeepsTheLastEightLinesAndSkipsRepeatsAndEmptyLines) {
    for (int i = 0; i < 10; ++i) run("vm show " + std::to_string(i));
    run("cpus");
    run("cpus");
    run("");
    run("   ");
    EXPECT_EQ(sh.history_size(), Shell::HISTORY);
    std::vector<std::string> seen;
    for (usize i = 0; i < Shell::HISTORY; ++i) {
        type("\x1b[A");
        seen.push_back(sh.line());
    }
    EXPECT_EQ(seen.front(), "cpus");
    EXPECT_EQ(seen[1], "vm show 9");
    EXPECT_EQ(seen.back(), "vm show 3"); // 0..2 fell off the ring
    int bells = b.bells;
    type("\x1b[A");
    EXPECT_EQ(b.bells, bells + 1);
    EXPECT_STREQ(sh.line(), "vm show 3");
}

TEST_F(ShellTest, OtherEscapeSequencesAreSwallowedWhole) {
    type("ab\x1b[1;5C\x1b[D\x1b" "xcd");
    EXPECT_STREQ(sh.line(), "abcd"); // ESC x: dropped with the x
    EXPECT_EQ(b.bells, 0);
}

TEST_F(ShellTest, TabCompletesAUniqueCommand) {
    type("ve\t");
    EXPECT_STREQ(sh.line(), "version ");
    sh.input('\x15');
    type("sh\t");
    EXPECT_STREQ(sh.line(), "shutdown ");
    sh.input('\x15');
    type("vm sh\t");
    EXPECT_STREQ(sh.line(), "vm show ");
    sh.input('\x15');
    type("  vm   re\t"); // extra spaces do not matter; restart and resume share "res"
    EXPECT_STREQ(sh.line(), "  vm   res");
}

TEST_F(ShellTest, TabListsSeveralCandidatesAndKeepsTheLine) {
    type("v\t");
    EXPECT_STREQ(sh.line(), "v");
    EXPECT_TRUE(b.shows("vm  version"));
    EXPECT_EQ(b.last(), P + "v"); // the line is shown again under the list
    sh.input('\x15');
    type("vm st\t");
    EXPECT_TRUE(b.shows("stop  start"));
    EXPECT_STREQ(sh.line(), "vm st");
    sh.input('\x15');
    type("vm re\t"); // restart, resume: first to what they share, then the list
    EXPECT_STREQ(sh.line(), "vm res");
    EXPECT_FALSE(b.shows("restart  resume"));
    type("\t");
    EXPECT_TRUE(b.shows("restart  resume"));
}

TEST_F(ShellTest, TabExtendsToTheCommonPrefixFirst) {
    b.vms.push_back({30, "linux-a", "running"});
    b.vms.push_back({31, "linux-b", "running"});
    type("console li\t");
    EXPECT_STREQ(sh.line(), "console linux"); // linux, linux-a, linux-b: "linux" is all of one
    type("-\t");
    EXPECT_TRUE(b.shows("linux-a  linux-b"));
}

TEST_F(ShellTest, TabCompletesVmNamesWhereAVmIsExpected) {
    type("vm stop h\t");
    EXPECT_STREQ(sh.line(), "vm stop hello ");
    sh.input('\x15');
    type("console he\t");
    EXPECT_STREQ(sh.line(), "console hello ");
    sh.input('\x15');
    type("vm show be\t"); // beat, beta
    EXPECT_STREQ(sh.line(), "vm show be");
    EXPECT_TRUE(b.shows("beat  beta"));
    sh.input('\x15');
    type("vm pause bea\t");
    EXPECT_STREQ(sh.line(), "vm pause beat ");
}

TEST_F(ShellTest, TabWithNothingToCompleteRingsTheBell) {
    type("x\t");
    EXPECT_EQ(b.bells, 1);
    sh.input('\x15');
    type("vm list \t"); // list takes no VM
    EXPECT_EQ(b.bells, 2);
    sh.input('\x15');
    type("vm show nosuch\t");
    EXPECT_EQ(b.bells, 3);
    sh.input('\x15');
    type("cpus \t");
    EXPECT_EQ(b.bells, 4);
    sh.input('\x15');
    type("vm show hello x y \t"); // past the last word any command takes
    EXPECT_EQ(b.bells, 5);
}

TEST_F(ShellTest, CompletionStopsAtTheLineLimit) {
    type(std::string(Shell::LINE_LEN - 3, ' ') + "ver");
    type("\t");
    EXPECT_EQ(std::string(sh.line()).size(), Shell::LINE_LEN);
    EXPECT_GE(b.bells, 1);
}

TEST_F(ShellTest, AnotherWritersLineMakesTheNextKeyRedrawThePromptAndTheLine) {
    type("vm li");
    b.other("[hello] a guest line\n");
    type("s");
    EXPECT_EQ(b.line_before_last(), "[hello] a guest line");
    EXPECT_EQ(b.last(), P + "vm lis");
    type("\b");
    b.other("cxvisor: a log line\n");
    type("\b");
    EXPECT_EQ(b.last().substr(0, P.size() + 4), P + "vm l"); // redrawn as it stood, then rubbed out
    EXPECT_STREQ(sh.line(), "vm l");
}

TEST_F(ShellTest, EveryUsage) {
    EXPECT_EQ(one("help me"), "usage: help");
    const std::string vm_usage = "usage: vm list | vm show|stop|start|restart|pause|resume <id|name>";
    EXPECT_EQ(one("vm"), vm_usage);
    EXPECT_EQ(one("vm frobnicate hello"), vm_usage);
    EXPECT_EQ(one("vm list all"), "usage: vm list");
    EXPECT_EQ(one("vm show"), "usage: vm show <id|name>");
    EXPECT_EQ(one("vm show hello beat"), "usage: vm show <id|name>");
    for (const char* op : {"stop", "start", "restart", "pause", "resume"}) {
        EXPECT_EQ(one(std::string("vm ") + op), std::string("usage: vm ") + op + " <id|name>");
        EXPECT_EQ(one(std::string("vm ") + op + " a b c"), std::string("usage: vm ") + op + " <id|name>");
    }
    EXPECT_EQ(one("console"), "usage: console <id|name>");
    EXPECT_EQ(one("console hello beat"), "usage: console <id|name>");
    EXPECT_EQ(one("cpus 1"), "usage: cpus");
    EXPECT_EQ(one("log all"), "usage: log");
    EXPECT_EQ(one("version -v"), "usage: version");
    EXPECT_EQ(one("shutdown now"), "usage: shutdown");
    EXPECT_EQ(one("frobnicate"), "unknown command 'frobnicate'; type help for the commands");
    EXPECT_EQ(one("VM list"), "unknown command 'VM'; type help for the commands");
    EXPECT_TRUE(b.calls.empty()); // nothing was done
}

TEST_F(ShellTest, AVmIsFoundByIdOrExactName) {
    EXPECT_EQ(one("vm show 12"), "SHOW beat");
    EXPECT_EQ(one("vm show beta"), "SHOW beta");
    EXPECT_EQ(one("vm show bet"), "no VM with id or name 'bet' (vm list shows them)");
    EXPECT_EQ(one("vm show 99"), "no VM with id or name '99' (vm list shows them)");
    EXPECT_EQ(one("vm show 99999999999999999999"),
              "no VM with id or name '99999999999999999999' (vm list shows them)");
    EXPECT_EQ(one("vm stop -1"), "no VM with id or name '-1' (vm list shows them)");
    EXPECT_TRUE(b.calls.empty());
}

TEST_F(ShellTest, LifecycleCommandsCallTheBackendAndSayWhatHappened) {
    EXPECT_EQ(one("vm stop beat"), "vm 12 (beat): stop requested (now stopping)");
    EXPECT_EQ(one("vm start 13"), "vm 13 (beta): started (now stopped)");
    EXPECT_EQ(one("vm restart hello"), "vm 1 (hello): restart requested (now running)");
    EXPECT_EQ(one("vm pause hello"), "vm 1 (hello): paused (now running)");
    EXPECT_EQ(one("vm resume linux"), "vm 7 (linux): resumed (now paused)");
    EXPECT_EQ(b.calls, (std::vector<std::string>{"stop beat", "start beta", "restart hello", "pause hello",
                                                 "resume linux"}));
}

TEST_F(ShellTest, ARefusedLifecycleCommandSaysWhy) {
    b.op_result = Error::Busy;
    EXPECT_EQ(one("vm start hello"), "vm 1 (hello) is running: cannot start it (only a stopped or never started VM "
                                     "can be started; restart stops it first)");
    EXPECT_EQ(one("vm resume hello"), "vm 1 (hello) is running: cannot resume it (only a paused VM can be resumed)");
    EXPECT_EQ(one("vm pause beta"), "vm 13 (beta) is stopped: cannot pause it (only a running VM can be paused)");
    EXPECT_EQ(one("vm stop beta"), "vm 13 (beta) is stopped: cannot stop it (only a running or paused VM can be stopped)");
    b.op_result = Error::NoMemory;
    EXPECT_EQ(one("vm start beta"), "vm 13 (beta): start failed: out of memory");
}

TEST_F(ShellTest, ConsoleGoesToTheBackendAndAVmWithoutUartIsRefused) {
    EXPECT_EQ(one("console linux"), "vm 7 (linux) has no console UART; the shell keeps the input");
    EXPECT_EQ(b.last(), P); // still the shell's
    type("console beat\r");
    EXPECT_EQ(b.last(), ""); // the console announces the switch; no prompt for a shell without input
    EXPECT_EQ(b.calls, (std::vector<std::string>{"console linux", "console beat"}));
    sh.show_prompt(); // given back
    EXPECT_EQ(b.last(), P);
    type("cpus\r");
    EXPECT_EQ(b.last(), P);
}

TEST_F(ShellTest, ReportsAndShutdown) {
    EXPECT_EQ(one("vm list"), "LIST");
    EXPECT_EQ(one("cpus"), "CPUS");
    EXPECT_EQ(one("log"), "LOG");
    EXPECT_EQ(one("version"), "VERSION");
    EXPECT_EQ(one("shutdown"), "stopping every VM; the machine powers off when they have stopped");
    EXPECT_EQ(b.calls, std::vector<std::string>{"shutdown"});
}

TEST_F(ShellTest, HelpNamesEveryCommandAndNoOutputLooksLikeALogLine) {
    auto out = run("help");
    std::string all;
    for (const auto& l : out) all += l + "\n";
    for (const char* c : {"vm list", "vm show", "vm stop", "vm start", "vm restart", "vm pause", "vm resume",
                          "console", "cpus", "log", "version", "shutdown", "Ctrl-\\", "Ctrl-]", "Tab"})
        EXPECT_NE(all.find(c), std::string::npos) << c;
    run("vm show nosuch");
    run("bad");
    run("vm stop");
    for (const auto& l : b.lines) EXPECT_NE(l.rfind("cxvisor:", 0), 0u) << l;
}

TEST_F(ShellTest, EmptyAndBlankLinesDoNothing) {
    EXPECT_TRUE(run("").empty());
    EXPECT_TRUE(run("    ").empty());
    EXPECT_TRUE(b.calls.empty());
}

} // namespace
