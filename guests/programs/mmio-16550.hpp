// The mmio guest's 16550 cases that are the same on every ISA whose console UART is a 16550
// (mmio-riscv64.cpp, mmio-x86_64.cpp, mmio-loongarch64.cpp): the registers read back through the ISA's byte store and
// zero-extending byte load (`sb`, `lbu`, named by `how` in the messages): SCR, MCR (bits 4:0
// kept), the divisor latches behind LCR.DLAB, and IER untouched by the DLM write.
#pragma once
#include "rt.hpp"

template <typename Sb, typename Lbu>
void check_16550_register_file(uint64_t u, Sb sb, Lbu lbu, const char* how) {
    const uint64_t DLL = u + 0, IER_DLM = u + 1, LCR = u + 3, MCR = u + 4, SCR = u + 7;
    sb(SCR, 0xA5);
    uint64_t v = lbu(SCR);
    rt::check(v == 0xA5, "SCR %s 0xa5 (got 0x%lx)", how, v);
    const uint64_t lcr = lbu(LCR), ier = lbu(IER_DLM);
    sb(MCR, 0xFF);
    v = lbu(MCR);
    rt::check(v == 0x1F, "MCR keeps bits 4:0 of 0xff (got 0x%lx)", v);
    sb(MCR, 0);
    sb(LCR, uint8_t(0x80 | lcr)); // DLAB: offsets 0 and 1 are the divisor latches
    sb(DLL, 0x12);
    sb(IER_DLM, 0x34);
    const uint64_t dll = lbu(DLL), dlm = lbu(IER_DLM);
    sb(LCR, uint8_t(lcr));
    rt::check(dll == 0x12 && dlm == 0x34, "divisor latches under DLAB read back 0x12 0x34 (got 0x%lx 0x%lx)", dll, dlm);
    v = lbu(IER_DLM);
    rt::check(v == ier, "IER unchanged by the DLM write (0x%lx, got 0x%lx)", ier, v);
}

// Wider accesses, aligned, to the byte-wide device: each refused with the ISA's fault for an
// access nothing answers (`fault`: its name, and what the probe's esr/far mean there), and SCR
// (holding `scr_value`) untouched by the refused writes.
template <typename Lbu>
void check_16550_refuses_wide(uint64_t u, Lbu lbu, uint64_t scr_value, const char* fault) {
    struct Wide {
        uint64_t addr;
        unsigned size;
    };
    const Wide wide[] = {{u + 6, 2}, {u + 4, 4}, {u + 0, 8}}; // MSR, MCR, DLL
    for (const Wide& w : wide) {
        rt::Probe p = rt::probe_read(w.addr, w.size);
        rt::check(rt::is_external_abort(p, w.addr, false), "%u-byte read of %lx -> %s (%lx, %lx)", w.size, w.addr,
                  fault, p.esr, p.far);
        p = rt::probe_write(w.addr, w.size, 0);
        rt::check(rt::is_external_abort(p, w.addr, true), "%u-byte write to %lx -> %s (%lx, %lx)", w.size, w.addr,
                  fault, p.esr, p.far);
    }
    const uint64_t v = lbu(u + 7);
    rt::check(v == scr_value, "SCR untouched by the refused writes (got 0x%lx)", v);
}
