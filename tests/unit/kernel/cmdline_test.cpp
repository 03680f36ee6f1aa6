// The host command line (kernel/cmdline.hpp): words, unknown words, the DTB's /chosen/bootargs.
#include "host_console.hpp"
#include "kernel/cmdline.hpp"
#include <fstream>
#include <gtest/gtest.h>
#include <algorithm>
#include <iterator>
#include <string>
#include <vector>

namespace {

HostCmdline parse(const std::string& s) { return cmdline_parse(s.data(), s.size()); }

std::vector<char> read_dtb(const char* name) {
    std::ifstream f(std::string(KERNEL_FIXTURE_BIN) + "/" + name, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), {}};
}

} // namespace

TEST(Cmdline, EmptyMeansDefaultsAndSaysNothing) {
    clear_captured_console();
    for (const char* s : {"", "   ", "\t\n"}) {
        HostCmdline c = parse(s);
        EXPECT_FALSE(c.exit_when_done);
        EXPECT_FALSE(c.timestamps);
    }
    EXPECT_EQ(captured_console(), "");
}

TEST(Cmdline, KnownWordsInAnyOrderAndSpacing) {
    clear_captured_console();
    HostCmdline c = parse("  timestamps\texit_when_done ");
    EXPECT_TRUE(c.exit_when_done);
    EXPECT_TRUE(c.timestamps);
    c = parse("exit_when_done");
    EXPECT_TRUE(c.exit_when_done);
    EXPECT_FALSE(c.timestamps);
    EXPECT_EQ(captured_console(), "");
}

TEST(Cmdline, UnknownWordsAreReportedInOneLineAndIgnored) {
    clear_captured_console();
    HostCmdline c = parse("exit_when_donex timestamps console=ttyAMA0 exit_when_done=1");
    EXPECT_FALSE(c.exit_when_done); // a near miss is not the word
    EXPECT_TRUE(c.timestamps);
    EXPECT_EQ(captured_console(), "cxvisor: host command line: ignored unknown word(s): exit_when_donex "
                                  "console=ttyAMA0 exit_when_done=1 (known: exit_when_done timestamps)\n");
}

TEST(Cmdline, ManyUnknownWordsStillOneLine) {
    clear_captured_console();
    std::string s;
    for (int i = 0; i < 100; ++i) s += "junkword" + std::to_string(i) + " ";
    s += "timestamps";
    EXPECT_TRUE(parse(s).timestamps);
    const std::string& out = captured_console();
    EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1);
    EXPECT_NE(out.find("junkword0 "), std::string::npos);
    EXPECT_NE(out.find(" ... (known:"), std::string::npos);
}

TEST(Cmdline, StopsAtTheLengthOrANul) {
    const char text[] = "timestamps exit_when_done";
    EXPECT_FALSE(cmdline_parse(text, 10 + 1 + 4).exit_when_done); // "exit" cut: unknown
    const char nul[] = "timestamps\0exit_when_done";
    EXPECT_FALSE(cmdline_parse(nul, sizeof nul - 1).exit_when_done);
}

TEST(Cmdline, FromTheHostDtb) {
    clear_captured_console();
    std::vector<char> blob = read_dtb("bootargs.dtb");
    ASSERT_FALSE(blob.empty());
    auto fdt = Fdt::create(blob.data(), blob.size());
    ASSERT_TRUE(fdt.is_ok());
    HostCmdline c = cmdline_from_fdt(fdt.value());
    EXPECT_TRUE(c.exit_when_done);
    EXPECT_TRUE(c.timestamps);
    EXPECT_EQ(captured_console(),
              "cxvisor: host command line: ignored unknown word(s): bogus (known: exit_when_done timestamps)\n");

    clear_captured_console();
    blob = read_dtb("no-bootargs.dtb");
    auto none = Fdt::create(blob.data(), blob.size());
    ASSERT_TRUE(none.is_ok());
    c = cmdline_from_fdt(none.value());
    EXPECT_FALSE(c.exit_when_done);
    EXPECT_FALSE(c.timestamps);
    EXPECT_EQ(captured_console(), "");
}
