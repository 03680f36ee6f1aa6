#include "base/format.hpp"
#include <gtest/gtest.h>
#include <string>

static std::string fmt(const char* f, auto... args) {
    char buf[128];
    format(buf, sizeof buf, f, args...);
    return buf;
}

TEST(Format, Integers) {
    EXPECT_EQ(fmt("%d %i %u", -42, 7, 42u), "-42 7 42");
    EXPECT_EQ(fmt("%lx %llX", 0xdeadbeefull, 0xabcull), "deadbeef ABC");
    EXPECT_EQ(fmt("%08x|%-4d|%4d", 0x1234u, 5, 5), "00001234|5   |   5");
    EXPECT_EQ(fmt("%ld", (long)-9223372036854775807L - 1), "-9223372036854775808");
    EXPECT_EQ(fmt("%zu", (size_t)12), "12");
}

TEST(Format, StringsAndChars) {
    EXPECT_EQ(fmt("[%s] [%6s] [%-3s] %c%%", "ab", "cd", "e", 'z'), "[ab] [    cd] [e  ] z%");
    EXPECT_EQ(fmt("%s", (const char*)nullptr), "(null)");
    EXPECT_EQ(fmt("%p", (void*)0x1000), "0x1000");
}

TEST(Format, TruncatesAndReportsFullLength) {
    char buf[5];
    EXPECT_EQ(format(buf, sizeof buf, "%s", "abcdefgh"), 8u);
    EXPECT_STREQ(buf, "abcd");
}

TEST(Format, StringPrecisionStopsWithoutNul) {
    const char name[4] = {'a', 'b', 'c', 'd'}; // no terminator: only the precision bounds it
    EXPECT_EQ(fmt("[%.4s] %d", name, 7), "[abcd] 7");
    EXPECT_EQ(fmt("[%.2s]", "xyz"), "[xy]");
    EXPECT_EQ(fmt("[%5.2s]", "xyz"), "[   xy]");
}

TEST(Format, UnknownConversionIsVisible) { EXPECT_EQ(fmt("a%qb"), "a%qb"); }
