// The riscv64 vCPU's register settings and timer/trap rules (src/arch/riscv64/vcpu_rules.hpp),
// against RISC-V Privileged Spec 20211203 chapter 8 and what QEMU 7.2 reads back
// (/work/shared/riscv-notes.md §1: hedeleg all-ones -> 0xb1ff, hideleg -> 0x444).
#include "arch/riscv64/vcpu_rules.hpp"
#include <gtest/gtest.h>

using namespace arch::rv;

TEST(RvVcpuRules, DelegationMasks) {
    EXPECT_EQ(HEDELEG, 0xb10dull);             // 0, 2, 3, 8, 12, 13, 15
    EXPECT_EQ(HEDELEG & ~0xb1ffull, 0u);       // only bits the hardware lets HS delegate
    EXPECT_EQ(HEDELEG & (0xfull << 20), 0u);   // guest-page faults and virtual instruction: cxvisor's
    EXPECT_EQ(HEDELEG & (0x7ull << 9), 0u);    // ECALLs from HS/VS/M: read-only 0 (8.2.2)
    EXPECT_EQ(HIDELEG, 0x444ull);              // VSSIP, VSTIP, VSEIP
    EXPECT_EQ(HCOUNTEREN, 0x7ull);
    EXPECT_EQ(HSTATUS_VSXL_64 | HSTATUS_SPV | HSTATUS_SPVP | HSTATUS_VTW, 0x2'0020'0180ull);
}

TEST(RvVcpuRules, RedirectedTrapStatus) {
    // From VS with interrupts on: SPP = 1, SPIE = 1, SIE = 0; other bits (FS, UXL) kept.
    EXPECT_EQ(trap_vsstatus(0x2'0000'6002, true), 0x2'0000'6120ull);
    // From VU with interrupts off: SPP = 0, SPIE = 0.
    EXPECT_EQ(trap_vsstatus(0x2'0000'6120, false), 0x2'0000'6000ull);
}

TEST(RvVcpuRules, GuestTimer) {
    const u64 offset = 0x1234'5678; // VM started at host time 0x1234_5678: htimedelta = -offset
    const u64 delta = 0 - offset;
    // Guest time 100 at host time offset + 100.
    EXPECT_FALSE(guest_timer_pending(200, delta, offset + 100));
    EXPECT_TRUE(guest_timer_pending(200, delta, offset + 200));
    EXPECT_EQ(wake_host_time(200, delta, offset + 100), offset + 200);
    EXPECT_EQ(wake_host_time(200, delta, offset + 300), 0u); // already due: wake now
    EXPECT_EQ(wake_host_time(~0ull, delta, offset), ~0ull);  // no deadline
    // The compare is unsigned (Sstc): a deadline "behind" by more than 2^63 is not due. A signed
    // difference would call guest time 5 against compare 2^64 - 2 due.
    EXPECT_FALSE(guest_timer_pending(~0ull - 1, delta, offset + 5));
    // A guest time that wraps (htimedelta pushed it past 2^64) compares as the hardware does.
    const u64 wrap = ~0ull - 10; // guest time = host time + wrap: host 5 -> guest 2^64 - 6
    EXPECT_FALSE(guest_timer_pending(~0ull - 1, wrap, 5));
    EXPECT_TRUE(guest_timer_pending(~0ull - 1, wrap, 9));
    EXPECT_EQ(wake_host_time(~0ull - 1, wrap, 5), 9u);
    EXPECT_TRUE(guest_timer_pending(3, wrap, 14)); // guest time 3 (wrapped): the hardware fires
}

TEST(RvVcpuRules, IllegalInstructionsComeToCxvisorOnlyWithoutSstc) {
    EXPECT_EQ(hedeleg_for(true), HEDELEG);
    EXPECT_EQ(hedeleg_for(false), HEDELEG & ~0x4ull); // bit 2: illegal instruction (stimecmp accesses)
}

TEST(RvVcpuRules, CsrInstructionsDecodeWithTheirReadModifyWriteRules) {
    // csrw stimecmp, a0 = csrrw x0, 0x14d, x10 (Unprivileged 20191213, 9.1; as GNU as encodes it)
    CsrInsn w = decode_csr(0x14d51073);
    ASSERT_TRUE(w.valid);
    EXPECT_EQ(w.csr, STIMECMP_NUMBER);
    EXPECT_EQ(w.rd, 0u);
    EXPECT_EQ(w.rs1, 10u);
    EXPECT_FALSE(w.imm);
    EXPECT_TRUE(w.writes());
    EXPECT_EQ(w.result(0x55, 0x1234), 0x1234u);
    // csrr t1, stimecmp = csrrs x6, 0x14d, x0: reads only.
    CsrInsn r = decode_csr(0x14d02373);
    ASSERT_TRUE(r.valid);
    EXPECT_EQ(r.rd, 6u);
    EXPECT_FALSE(r.writes());
    // csrrs t2, stimecmp, t1 / csrrc t2, stimecmp, t1: set and clear bits.
    CsrInsn s = decode_csr(0x14d323f3), c = decode_csr(0x14d333f3);
    EXPECT_TRUE(s.writes());
    EXPECT_EQ(s.result(0xf0, 0x0f), 0xffu);
    EXPECT_EQ(c.result(0xff, 0x0f), 0xf0u);
    // csrrwi t2, stimecmp, 7: the immediate is the operand; csrrsi with zimm 0 reads only.
    CsrInsn wi = decode_csr(0x14d3d3f3);
    EXPECT_TRUE(wi.imm);
    EXPECT_EQ(wi.rs1, 7u);
    EXPECT_TRUE(wi.writes());
    EXPECT_FALSE(decode_csr(0x14d063f3).writes()); // csrrsi t2, stimecmp, 0
    // Not Zicsr: WFI (funct3 0), a load, the all-zero word.
    EXPECT_FALSE(decode_csr(u32(INSN_WFI)).valid);
    EXPECT_FALSE(decode_csr(0x00052503).valid); // lw a0, 0(a0)
    EXPECT_FALSE(decode_csr(0).valid);
}
