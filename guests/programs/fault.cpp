// fault: accesses outside the VM's memory map get a synchronous external abort (EC 0x25,
// DFSC 0x10) at VBAR_EL1 + 0x200, and a trapped PMU register gets UNDEF (EC 0x00). The guest
// survives both and keeps running.
#include "rt.hpp"

namespace {
void check_abort(uint64_t addr, bool write) {
    rt::Probe p = write ? rt::probe_write(addr, 4, 0xC0FFEE) : rt::probe_read(addr, 4);
    rt::printf("%s %lx: %s ESR=%lx (EC %x DFSC %x WnR %lu) FAR=%lx\n", write ? "write" : "read ",
               addr, p.taken ? "exception" : "no exception", p.esr, rt::esr_ec(p.esr),
               rt::esr_dfsc(p.esr), (p.esr >> 6) & 1, p.far);
    rt::check(rt::is_external_abort(p, addr, write), "%s %lx -> external abort",
              write ? "write" : "read", addr);
}
} // namespace

void guest_main() {
    rt::test_start("fault");
    check_abort(0x10000000, false); // nothing mapped there
    check_abort(0x10000000, true);
    check_abort(0x80000000, false); // beyond the VM's RAM
    check_abort(0x80000000, true);

    // PMU registers: cxvisor traps them (MDCR_EL2.TPM/TPMCR) and injects UNDEF.
    uint64_t before = rt::last_exception().count, v = 0;
    rt::expect_fault();
    asm volatile("mrs %0, pmcr_el0" : "+r"(v)::"memory");
    rt::disarm_fault();
    const rt::ExcRecord& e = rt::last_exception();
    bool taken = e.count != before;
    rt::printf("mrs pmcr_el0: %s ESR=%lx ELR=%lx\n", taken ? "exception" : "no exception",
               taken ? e.esr : 0, taken ? e.elr : 0);
    rt::check(taken && rt::esr_ec(e.esr) == rt::EC_UNKNOWN, "mrs pmcr_el0 -> UNDEF (EC 0x00)");

    before = e.count;
    rt::expect_fault();
    asm volatile("msr pmcr_el0, %0" ::"r"(0ull) : "memory");
    rt::disarm_fault();
    taken = e.count != before;
    rt::printf("msr pmcr_el0: %s ESR=%lx ELR=%lx\n", taken ? "exception" : "no exception",
               taken ? e.esr : 0, taken ? e.elr : 0);
    rt::check(taken && rt::esr_ec(e.esr) == rt::EC_UNKNOWN, "msr pmcr_el0 -> UNDEF (EC 0x00)");

    rt::printf("survived\n");
}
