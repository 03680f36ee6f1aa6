// Guest SBI dispatch of the riscv64 backend (src/arch/riscv64/sbi.hpp), against RISC-V SBI
// Specification v2.0: ids, codes, hart masks, and which calls become exits for the generic levels.
#include "arch/riscv64/sbi.hpp"
#include "abi/sbi.hpp"
#include <gtest/gtest.h>

using namespace arch::rv;
using namespace cxv_abi;
using Kind = SbiAction::Kind;

namespace {
// a0..a5 arguments, a6 = FID, a7 = EID.
SbiAction call(u64 eid, u64 fid, u64 a0 = 0, u64 a1 = 0, u64 a2 = 0, u64 a3 = 0, u64 a4 = 0, u64 a5 = 0,
               u32 vcpus = 4) {
    const u64 regs[8] = {a0, a1, a2, a3, a4, a5, fid, eid};
    return sbi_dispatch(regs, vcpus);
}
void expect_answer(const SbiAction& a, i64 error, u64 value = 0) {
    EXPECT_EQ(a.kind, Kind::Answer);
    EXPECT_EQ(a.error, error);
    EXPECT_EQ(a.value, value);
}
} // namespace

TEST(RvSbi, Base) {
    expect_answer(call(SBI_EXT_BASE, SBI_BASE_GET_SPEC_VERSION), SBI_SUCCESS, 0x2000000);
    expect_answer(call(SBI_EXT_BASE, SBI_BASE_GET_IMPL_ID), SBI_SUCCESS, SBI_IMPL_ID_CXVISOR);
    EXPECT_GT(SBI_IMPL_ID_CXVISOR, 10u); // not one of the implementation ids the spec assigns
    expect_answer(call(SBI_EXT_BASE, SBI_BASE_GET_IMPL_VERSION), SBI_SUCCESS, u64(VERSION_MAJOR) << 16 | VERSION_MINOR);
    for (u64 eid : {SBI_EXT_BASE, SBI_EXT_TIME, SBI_EXT_IPI, SBI_EXT_RFENCE, SBI_EXT_HSM, SBI_EXT_SRST, SBI_EXT_DBCN,
                    CXV_SBI_EID, SBI_EXT_LEGACY_PUTCHAR, SBI_EXT_LEGACY_GETCHAR, SBI_EXT_LEGACY_SET_TIMER,
                    SBI_EXT_LEGACY_SHUTDOWN})
        expect_answer(call(SBI_EXT_BASE, SBI_BASE_PROBE_EXTENSION, eid), SBI_SUCCESS, 1);
    for (u64 eid : {u64(0x504D55) /* PMU */, u64(0x535553) /* SUSP */, u64(0x43505043) /* CPPC */, u64(0x04), u64(0x0A000000)})
        expect_answer(call(SBI_EXT_BASE, SBI_BASE_PROBE_EXTENSION, eid), SBI_SUCCESS, 0);
    expect_answer(call(SBI_EXT_BASE, SBI_BASE_GET_MVENDORID), SBI_SUCCESS, 0);
    expect_answer(call(SBI_EXT_BASE, 7), SBI_ERR_NOT_SUPPORTED);
}

