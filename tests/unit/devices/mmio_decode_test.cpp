#include "arch/aarch64/mmio_decode.hpp"
#include <gtest/gtest.h>

using namespace arch;

namespace {
// Instruction words from `aarch64-linux-gnu-as -march=armv8.1-a` + objdump.
struct Case {
    const char* text;
    u32 insn;
    bool is_write;
    u8 width;
    bool sign_extend;
    u8 reg;
    bool reg_is_64;
    bool writeback;
    u8 base_reg;
    i64 delta;
};
const Case Cases[] = {
    {"ldr w1, [x0]", 0xb9400001, false, 4, false, 1, false, false, 0, 0},
    {"ldrb w2, [x0, #1]", 0x39400402, false, 1, false, 2, false, false, 0, 0},
    {"ldrsh x3, [x0, #2]", 0x79800403, false, 2, true, 3, true, false, 0, 0},
    {"str x4, [x0], #8", 0xf8008404, true, 8, false, 4, true, true, 0, 8},
    {"ldr x5, [x0, #16]!", 0xf8410c05, false, 8, false, 5, true, true, 0, 16},
    {"ldur w6, [x0, #-4]", 0xb85fc006, false, 4, false, 6, false, false, 0, 0},
    {"ldr w7, [x0, x1, lsl #2]", 0xb8617807, false, 4, false, 7, false, false, 0, 0},
    {"strh wzr, [x0]", 0x7900001f, true, 2, false, 31, false, false, 0, 0},
    {"ldrsb w8, [x0]", 0x39c00008, false, 1, true, 8, false, false, 0, 0},
    {"ldrsw x9, [x0, #4]", 0xb9800409, false, 4, true, 9, true, false, 0, 0},
    {"ldtr w10, [x0]", 0xb840080a, false, 4, false, 10, false, false, 0, 0},
    {"ldrb w11, [x0, w1, sxtw]", 0x3861c80b, false, 1, false, 11, false, false, 0, 0},
    {"str x12, [sp, #-16]!", 0xf81f0fec, true, 8, false, 12, true, true, 31, -16},
};
} // namespace

TEST(MmioDecode, LoadStoreForms) {
    for (const Case& c : Cases) {
        SCOPED_TRACE(c.text);
        auto r = decode_load_store(c.insn);
        ASSERT_TRUE(r.is_ok());
        const DecodedAccess& a = r.value();
        EXPECT_EQ(a.is_write, c.is_write);
        EXPECT_EQ(a.width, c.width);
        EXPECT_EQ(a.sign_extend, c.sign_extend);
        EXPECT_EQ(a.reg, c.reg);
        EXPECT_EQ(a.reg_is_64, c.reg_is_64);
        EXPECT_EQ(a.writeback, c.writeback);
        EXPECT_EQ(a.base_reg, c.base_reg);
        EXPECT_EQ(a.writeback_delta, c.delta);
    }
}

TEST(MmioDecode, Unsupported) {
    const std::pair<const char*, u32> rejected[] = {
        {"ldp x1, x2, [x0]", 0xa9400801},    {"ldxr x1, [x0]", 0xc85f7c01},
        {"ldr q0, [x0]", 0x3dc00000},        {"prfm pldl1keep, [x0]", 0xf9800000},
        {"ldadd x1, x2, [x0]", 0xf8210002},  {"ldr x1, [x1], #8 (unpredictable)", 0xf8408421},
        {"ldr x1, [x0, w1, uxtb] (option 000)", 0xf8610801}, {"nop", 0xd503201f},
    };
    for (auto [text, insn] : rejected) EXPECT_EQ(decode_load_store(insn).error(), Error::Unsupported) << text;
}

TEST(MmioDecode, EsrIss) {
    // ldr w1, [x0] faulting at stage 2 (level-3 translation fault): ISV, SAS=word, SRT=1.
    DataAbortIss iss = decode_data_abort_iss(0x93810007);
    EXPECT_EQ(iss.ec, EcDataAbortLowerEl);
    EXPECT_TRUE(iss.il);
    EXPECT_TRUE(iss.isv);
    EXPECT_EQ(iss.width, 4);
    EXPECT_FALSE(iss.sign_extend);
    EXPECT_EQ(iss.srt, 1);
    EXPECT_FALSE(iss.sf);
    EXPECT_FALSE(iss.wnr);
    EXPECT_EQ(iss.dfsc, 0x07);
    auto a = access_from_iss(iss);
    ASSERT_TRUE(a.is_ok());
    EXPECT_FALSE(a.value().is_write);
    EXPECT_EQ(a.value().reg, 1);
    EXPECT_FALSE(a.value().writeback);

    // str x4, [x0]: SAS=dword, SRT=4, SF, WnR, level-2 translation fault.
    iss = decode_data_abort_iss(0x93c48046);
    EXPECT_EQ(iss.width, 8);
    EXPECT_EQ(iss.srt, 4);
    EXPECT_TRUE(iss.sf);
    EXPECT_TRUE(iss.wnr);
    EXPECT_EQ(iss.dfsc, 0x06);
    auto st = access_from_iss(iss);
    EXPECT_TRUE(st.value().is_write && st.value().width == 8 && st.value().reg_is_64);

    // ldrsh x3, [x0]: SAS=half, SSE, SRT=3, SF.
    iss = decode_data_abort_iss(0x93638007);
    EXPECT_EQ(iss.width, 2);
    EXPECT_TRUE(iss.sign_extend);
    EXPECT_EQ(iss.srt, 3);
    EXPECT_TRUE(iss.sf);

    // ISV=0 with FnV, EA, S1PTW and a synchronous external abort DFSC: no syndrome to use.
    iss = decode_data_abort_iss(0x92000690);
    EXPECT_FALSE(iss.isv);
    EXPECT_TRUE(iss.fnv && iss.ea && iss.s1ptw);
    EXPECT_FALSE(iss.cm);
    EXPECT_EQ(iss.dfsc, 0x10);
    EXPECT_EQ(access_from_iss(iss).error(), Error::Unsupported);
}
