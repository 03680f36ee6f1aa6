// Exceptions taken in cxvisor itself (boot.S cxv_la_exception). cxvisor runs with CRMD.IE = 0 and
// takes its interrupts by polling (kernel/sched.cpp), so an interrupt arrives here only if
// something enabled them: it is handled like a polled one. Every other exception is a cxvisor bug
// and stops it with the exception's code, where (ERA) and what (BADV, BADI), so it can be found.
// LoongArch Reference Manual Vol. 1 v1.10: 6.2 (exception entry), 7.4.5 ESTAT (Ecode [21:16],
// EsubCode [30:22]; table 7-8 lists the codes below).
#include "arch.hpp"
#include "asm_offsets.hpp"
#include "kernel/log.hpp"
#include "trap_names.hpp"

extern "C" char cxv_la_idle_begin[], cxv_la_idle_end[];

namespace {

struct TrapFrame {
    u64 r[32]; // r3 = sp before the exception
    u64 era, prmd;
};
static_assert(sizeof(TrapFrame) == TRAP_FRAME_SIZE);

} // namespace

extern "C" void cxv_la_trap(TrapFrame* f) {
    const u64 estat = la::csr_read<la::CSR_ESTAT>();
    const u32 ecode = (estat >> 16) & 0x3F, esub = (estat >> 22) & 0x1FF;
    if (ecode == 0) { // an interrupt (Ecode 0 = INT)
        // In arch::wfi()'s idle region: end the wait and return with IE = 0 (PRMD.PIE, 7.4.2); the
        // interrupt stays pending for the caller's handle_pending_irqs (boot.S cxv_la_wfi).
        if (f->era >= u64(cxv_la_idle_begin) && f->era <= u64(cxv_la_idle_end)) {
            f->era = u64(cxv_la_idle_end);
            f->prmd &= ~u64(la::CRMD_IE); // PRMD.PIE is bit 2, like CRMD.IE
            return;
        }
        arch::handle_pending_irqs();
        return;
    }
    panic("loongarch64: exception ECODE 0x%x (EsubCode %u: %s) in cxvisor at ERA %lx: BADV %lx BADI %08lx PRMD %lx ra %lx "
          "sp %lx tp %lx a0 %lx",
          ecode, esub, arch::la_exception_name(ecode, esub), f->era, la::csr_read<la::CSR_BADV>(),
          la::csr_read<la::CSR_BADI>(), f->prmd, f->r[1], f->r[3], f->r[2], f->r[4]);
}
