// Traps taken in HS-mode itself (boot.S cxv_hs_trap_vector). cxvisor runs with sstatus.SIE = 0 and
// takes its interrupts as guest exits or by polling (kernel/sched.cpp), so an interrupt arrives
// here only if something enabled them: it is handled like a polled one. Every exception taken in
// HS-mode is a cxvisor bug (a guest's faults reach the vCPU backend's exit vector instead) and
// stops cxvisor with the trap CSRs, so it can be found.
#include "arch.hpp"
#include "asm_offsets.hpp"
#include "kernel/log.hpp"

namespace {

struct HsTrapFrame {
    u64 x[32]; // x0 unused; x2 = sp before the trap
};
static_assert(sizeof(HsTrapFrame) == HS_TRAP_FRAME_SIZE);

// Privileged Spec 20211203, 4.1.9 table 4.2 (scause exception codes).
const char* exception_name(u64 code) {
    static const char* const names[] = {"instruction address misaligned", "instruction access fault",
                                        "illegal instruction", "breakpoint", "load address misaligned",
                                        "load access fault", "store/AMO address misaligned", "store/AMO access fault",
                                        "environment call from U-mode", "environment call from HS-mode",
                                        "environment call from VS-mode", "environment call from M-mode",
                                        "instruction page fault", "load page fault", "reserved",
                                        "store/AMO page fault", "reserved", "reserved", "reserved", "reserved",
                                        "instruction guest-page fault", "load guest-page fault",
                                        "virtual instruction", "store/AMO guest-page fault"};
    return code < sizeof names / sizeof names[0] ? names[code] : "unknown";
}

} // namespace

extern "C" void cxv_hs_trap(HsTrapFrame* f) {
    const u64 scause = csr_read(scause);
    if (i64(scause) < 0) { // interrupt (scause bit XLEN-1, 4.1.9)
        // The handlers may take further traps of their own (none expected): keep the CSRs that
        // SRET needs.
        const u64 sepc = csr_read(sepc), sstatus = csr_read(sstatus);
        arch::handle_pending_irqs();
        csr_write(sstatus, sstatus);
        csr_write(sepc, sepc);
        return;
    }
    panic("unexpected HS-mode exception: scause=%lx (%s) sepc=%lx stval=%lx htval=%lx sstatus=%lx ra=%lx sp=%lx "
          "tp=%lx a0=%lx",
          scause, exception_name(scause), csr_read(sepc), csr_read(stval), csr_read(0x643), csr_read(sstatus),
          f->x[1], f->x[2], f->x[4], f->x[10]);
}
