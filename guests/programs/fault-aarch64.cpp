// fault, the aarch64 part: PMU registers, which cxvisor traps (MDCR_EL2.TPM/TPMCR) and answers
// with UNDEF (EC 0x00).
#include "rt.hpp"

extern const uint64_t g_fault_unmapped = 0x10000000, g_fault_beyond_ram = 0x80000000;

void check_trapped_registers() {
    uint64_t before = rt::last_exception().count, v = 0;
    rt::expect_fault();
    asm volatile("mrs %0, pmcr_el0" : "+r"(v)::"memory");
    rt::disarm_fault();
    const rt::ExcRecord& e = rt::last_exception();
    bool taken = e.count != before;
    rt::printf("mrs pmcr_el0: %s ESR=%lx ELR=%lx\n", taken ? "exception" : "no exception", taken ? e.esr : 0,
               taken ? e.elr : 0);
    rt::check(taken && rt::esr_ec(e.esr) == rt::EC_UNKNOWN, "mrs pmcr_el0 -> UNDEF (EC 0x00)");

    before = e.count;
    rt::expect_fault();
    asm volatile("msr pmcr_el0, %0" ::"r"(0ull) : "memory");
    rt::disarm_fault();
    taken = e.count != before;
    rt::printf("msr pmcr_el0: %s ESR=%lx ELR=%lx\n", taken ? "exception" : "no exception", taken ? e.esr : 0,
               taken ? e.elr : 0);
    rt::check(taken && rt::esr_ec(e.esr) == rt::EC_UNKNOWN, "msr pmcr_el0 -> UNDEF (EC 0x00)");
}
