// riscv64 guest-page-fault decoding (src/arch/riscv64/mmio_decode.hpp). Instruction words from
// `riscv64-linux-gnu-as -march=rv64gc` (or rv64g for the 32-bit forms of ld/sd) + objdump; htinst
// values hand-computed from RISC-V Privileged Spec 20211203, 8.6.3 (imm zeroed, rs1 = offset 0,
// bit 1 cleared when the original was compressed).
#include "arch/riscv64/mmio_decode.hpp"
#include <gtest/gtest.h>

using namespace arch::rv;

namespace {
struct Case {
    const char* text;
    u32 insn;
    bool is_write;
    u8 width;
    bool sign_extend;
    u8 reg;
    u8 length;
};
const Case Cases[] = {
    {"lb a0, 0(a1)", 0x00058503, false, 1, true, 10, 4},
    {"lh t0, 2(s0)", 0x00241283, false, 2, true, 5, 4},
    {"lw s1, -4(a2)", 0xffc62483, false, 4, true, 9, 4},
    {"ld a5, 8(sp)", 0x00813783, false, 8, false, 15, 4},
    {"lbu a3, 1(a0)", 0x00154683, false, 1, false, 13, 4},
    {"lhu zero, 0(a0)", 0x00055003, false, 2, false, 0, 4},
    {"lwu t6, 0(a0)", 0x00056f83, false, 4, false, 31, 4},
    {"sb a0, 0(a1)", 0x00a58023, true, 1, false, 10, 4},
    {"sh s11, 6(t0)", 0x01b29323, true, 2, false, 27, 4},
    {"sw zero, 0(a0)", 0x00052023, true, 4, false, 0, 4},
    {"sd ra, 16(sp)", 0x00113823, true, 8, false, 1, 4},
    // Compressed: 3-bit registers are x8 + field; the upper halfword is whatever follows in memory.
    {"c.lw a0, 4(a1)", 0xdead41c8, false, 4, true, 10, 2},
    {"c.ld s0, 8(a5)", 0x00006780, false, 8, false, 8, 2},
    {"c.sw a4, 0(s1)", 0x0000c098, true, 4, false, 14, 2},
    {"c.sd a5, 8(a0)", 0x0000e51c, true, 8, false, 15, 2},
    {"c.lwsp t1, 12(sp)", 0x00004332, false, 4, true, 6, 2},
    {"c.ldsp s2, 16(sp)", 0x00006942, false, 8, false, 18, 2},
    {"c.swsp t2, 4(sp)", 0x0000c21e, true, 4, false, 7, 2},
    {"c.sdsp s3, 24(sp)", 0x0000ec4e, true, 8, false, 19, 2},
    {"c.ldsp a5, 8(sp)", 0x000067a2, false, 8, false, 15, 2},
    {"c.sdsp ra, 16(sp)", 0x0000e806, true, 8, false, 1, 2},
};
} // namespace

TEST(RvMmioDecode, LoadsAndStores) {
    for (const Case& c : Cases) {
        SCOPED_TRACE(c.text);
        const RvDecode d = decode_load_store(c.insn);
        ASSERT_EQ(d.kind, RvDecode::Kind::Access) << (d.reason ? d.reason : "");
        EXPECT_EQ(d.access.is_write, c.is_write);
        EXPECT_EQ(d.access.width, c.width);
        EXPECT_EQ(d.access.sign_extend, c.sign_extend);
        EXPECT_EQ(d.access.reg, c.reg);
        EXPECT_EQ(d.access.length, c.length);
    }
}

TEST(RvMmioDecode, EverythingElseIsRejectedWithAReason) {
    const u32 rejected[] = {
        0x00052507, // flw fa0, 0(a0)
        0x00b53427, // fsd fa1, 8(a0)
        0x00b6252f, // amoadd.w a0, a1, (a2)
        0x1005b52f, // lr.d a0, (a1)
        0x00002188, // c.fld fa0, 0(a1)
        0x0000a50c, // c.fsd fa1, 8(a0)
        0x0000a02e, // c.fsdsp fa1, 0(sp)
        0x00000505, // c.addi a0, 1 (quadrant 1)
        0x00c58533, // add a0, a1, a2
        0x00007003, // LOAD with funct3 7 (reserved)
        0x00004023, // STORE with funct3 4 (reserved)
        0x00004002, // c.lwsp x0 (reserved)
        0x00006002, // c.ldsp x0 (reserved)
        0x0000001f, // a 48-bit instruction's first parcel
        0x00008000, // Zcb c.lbu (quadrant 0, funct3 100)
        0x00000000, // the all-zero parcel: defined illegal
    };
    for (u32 w : rejected) {
        SCOPED_TRACE(w);
        const RvDecode d = decode_load_store(w);
        EXPECT_EQ(d.kind, RvDecode::Kind::Rejected);
        EXPECT_NE(d.reason, nullptr);
    }
}

TEST(RvMmioDecode, InstructionLength) {
    EXPECT_EQ(insn_length(0x41c8), 2u); // c.lw
    EXPECT_EQ(insn_length(0x8503), 4u); // low parcel of lb
    EXPECT_EQ(insn_length(0x001f), 0u); // 48-bit
    EXPECT_EQ(insn_length(0x003f), 0u); // 64-bit
    EXPECT_EQ(insn_length(0x0000), 2u);
}

