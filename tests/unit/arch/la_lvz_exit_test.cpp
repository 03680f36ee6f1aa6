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

// Every second-stage fault names its access (LA Vol. 1 v1.10 table 7-8): the generic fault path
// needs Read/Write/Fetch to back RAM with the right permission and to tell a permission fault.
TEST(LaLvzExit, EveryPageFaultCodeIsAGpaFaultWithItsAccess) {
    struct {
        u32 ecode;
        GpaAccess access;
    } cases[] = {{ECODE_PIL, GpaAccess::Read},  {ECODE_PIS, GpaAccess::Write}, {ECODE_PIF, GpaAccess::Fetch},
                 {ECODE_PME, GpaAccess::Write}, {ECODE_PNR, GpaAccess::Read},  {ECODE_PNX, GpaAccess::Fetch}};
    for (auto c : cases) {
        const Exit e = decode_exit({estat(c.ecode), 0x1FE0'0005, 0x2A00'158D}); // ld.bu $t1, $t0, 5
        EXPECT_EQ(e.kind, ExitKind::GpaFault) << c.ecode;
        EXPECT_EQ(e.gpa, 0x1FE0'0005u) << c.ecode;
        EXPECT_EQ(e.kind_of_access, c.access) << c.ecode;
    }
    // PPI (a privilege fault) takes the access from the instruction: a store, st.b $t2, $t0, 0.
    EXPECT_EQ(decode_exit({estat(ECODE_PPI), 0x1000, 0x2900'018E}).kind_of_access, GpaAccess::Write);
    EXPECT_EQ(decode_exit({estat(ECODE_PPI), 0x1000, 0x2A00'158D}).kind_of_access, GpaAccess::Read);
}

// The guest CSRs a vCPU owns (lvz_csr.hpp GUEST_CSRS): the basic CSRs a guest OS writes (LA Vol. 1
// v1.10 table 7-1), each once, without the timer pair (carried apart) and without host-mode CSRs.
TEST(LaLvzCsr, GuestCsrListCoversTheGuestOsState) {
    for (u16 csr : {0x0, 0x1, 0x4, 0x5, 0x6, 0x7, 0xC, 0x18, 0x19, 0x1A, 0x1C, 0x1D, 0x20, 0x30, 0x37, 0x40, 0x88, 0x8B,
                    0x8E, 0x180, 0x183})
        EXPECT_LT(guest_csr_index(u16(csr)), GUEST_CSR_COUNT) << std::hex << csr;
    for (u16 csr : {GCSR_TCFG, GCSR_TVAL, GCSR_TICLR, u16(0x50), u16(0x51), u16(0x52), u16(0x53), u16(0x15), u16(0x54)})
        EXPECT_EQ(guest_csr_index(csr), GUEST_CSR_COUNT) << std::hex << csr;
    for (usize i = 0; i < GUEST_CSR_COUNT; ++i)
        for (usize j = i + 1; j < GUEST_CSR_COUNT; ++j) EXPECT_NE(GUEST_CSRS[i], GUEST_CSRS[j]);
    // CRMD first: the restore ends in the mode the rest was written for.
    EXPECT_EQ(GUEST_CSRS[0], GCSR_CRMD);
}

// The guest timer across a deschedule (lvz_csr.hpp timer_save/timer_restore; TCFG LA Vol. 1 7.6.2).
TEST(LaLvzCsr, GuestTimerCarriesTheRemainderAcrossADeschedule) {
    // One-shot, 1000 ticks left at put, 400 off the core: restarted with 600.
    const GuestTimer t = timer_save(TCFG_EN | 100000, 1000, false);
    TimerRestore r = timer_restore(t, 400);
    EXPECT_EQ(r.tcfg, TCFG_EN | 600);
    EXPECT_FALSE(r.raise);
    // Not a multiple of 4: rounded up (InitVal's low two bits are TCFG's En and Periodic).
    EXPECT_EQ(timer_restore(t, 399).tcfg, TCFG_EN | 604);
    // A stopped timer stays stopped.
    r = timer_restore(timer_save(4000, 4000, false), 1'000'000);
    EXPECT_EQ(r.tcfg, 4000u);
    EXPECT_FALSE(r.raise);
    // A one-shot that fired on the core and was cleared (TVAL 0, not pending) does not fire again.
    r = timer_restore(timer_save(TCFG_EN | 4000, 0, false), 0);
    EXPECT_EQ(r.tcfg & TCFG_EN, 0u);
    EXPECT_FALSE(r.raise);
}

// The interrupt of a timer that expired off the core, or was pending and not yet cleared at put(),
// is raised again by the timer itself (a 4-tick one-shot) as well as by writing ESTAT: the LVZ QEMU
// shows a host-written ESTAT.IS[11] to the guest but never delivers it (lvz-wfi-irq failed so), and
// starts no timer on the host's GCSRWR of TCFG (lvz-wfi failed without the ESTAT write).
TEST(LaLvzCsr, AnExpiredOrPendingTimerIsRaisedByTheTimer) {
    // Expired while off the core.
    TimerRestore r = timer_restore(timer_save(TCFG_EN | 100000, 1000, false), 1000);
    EXPECT_EQ(r.tcfg, TIMER_REFIRE);
    EXPECT_TRUE(r.raise);
    // Fired on the core, pending at put (the guest had not taken it yet): fires again at load.
    r = timer_restore(timer_save(TCFG_EN | 4000, 0, true), 10);
    EXPECT_EQ(r.tcfg, TIMER_REFIRE);
    EXPECT_TRUE(r.raise);
    // Periodic: the next period runs; its missed tick can only be written into ESTAT.
    r = timer_restore(timer_save(TCFG_EN | TCFG_PERIODIC | 4000, 10, false), 50);
    EXPECT_EQ(r.tcfg, TCFG_EN | TCFG_PERIODIC | 4000);
    EXPECT_TRUE(r.raise);
}

// The board parts a loongarch64 VM gets from its vCPU backend (arch/loongarch64/lvz_board.hpp): the
// GED's power registers (ACPI 6.5 4.8.3.7: SLP_TYP [4:2] = 5 (S5) with SLP_EN [5]; QEMU virt's reset
// value 0x42) and the IPI block's mail buffers and IPIs (Loongson 3A5000 manual 10.4), as the
// guest runtime (guests/runtime/loongarch64/arch.cpp) and Linux drive them.
#include "arch/loongarch64/lvz_board.hpp"

TEST(LaLvzBoard, GedPowersOffAndResets) {
    EXPECT_EQ(ged_store(GED_SLEEP_CTL, 1, 5u << 2 | 1u << 5), GedAction::PowerOff);
    EXPECT_EQ(ged_store(GED_SLEEP_CTL, 1, 5u << 2), GedAction::None);            // no SLP_EN
    EXPECT_EQ(ged_store(GED_SLEEP_CTL, 1, 3u << 2 | 1u << 5), GedAction::None);  // S3: not a power-off
    EXPECT_EQ(ged_store(GED_RESET, 1, 0x42), GedAction::Reset);
    EXPECT_EQ(ged_store(GED_RESET, 1, 0x41), GedAction::None);
    EXPECT_EQ(ged_store(GED_RESET + 1, 1, 0x42), GedAction::None);
    EXPECT_TRUE(is_ged(0x100E'0000));
    EXPECT_FALSE(is_ged(0x100F'0000));
}

TEST(LaLvzBoard, MailBuffersThenAnIpiStartASecondary) {
    IpiCore cores[2];
    const u64 entry = 0x1'2345'6788ull;
    // MBUF_SEND to core 1, buffer 0: the high word (word 1) first, then the low one.
    for (u32 half : {1u, 0u}) {
        const u64 v = (entry >> (32 * half)) << 32 | 1ull << 31 | 1ull << 16 | u64(half) << 2;
        EXPECT_EQ(iocsr_access(cores, 2, 0, true, IPI_MBUF_SEND, 8, v).kind, IocsrOutcome::Kind::Done);
    }
    EXPECT_EQ(cores[1].mbuf[0], entry);
    EXPECT_EQ(cores[0].mbuf[0], 0u);
    // IPI_SEND to core 1, vector 0: raised there; the vCPU decides that it is a start.
    const IocsrOutcome sent = iocsr_access(cores, 2, 0, true, IPI_SEND, 4, 1u << 16);
    EXPECT_EQ(sent.kind, IocsrOutcome::Kind::IpiSent);
    EXPECT_EQ(sent.target, 1u);
    EXPECT_EQ(cores[1].status, 1u);
    // Core 1 reads its own mail buffer and status, clears the status.
    EXPECT_EQ(iocsr_access(cores, 2, 1, false, IPI_MBUF0, 8, 0).value, entry);
    EXPECT_EQ(iocsr_access(cores, 2, 1, false, IPI_MBUF0 + 4, 4, 0).value, entry >> 32);
    EXPECT_EQ(iocsr_access(cores, 2, 1, false, IPI_STATUS, 4, 0).value, 1u);
    iocsr_access(cores, 2, 1, true, IPI_CLEAR, 4, 1);
    EXPECT_EQ(cores[1].status, 0u);
}

TEST(LaLvzBoard, WhatTheBlockDoesNotHaveIsRefused) {
    IpiCore cores[2];
    // A core the VM does not have, an address outside the block, a read of a write-only register.
    EXPECT_EQ(iocsr_access(cores, 2, 0, true, IPI_SEND, 4, 2u << 16).kind, IocsrOutcome::Kind::Refused);
    EXPECT_EQ(iocsr_access(cores, 2, 0, true, IPI_MBUF_SEND, 8, 5ull << 16).kind, IocsrOutcome::Kind::Refused);
    EXPECT_EQ(iocsr_access(cores, 2, 0, false, 0x8, 4, 0).kind, IocsrOutcome::Kind::Refused); // features
    EXPECT_EQ(iocsr_access(cores, 2, 0, false, IPI_SEND, 4, 0).kind, IocsrOutcome::Kind::Refused);
    EXPECT_EQ(iocsr_access(cores, 2, 0, false, IPI_MBUF0 + 2, 4, 0).kind, IocsrOutcome::Kind::Refused); // misaligned
    EXPECT_EQ(cores[0].status | cores[1].status, 0u);
}

// Two vCPUs on two physical CPUs: one keeps sending vector 1 to the other, which keeps setting and
// clearing its own vector 2 and clears vector 1 each time it sees it. Every update of a status
// word must be atomic: a set racing with a clear must neither be lost (the sender would wait for
// ever) nor bring a cleared vector back (the receiver would count it twice). lvz-ipi counted a
// vector twice under load before the block's status updates were atomic.
#include <atomic>
#include <thread>
TEST(LaLvzBoard, StatusUpdatesFromTwoCpusAreNeitherLostNorRepeated) {
    IpiCore cores[2];
    iocsr_access(cores, 2, 1, true, IPI_EN, 4, ~0u);
    constexpr u32 ROUNDS = 20000;
    std::atomic<u32> taken{0};
    std::atomic<bool> stop{false};
    u32 lost = 0;
    std::thread receiver([&] {
        while (!stop.load(std::memory_order_acquire)) {
            iocsr_access(cores, 2, 1, true, IPI_SET, 4, 1u << 2);
            iocsr_access(cores, 2, 1, true, IPI_CLEAR, 4, 1u << 2);
            if (iocsr_access(cores, 2, 1, false, IPI_STATUS, 4, 0).value & 2) {
                iocsr_access(cores, 2, 1, true, IPI_CLEAR, 4, 2);
                taken.fetch_add(1, std::memory_order_acq_rel);
            }
        }
    });
    for (u32 i = 0; i < ROUNDS; ++i) {
        const u32 want = i + 1;
        iocsr_access(cores, 2, 0, true, IPI_SEND, 4, 1u << 16 | 1);
        u64 spins = 0;
        while (taken.load(std::memory_order_acquire) < want && ++spins < 20'000'000) {
        }
        if (taken.load(std::memory_order_acquire) < want) { // lost (a second is plenty): stop here
            ++lost;
            break;
        }
    }
    stop.store(true, std::memory_order_release);
    receiver.join();
    EXPECT_EQ(lost, 0u);
    EXPECT_LE(taken.load(), ROUNDS); // nothing counted twice (once lost, fewer)
    EXPECT_EQ(taken.load(), lost ? taken.load() : ROUNDS);
}
