// The exit status and summary line of a scriptable run (vmm/exit_status.hpp).
#include "vmm/exit_status.hpp"
#include <gtest/gtest.h>
#include <string>

namespace {

struct Summary {
    int status;
    std::string line;
};
Summary summarise(std::initializer_list<VmEnd> vms, usize n = 512) {
    char buf[512];
    int status = exit_summary(vms.begin(), vms.size(), buf, n);
    return {status, buf};
}

} // namespace

TEST(ExitStatus, AllCleanIsZero) {
    auto s = summarise({{1, "hello", false, false}, {9, "poweroff", false, false}});
    EXPECT_EQ(s.status, EXIT_CLEAN);
    EXPECT_EQ(s.line, "cxvisor: all VMs have stopped: exit status 0 (every VM powered off or was stopped by the operator)\n");
    EXPECT_EQ(summarise({}).status, 0); // no VM at all: nothing went wrong
}

TEST(ExitStatus, ACrashIsOneAndNamesTheVm) {
    auto s = summarise({{1, "hello", false, false}, {17, "crash", true, false}});
    EXPECT_EQ(s.status, EXIT_CRASHED);
    EXPECT_EQ(s.line, "cxvisor: all VMs have stopped: exit status 1 (vm 17 (crash) was stopped by containment)\n");
}

TEST(ExitStatus, AFailIsTwoEvenWithACrashAndEachIsNamed) {
    auto s = summarise({{170, "fail", false, true}, {1, "hello", false, false}, {17, "crash", true, false}});
    EXPECT_EQ(s.status, EXIT_FAILED);
    EXPECT_EQ(s.line, "cxvisor: all VMs have stopped: exit status 2 (vm 170 (fail) reported FAIL; vm 17 (crash) was "
                      "stopped by containment)\n");
    s = summarise({{5, "both", true, true}});
    EXPECT_EQ(s.status, EXIT_FAILED);
    EXPECT_EQ(s.line, "cxvisor: all VMs have stopped: exit status 2 (vm 5 (both) reported FAIL and was stopped by containment)\n");
}

TEST(ExitStatus, ACutLineStillEndsTheLine) {
    auto s = summarise({{17, "crash", true, false}, {18, "crash2", true, false}}, 64);
    EXPECT_EQ(s.status, EXIT_CRASHED);
    EXPECT_EQ(s.line.size(), 63u);
    EXPECT_EQ(s.line.substr(0, 46), "cxvisor: all VMs have stopped: exit status 1 (");
    EXPECT_EQ(s.line.substr(61), ")\n");
}