TEST(RvMmioDecode, FaultGpa) {
    constexpr u64 SV39 = u64(8) << 60;
    auto gpa = [](FaultGpa f) { return f.known ? f.gpa : ~0ull; };
    // htval = GPA >> 2; the low two bits come from stval (the guest-virtual address).
    EXPECT_EQ(gpa(fault_gpa(0x0400'0004, 0xffff'ffc0'1000'0013, true, SV39)), 0x1000'0013ull);
    EXPECT_EQ(gpa(fault_gpa(0x2000'0000, 0x1000, true, 0)), 0x8000'0000ull);
    EXPECT_EQ(gpa(fault_gpa(u64(1) << 39, 2, true, SV39)), (u64(1) << 41) | 2); // 41-bit Sv39x4 GPA
}

// htval = 0 is "no GPA given" (Priv 20211203, 8.2.8), not GPA 0: the fault used to become an abort
// at GPA 0 (a fault on MMIO at 0x1000_0000 injected an access fault into the guest).
TEST(RvMmioDecode, FaultWithoutGpaInHtval) {
    constexpr u64 SV39 = u64(8) << 60, SV48 = u64(9) << 60;
    // VS stage Bare: the guest-virtual address in stval is the guest-physical one.
    FaultGpa f = fault_gpa(0, 0x1000'0005, true, 0);
    EXPECT_TRUE(f.known);
    EXPECT_EQ(f.gpa, 0x1000'0005ull);
    f = fault_gpa(0, 2, true, 0x1234); // a real GPA of 0-3 still comes out right (ASID/PPN ignored)
    EXPECT_TRUE(f.known);
    EXPECT_EQ(f.gpa, 2u);
    // Translated by the guest's own tables, or stval holds no guest address: unknown.
    EXPECT_FALSE(fault_gpa(0, 0xffff'ffc0'1000'0000, true, SV39).known);
    EXPECT_FALSE(fault_gpa(0, 0x1000'0000, true, SV48).known);
    EXPECT_FALSE(fault_gpa(0, 0x1000'0000, false, 0).known);
}

TEST(RvMmioDecode, Htinst) {
    // 0: the hardware did not say; fetch the instruction (QEMU 7.2 always does this).
    EXPECT_EQ(decode_htinst(0).kind, RvDecode::Kind::Fetch);
    // A custom value (bit 0 clear, not a pseudoinstruction): fetch as well.
    EXPECT_EQ(decode_htinst(0x1234'5678).kind, RvDecode::Kind::Fetch);
    // Transformed lw s1 (from lw s1, -4(a2)): imm and rs1 zero: rd 9 << 7 | funct3 2 << 12 | 0x03.
    RvDecode d = decode_htinst(0x2483);
    ASSERT_EQ(d.kind, RvDecode::Kind::Access);
    EXPECT_FALSE(d.access.is_write);
    EXPECT_EQ(d.access.width, 4);
    EXPECT_TRUE(d.access.sign_extend);
    EXPECT_EQ(d.access.reg, 9);
    EXPECT_EQ(d.access.length, 4);
    // Transformed c.lw a0, 4(a1): the expanded lw a0 with bit 1 cleared: 0x2503 & ~2.
    d = decode_htinst(0x2501);
    ASSERT_EQ(d.kind, RvDecode::Kind::Access);
    EXPECT_EQ(d.access.reg, 10);
    EXPECT_EQ(d.access.length, 2);
    // Transformed sd ra, 16(sp): rs2 1 << 20 | funct3 3 << 12 | 0x23, misalignment offset 0.
    d = decode_htinst(0x0010'3023);
    ASSERT_EQ(d.kind, RvDecode::Kind::Access);
    EXPECT_TRUE(d.access.is_write);
    EXPECT_EQ(d.access.width, 8);
    EXPECT_EQ(d.access.reg, 1);
    // Transformed c.sw a4, 0(s1): sw a4 = 14 << 20 | 0x2023, bit 1 cleared.
    d = decode_htinst(0x00e0'2021);
    ASSERT_EQ(d.kind, RvDecode::Kind::Access);
    EXPECT_TRUE(d.access.is_write);
    EXPECT_EQ(d.access.reg, 14);
    EXPECT_EQ(d.access.length, 2);
    // A transformed AMO is not emulated.
    EXPECT_EQ(decode_htinst(0x00b0'252f).kind, RvDecode::Kind::Rejected);
    // Pseudoinstructions: the guest's own page-table walk hit the fault (read, or A/D write).
    for (u64 v : {0x2000ull, 0x3000ull}) {
        d = decode_htinst(v);
        EXPECT_EQ(d.kind, RvDecode::Kind::Stage1Walk);
        EXPECT_FALSE(d.walk_write);
    }
    for (u64 v : {0x2020ull, 0x3020ull}) {
        d = decode_htinst(v);
        EXPECT_EQ(d.kind, RvDecode::Kind::Stage1Walk);
        EXPECT_TRUE(d.walk_write);
    }
}