TEST(RvSbi, UnknownExtensionsAndFunctions) {
    expect_answer(call(0x504D55, 0), SBI_ERR_NOT_SUPPORTED);
    expect_answer(call(0x12345678, 3), SBI_ERR_NOT_SUPPORTED);
    expect_answer(call(SBI_EXT_TIME, 1), SBI_ERR_NOT_SUPPORTED);
    expect_answer(call(SBI_EXT_IPI, 1), SBI_ERR_NOT_SUPPORTED);
    expect_answer(call(SBI_EXT_HSM, 4), SBI_ERR_NOT_SUPPORTED);
    expect_answer(call(SBI_EXT_SRST, 1), SBI_ERR_NOT_SUPPORTED);
    expect_answer(call(SBI_EXT_DBCN, SBI_DBCN_READ, 16, 0x8000'0000), SBI_ERR_NOT_SUPPORTED);
    // The hfence.* functions of RFENCE are for harts with the H extension; vCPUs have none.
    for (u64 fid = SBI_RFENCE_HFENCE_GVMA_VMID; fid <= SBI_RFENCE_HFENCE_VVMA; ++fid)
        expect_answer(call(SBI_EXT_RFENCE, fid, 1, 0), SBI_ERR_NOT_SUPPORTED);
    // Legacy calls that take hart masks in guest memory: a0 = -2, legacy conduit.
    const SbiAction legacy_ipi = call(0x04, 0, 0x8000'0000);
    expect_answer(legacy_ipi, SBI_ERR_NOT_SUPPORTED);
    EXPECT_EQ(legacy_ipi.conduit, SbiConduit::Legacy);
}

TEST(RvSbi, TimerWritesTheDeadline) {
    SbiAction a = call(SBI_EXT_TIME, SBI_TIME_SET_TIMER, 0x1234'5678'9abc);
    EXPECT_EQ(a.kind, Kind::SetTimer);
    EXPECT_EQ(a.timer, 0x1234'5678'9abcull);
    EXPECT_EQ(a.error, SBI_SUCCESS);
    EXPECT_EQ(a.conduit, SbiConduit::Sbi);
    a = call(SBI_EXT_LEGACY_SET_TIMER, 0, ~u64(0));
    EXPECT_EQ(a.kind, Kind::SetTimer);
    EXPECT_EQ(a.timer, ~u64(0));
    EXPECT_EQ(a.conduit, SbiConduit::Legacy);
}

TEST(RvSbi, IpiHartMasks) {
    SbiAction a = call(SBI_EXT_IPI, SBI_IPI_SEND_IPI, 0b101, 0);
    EXPECT_EQ(a.kind, Kind::SendIpi);
    EXPECT_EQ(a.targets, 0b101u);
    a = call(SBI_EXT_IPI, SBI_IPI_SEND_IPI, 0b11, 2); // harts 2 and 3
    EXPECT_EQ(a.targets, 0b1100u);
    a = call(SBI_EXT_IPI, SBI_IPI_SEND_IPI, 0, ~u64(0)); // base -1: every hart, mask ignored
    EXPECT_EQ(a.kind, Kind::SendIpi);
    EXPECT_EQ(a.targets, 0b1111u);
    a = call(SBI_EXT_IPI, SBI_IPI_SEND_IPI, 0, 1); // nobody
    EXPECT_EQ(a.kind, Kind::SendIpi);
    EXPECT_EQ(a.targets, 0u);
    // A hart the VM does not have: INVALID_PARAM, nothing sent.
    expect_answer(call(SBI_EXT_IPI, SBI_IPI_SEND_IPI, 0b10000, 0), SBI_ERR_INVALID_PARAM);
    expect_answer(call(SBI_EXT_IPI, SBI_IPI_SEND_IPI, 1, 4), SBI_ERR_INVALID_PARAM);
    expect_answer(call(SBI_EXT_IPI, SBI_IPI_SEND_IPI, 1, ~u64(0) - 1), SBI_ERR_INVALID_PARAM); // no wrap to hart 0
    expect_answer(call(SBI_EXT_IPI, SBI_IPI_SEND_IPI, u64(1) << 63, 0), SBI_ERR_INVALID_PARAM);
    // 32 vCPUs: base -1 covers all of them.
    EXPECT_EQ(call(SBI_EXT_IPI, SBI_IPI_SEND_IPI, 0, ~u64(0), 0, 0, 0, 0, 32).targets, ~0u);
}

TEST(RvSbi, RemoteFencesGoToTheTargets) {
    for (u64 fid : {SBI_RFENCE_FENCE_I, SBI_RFENCE_SFENCE_VMA, SBI_RFENCE_SFENCE_VMA_ASID}) {
        SCOPED_TRACE(fid);
        SbiAction a = call(SBI_EXT_RFENCE, fid, 0b10, 0, 0x1000, 0x2000, 7);
        EXPECT_EQ(a.kind, Kind::RemoteFence);
        EXPECT_EQ(a.targets, 0b10u);
        EXPECT_EQ(a.error, SBI_SUCCESS);
        expect_answer(call(SBI_EXT_RFENCE, fid, 0b1, 9), SBI_ERR_INVALID_PARAM);
    }
}

TEST(RvSbi, HartStateManagement) {
    SbiAction a = call(SBI_EXT_HSM, SBI_HSM_HART_START, 2, 0x8020'0000, 0x8220'0000);
    EXPECT_EQ(a.kind, Kind::Exit);
    EXPECT_FALSE(a.answer_now);
    EXPECT_EQ(a.exit.kind, ExitKind::CpuUp);
    EXPECT_EQ(a.exit.args[0], 2u);
    EXPECT_EQ(a.exit.args[1], 0x8020'0000u);
    EXPECT_EQ(a.exit.args[2], 0x8220'0000u);
    a = call(SBI_EXT_HSM, SBI_HSM_HART_STOP);
    EXPECT_EQ(a.exit.kind, ExitKind::CpuDown);
    a = call(SBI_EXT_HSM, SBI_HSM_HART_GET_STATUS, 3);
    EXPECT_EQ(a.exit.kind, ExitKind::CpuQuery);
    EXPECT_EQ(a.exit.args[0], 3u);
    // Retentive suspend = WFI: answered 0 now, the vCPU blocks until an interrupt is pending.
    a = call(SBI_EXT_HSM, SBI_HSM_HART_SUSPEND, 0, 0x8020'0000, 5);
    EXPECT_EQ(a.kind, Kind::Exit);
    EXPECT_EQ(a.exit.kind, ExitKind::Halt);
    EXPECT_TRUE(a.answer_now);
    EXPECT_EQ(a.error, SBI_SUCCESS);
    expect_answer(call(SBI_EXT_HSM, SBI_HSM_HART_SUSPEND, SBI_HSM_SUSPEND_NON_RETENTIVE), SBI_ERR_NOT_SUPPORTED);
    expect_answer(call(SBI_EXT_HSM, SBI_HSM_HART_SUSPEND, 0x10000000), SBI_ERR_NOT_SUPPORTED); // platform retentive
    expect_answer(call(SBI_EXT_HSM, SBI_HSM_HART_SUSPEND, 0x00000001), SBI_ERR_INVALID_PARAM); // reserved
    expect_answer(call(SBI_EXT_HSM, SBI_HSM_HART_SUSPEND, 0x80000001), SBI_ERR_INVALID_PARAM);
    // The generic levels' answers in SBI terms.
    EXPECT_EQ(sbi_power_error(PowerResult::Success), SBI_SUCCESS);
    EXPECT_EQ(sbi_power_error(PowerResult::AlreadyOn), SBI_ERR_ALREADY_AVAILABLE);
    EXPECT_EQ(sbi_power_error(PowerResult::InvalidParameters), SBI_ERR_INVALID_PARAM);
    EXPECT_EQ(sbi_power_error(PowerResult::InvalidAddress), SBI_ERR_INVALID_ADDRESS);
    EXPECT_EQ(sbi_power_error(PowerResult::Denied), SBI_ERR_DENIED);
    EXPECT_EQ(sbi_power_error(PowerResult::InternalFailure), SBI_ERR_FAILED);
    EXPECT_EQ(sbi_hsm_state(CpuPowerState::On), 0);
    EXPECT_EQ(sbi_hsm_state(CpuPowerState::Off), 1);
    EXPECT_EQ(sbi_hsm_state(CpuPowerState::OnPending), 2);
}

TEST(RvSbi, SystemReset) {
    SbiAction a = call(SBI_EXT_SRST, SBI_SRST_SYSTEM_RESET, SBI_SRST_SHUTDOWN, 0);
    EXPECT_EQ(a.exit.kind, ExitKind::SystemDown);
    EXPECT_EQ(call(SBI_EXT_SRST, SBI_SRST_SYSTEM_RESET, SBI_SRST_COLD_REBOOT, 1).exit.kind, ExitKind::SystemReset);
    EXPECT_EQ(call(SBI_EXT_SRST, SBI_SRST_SYSTEM_RESET, SBI_SRST_WARM_REBOOT, 0xE0000000).exit.kind, ExitKind::SystemReset);
    expect_answer(call(SBI_EXT_SRST, SBI_SRST_SYSTEM_RESET, 3, 0), SBI_ERR_INVALID_PARAM);
    expect_answer(call(SBI_EXT_SRST, SBI_SRST_SYSTEM_RESET, 0xF0000000, 0), SBI_ERR_NOT_SUPPORTED);
    expect_answer(call(SBI_EXT_SRST, SBI_SRST_SYSTEM_RESET, 0, 2), SBI_ERR_INVALID_PARAM); // reserved reason
    EXPECT_EQ(call(SBI_EXT_LEGACY_SHUTDOWN, 0).exit.kind, ExitKind::SystemDown);
}

TEST(RvSbi, ConsoleCallsTakeThePutcPath) {
    SbiAction a = call(SBI_EXT_DBCN, SBI_DBCN_WRITE_BYTE, 0x141); // only the low byte counts
    EXPECT_EQ(a.kind, Kind::Exit);
    EXPECT_EQ(a.exit.kind, ExitKind::Hypercall);
    EXPECT_EQ(a.exit.nr, HC_NR_PUTC);
    EXPECT_EQ(a.exit.args[0], 0x41u);
    EXPECT_EQ(a.conduit, SbiConduit::Sbi);
    EXPECT_EQ(a.exit.detail, SBI_EXT_DBCN << 32 | SBI_DBCN_WRITE_BYTE);
    a = call(SBI_EXT_LEGACY_PUTCHAR, 0, 'x');
    EXPECT_EQ(a.exit.nr, HC_NR_PUTC);
    EXPECT_EQ(a.exit.args[0], u64('x'));
    EXPECT_EQ(a.conduit, SbiConduit::Legacy);
    a = call(SBI_EXT_LEGACY_GETCHAR, 0);
    expect_answer(a, -1);
    EXPECT_EQ(a.conduit, SbiConduit::Legacy);
    // DBCN write: the buffer is read by the generic level (ConsoleWrite), not by the backend.
    a = call(SBI_EXT_DBCN, SBI_DBCN_WRITE, 12, 0x8010'0000, 0);
    EXPECT_EQ(a.kind, Kind::Exit);
    EXPECT_FALSE(a.answer_now);
    EXPECT_EQ(a.exit.kind, ExitKind::ConsoleWrite);
    EXPECT_EQ(a.exit.args[0], 12u);
    EXPECT_EQ(a.exit.gpa, 0x8010'0000u);
    EXPECT_EQ(a.conduit, SbiConduit::Sbi);
    expect_answer(call(SBI_EXT_DBCN, SBI_DBCN_WRITE, 12, 0x8010'0000, 1), SBI_ERR_INVALID_PARAM);
    expect_answer(call(SBI_EXT_DBCN, SBI_DBCN_WRITE, 0, 0x1, 0), SBI_SUCCESS, 0); // len 0: no exit
}

TEST(RvSbi, CxvisorHypercalls) {
    SbiAction a = call(CXV_SBI_EID, HC_NR_ECHO, 1, 2, 3, 4, 5, 6);
    EXPECT_EQ(a.kind, Kind::Exit);
    EXPECT_EQ(a.conduit, SbiConduit::Cxv);
    EXPECT_FALSE(a.answer_now);
    EXPECT_EQ(a.exit.kind, ExitKind::Hypercall);
    EXPECT_EQ(a.exit.nr, HC_NR_ECHO);
    for (u32 i = 0; i < 6; ++i) EXPECT_EQ(a.exit.args[i], i + 1);
    EXPECT_EQ(a.exit.detail, 0x0A435856'00000002ull);
    // Unknown numbers go to the generic level too, which answers CXV_NOT_SUPPORTED.
    EXPECT_EQ(call(CXV_SBI_EID, 999).exit.nr, 999u);
}
