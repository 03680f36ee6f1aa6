// CPU bring-up and power-off through PSCI (DEN0022D 5.6 CPU_ON, 5.10 SYSTEM_OFF) and fatal EL2
// exceptions.
#include "arch.hpp"
#include "abi/smccc.hpp"
#include "kernel/log.hpp"
#include "kernel/percpu.hpp"

namespace arch {

bool g_psci_use_hvc = false; // set from the host DTB's /psci method

namespace {
u64 firmware_call(u64 fid, u64 a1, u64 a2, u64 a3) {
    register u64 x0 asm("x0") = fid;
    register u64 x1 asm("x1") = a1;
    register u64 x2 asm("x2") = a2;
    register u64 x3 asm("x3") = a3;
    if (g_psci_use_hvc)
        asm volatile("hvc #0" : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3)::"memory");
    else
        asm volatile("smc #0" : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3)::"memory");
    return x0;
}
} // namespace

FirmwareWorkarounds firmware_workarounds() {
    FirmwareWorkarounds w;
    w.conduit_hvc = g_psci_use_hvc;
    // PSCI_FEATURES exists from PSCI 1.0 (DEN0022 5.1.14); before that, SMCCC is 1.0 and has no
    // ARCH_FEATURES. A firmware that does not know an id must answer NOT_SUPPORTED, but one that
    // is not SMCCC 1.1 may not even do that (QEMU without EL3 UNDEFs non-PSCI ids): so only ask
    // what the previous answer proved safe.
    if (i64(firmware_call(cxv_abi::PSCI_VERSION, 0, 0, 0)) < 0x10000) return w;
    if (i64(firmware_call(cxv_abi::PSCI_FEATURES, cxv_abi::SMCCC_VERSION, 0, 0)) != cxv_abi::PSCI_SUCCESS) return w;
    if (i64(firmware_call(cxv_abi::SMCCC_VERSION, 0, 0, 0)) < 0x10001) return w;
    w.wa1 = i64(firmware_call(0x80000001, 0x80008000, 0, 0)) == 0; // ARCH_FEATURES(WORKAROUND_1)
    w.wa3 = i64(firmware_call(0x80000001, 0x80003FFF, 0, 0)) == 0; // ARCH_FEATURES(WORKAROUND_3)
    return w;
}

Result<void> start_cpu(u64 hw_id, u64 entry, u64 arg) {
    i64 r = i64(firmware_call(cxv_abi::PSCI_CPU_ON_64, hw_id, entry, arg));
    if (r == cxv_abi::PSCI_SUCCESS) return {};
    if (r == cxv_abi::PSCI_ALREADY_ON) return Error::Busy;
    return Error::Unsupported;
}

// PSCI SYSTEM_OFF (DEN0022D 5.10): does not return when the firmware powers the machine off.
void system_off() { firmware_call(cxv_abi::PSCI_SYSTEM_OFF, 0, 0, 0); }

} // namespace arch

// Called from boot.S for any exception taken at EL2 itself: always a cxvisor bug.
extern "C" [[noreturn]] void el2_exception(u64 kind, const u64* regs) {
    static const char* const names[] = {"sync (SP_EL0)", "IRQ (SP_EL0)", "FIQ (SP_EL0)", "SError (SP_EL0)",
                                        "sync", "IRQ", "FIQ", "SError"};
    panic("unexpected EL2 exception %s: ESR_EL2=%lx ELR_EL2=%lx FAR_EL2=%lx x0=%lx x1=%lx x30=%lx",
          names[kind & 7], read_sysreg(esr_el2), read_sysreg(elr_el2), read_sysreg(far_el2), regs[0], regs[1],
          regs[30]);
}
