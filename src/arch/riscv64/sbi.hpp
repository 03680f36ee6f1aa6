// The SBI that cxvisor implements for its riscv64 guests (a VS-mode ECALL, scause 10): a pure
// dispatcher from the guest's a0..a7 to either an answer the vCPU backend gives itself or an
// ExitReason for the generic levels. Pure: any CPU, no locks; host unit tests check every call
// (tests/unit/arch/rv_sbi_test.cpp). The vCPU (vcpu.cpp) carries out the action.
//
// RISC-V SBI Specification v2.0 (abi/sbi.hpp lists ids and codes):
//   BASE (ch. 4): spec version 2.0, cxvisor's own implementation id, probe_extension.
//   TIME (ch. 6): set_timer writes vstimecmp (the vCPU needs Sstc; without it it is not created).
//   IPI (ch. 7): sets the targets' supervisor software-pending bit through the VM's interrupt
//     model and kicks them.
//   RFENCE (ch. 8): remote fence.i / sfence.vma / sfence.vma_asid are delivered conservatively:
//     each target flushes its whole VS-stage TLB and instruction cache before it next runs, and
//     running targets are kicked out so that happens soon (the call returns before they did).
//     The hfence.* functions are for harts with the H extension, which vCPUs do not have.
//   HSM (ch. 9): hart_start/stop/get_status → CpuUp/CpuDown/CpuQuery; retentive hart_suspend =
//     Halt (WFI); non-retentive and platform-specific suspend types are NOT_SUPPORTED.
//   SRST (ch. 10): shutdown → SystemDown, cold/warm reboot → SystemReset.
//   DBCN (ch. 12): write_byte → the HC_NR_PUTC path; write(len, lo, hi) → a ConsoleWrite exit:
//     level 2 reads the buffer through the VM's checked guest-memory path (Vm::read_guest) and
//     prints a prefix of it, up to the end of its page (a partial write the spec allows: the
//     guest calls again for the rest); a buffer that is not readable guest memory is
//     INVALID_PARAM. read is NOT_SUPPORTED (input comes through the emulated UART).
//   Legacy (ch. 5): set_timer, console_putchar (HC_NR_PUTC), console_getchar (always -1),
//     shutdown; the others (IPI and fences with hart masks in guest memory) are NOT_SUPPORTED.
//   cxvisor's calls: EID CXV_SBI_EID, FID = HC_NR_*, args a0..a5 → ExitReason{Hypercall}.
//   Anything else: SBI_ERR_NOT_SUPPORTED.
// The boot convention makes hart id i = vCPU i of the VM.
#pragma once
#include "vcpu/exit.hpp"

namespace arch::rv {

// How a call's results are written back.
enum class SbiConduit : u8 {
    Sbi,    // a0 = error, a1 = value; everything else preserved
    Legacy, // a0 = the one result (legacy extensions, SBI ch. 5)
    Cxv,    // cxvisor's calls: a0..a3 = the hypercall's x0..x3 (abi/hypercall.hpp)
};

struct SbiAction {
    enum class Kind : u8 {
        Answer,      // write error/value now, step over the ECALL, re-enter
        Exit,        // return `exit` to the generic levels; if answer_now, write error/value first
                     // (Halt, SystemDown...), else the result comes through set_*_result
        SetTimer,    // vstimecmp = timer, then answer error/value
        SendIpi,     // raise the software interrupt of `targets`, kick them, then answer
        RemoteFence, // `targets` flush VS-stage TLB and instruction cache before they next run; kick them; answer
    };
    Kind kind = Kind::Answer;
    SbiConduit conduit = SbiConduit::Sbi;
    bool answer_now = true;
    i64 error = 0;
    u64 value = 0;
    ExitReason exit{};
    u64 timer = 0;
    u32 targets = 0; // vCPU bitmask (bit i = vCPU i)
};

// regs: a0..a7 at the ECALL. vcpu_count: vCPUs of the VM (hart ids 0..count-1); at most 32.
SbiAction sbi_dispatch(const u64 (&regs)[8], u32 vcpu_count);

// Results the generic levels hand back (set_power_result / set_power_state_result) in SBI terms.
i64 sbi_power_error(PowerResult r);
i64 sbi_hsm_state(CpuPowerState s);

} // namespace arch::rv
