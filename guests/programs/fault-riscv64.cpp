// fault, the riscv64 part: hypervisor CSRs, which VS-mode may not access: the hart raises a
// virtual-instruction exception (RISC-V Privileged Spec 20211203, 8.6.1) and cxvisor gives the
// guest the illegal instruction (scause 2) a hart without H would, with the instruction in stval.
#include "rt.hpp"

extern const uint64_t g_fault_unmapped = 0x30000000, g_fault_beyond_ram = 0x90000000;

namespace {
void check_illegal(const char* what, uint32_t word, void (*access)()) {
    uint64_t before = rt::last_exception().count;
    rt::expect_fault();
    access();
    rt::disarm_fault();
    const rt::ExcRecord& e = rt::last_exception();
    bool taken = e.count != before;
    rt::printf("%s: %s scause=%lx stval=%lx sepc=%lx\n", what, taken ? "exception" : "no exception", taken ? e.esr : 0,
               taken ? e.far : 0, taken ? e.elr : 0);
    rt::check(taken && e.esr == 2 && (e.far == word || e.far == 0), "%s -> illegal instruction (scause 2)", what);
}
} // namespace

void check_trapped_registers() {
    check_illegal("csrr a0, hstatus", 0x60002573, [] { asm volatile(".word 0x60002573" ::: "a0", "memory"); });
    check_illegal("csrw hgatp, zero", 0x68001073, [] { asm volatile(".word 0x68001073" ::: "memory"); });
}
