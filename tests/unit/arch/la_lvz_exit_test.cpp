// LVZ exit decoding (src/arch/loongarch64/lvz_exit.hpp) on recorded exception states. Each word
// below was assembled by clang-19 --target=loongarch64-unknown-none-elf and read back with
// llvm-objdump-19; the Ecodes are those measured on the LVZ QEMU (../shared/platform-notes.md).
#include "arch/loongarch64/lvz_exit.hpp"
#include <gtest/gtest.h>

using namespace arch::lvz;

namespace {
constexpr u64 estat(u32 ecode, u32 sub = 0) { return u64(ecode) << 16 | u64(sub) << 22; }
} // namespace

// LA Vol. 1 v1.10 7.4.5 (ESTAT.Ecode 0x17 HVC) and the virtualization extension: hvcl's code in BADI.
TEST(LaLvzExit, HypercallTakesItsCodeFromBadi) {
    Exit e = decode_exit({estat(ECODE_HVC), 0, 0x002B'8005}); // hvcl 5
    EXPECT_EQ(e.kind, ExitKind::Hypercall);
    EXPECT_EQ(e.hvcl_code, 5u);
    EXPECT_EQ(decode_exit({estat(ECODE_HVC), 0, 0x002B'FFFF}).hvcl_code, 0x7FFFu);
}

// LA Vol. 1 7.4.5: Ecode 0 is an interrupt (a host interrupt taken in guest mode).
TEST(LaLvzExit, HostInterrupt) {
    EXPECT_EQ(decode_exit({estat(ECODE_INT) | 0x800, 0, 0}).kind, ExitKind::HostInterrupt); // IS[11]: timer
}

// Ecode 0x16 GSPR: cpucfg, iocsrrd/wr, idle and CSR accesses decoded (LA Vol. 1 appendix B).
TEST(LaLvzExit, GsprDecodesThePrivilegedInstruction) {
    Exit e = decode_exit({estat(ECODE_GSPR), 0, 0x0000'6CA4}); // cpucfg $a0, $a1
    EXPECT_EQ(e.kind, ExitKind::Privileged);
    EXPECT_EQ(e.gspr.op, Gspr::Cpucfg);
    EXPECT_EQ(e.gspr.rd, 4u);
    EXPECT_EQ(e.gspr.rj, 5u);
    EXPECT_EQ(decode_gspr(0x0648'8000).op, Gspr::Idle); // idle 0
    GsprInsn g = decode_gspr(0x0648'08CC);               // iocsrrd.w $t0, $a2
    EXPECT_EQ(g.op, Gspr::IocsrRead);
    EXPECT_EQ(g.size, 4u);
    EXPECT_EQ(g.rd, 12u);
    EXPECT_EQ(g.rj, 6u);
    g = decode_gspr(0x0648'1CED); // iocsrwr.d $t1, $a3
    EXPECT_EQ(g.op, Gspr::IocsrWrite);
    EXPECT_EQ(g.size, 8u);
    g = decode_gspr(0x0400'1404); // csrrd $a0, 5
    EXPECT_EQ(g.op, Gspr::CsrRead);
    EXPECT_EQ(g.csr, 5u);
    EXPECT_EQ(decode_gspr(0x0400'1825).op, Gspr::CsrWrite); // csrwr $a1, 6
    g = decode_gspr(0x0400'1CE6);                            // csrxchg $a2, $a3, 7
    EXPECT_EQ(g.op, Gspr::CsrXchg);
    EXPECT_EQ(g.rj, 7u);
    EXPECT_EQ(g.csr, 7u);
    EXPECT_EQ(decode_gspr(0x0500'1404).op, Gspr::Unknown); // gcsrrd: not a guest's instruction
}

// GPA faults: the refill entry (TLBRERA.IsTLBR, TLBRBADV = GPA, ESTAT untouched) and page-invalid
// Ecode 1/2 (BADV = GPA), each with the load/store decoded for MMIO (LA Vol. 1 2.2.7).
TEST(LaLvzExit, GpaFaultsDecodeTheAccess) {
    ExitState refill{estat(ECODE_HVC), 0, 0x2980'00A4, true, 0x1FE0'0004}; // stale ESTAT; st.w $a0, $a1, 0
    Exit e = decode_exit(refill);
    EXPECT_EQ(e.kind, ExitKind::GpaFault);
    EXPECT_EQ(e.gpa, 0x1FE0'0004u);
    EXPECT_TRUE(e.access.ok && e.access.store && e.access.size == 4 && e.access.rd == 4);
    e = decode_exit({estat(ECODE_PIL), 0x1FE0'0010, 0x2A80'41AC}); // ld.wu $t0, $t1, 16
    EXPECT_EQ(e.kind, ExitKind::GpaFault);
    EXPECT_EQ(e.gpa, 0x1FE0'0010u);
    ASSERT_TRUE(e.access.ok);
    EXPECT_FALSE(e.access.store);
    EXPECT_FALSE(e.access.sign_extend);
    EXPECT_EQ(e.access.size, 4u);
    EXPECT_EQ(e.access.rd, 12u);
    MemAccess m = decode_mem_access(0x283F'F0A4); // ld.b $a0, $a1, -4
    EXPECT_TRUE(m.ok && !m.store && m.sign_extend && m.size == 1 && m.rd == 4);
    m = decode_mem_access(0x29C0'2317); // st.d $s0, $s1, 8
    EXPECT_TRUE(m.ok && m.store && m.size == 8 && m.rd == 23);
    m = decode_mem_access(0x2900'00A4); // st.b $a0, $a1, 0
    EXPECT_TRUE(m.ok && m.store && m.size == 1);
    m = decode_mem_access(0x2A40'00A4); // ld.hu $a0, $a1, 0
    EXPECT_TRUE(m.ok && !m.store && !m.sign_extend && m.size == 2);
    m = decode_mem_access(0x3808'18A4); // ldx.w $a0, $a1, $a2
    EXPECT_TRUE(m.ok && !m.store && m.sign_extend && m.size == 4 && m.rd == 4);
    m = decode_mem_access(0x3820'18A4); // ldx.bu
    EXPECT_TRUE(m.ok && !m.sign_extend && m.size == 1);
    m = decode_mem_access(0x381C'39AC); // stx.d $t0, $t1, $t2
    EXPECT_TRUE(m.ok && m.store && m.size == 8 && m.rd == 12);
    EXPECT_FALSE(decode_mem_access(0x002B'8005).ok); // hvcl
}

TEST(LaLvzExit, OtherExceptionsAreNotClassified) {
    Exit e = decode_exit({estat(0xC), 0, 0}); // BRK
    EXPECT_EQ(e.kind, ExitKind::Other);
    EXPECT_EQ(e.ecode, 0xCu);
}

// The host-mode CSRs (arch/loongarch64/lvz_csr.hpp): the manual's numbers, the LVZ QEMU fork's
// GTLBC/TRGP behind the one switch, and the values measured there (platform-notes.md: GTLBC
// "use-target-GID + TGID 1", GSTAT.GID = 1 with PGM = 1 before ERTN).
#include "arch/loongarch64/lvz_csr.hpp"

TEST(LaLvzCsr, ManualNumbersWithTheForkBehindOneSwitch) {
    constexpr HostCsrs m = host_csrs(CsrNumbering::Manual), f = host_csrs(CsrNumbering::QemuLvzFork);
    EXPECT_EQ(m.gtlbc, 0x15u);
    EXPECT_EQ(m.trgp, 0x16u);
    EXPECT_EQ(f.gtlbc, 0x54u);
    EXPECT_EQ(f.trgp, 0x55u);
    EXPECT_EQ(m.gstat, f.gstat);
    EXPECT_EQ(m.gintc, 0x52u);
}

TEST(LaLvzCsr, GtlbcAndGstatValues) {
    EXPECT_EQ(gtlbc_value(1, 0), 0x1'1000u); // UseTGID + TGID 1
    EXPECT_EQ(gtlbc_value(0xFF, 8), 0xFF'1008u);
    EXPECT_EQ(gstat_for_entry(1), 0x1'0002u); // PGM + GID 1
}
