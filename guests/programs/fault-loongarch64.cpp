// fault, the loongarch64 part: the LVZ host-mode CSRs (GSTAT 0x50, GCFG 0x51, GINTC 0x52, GCNTC
// 0x53: LA virtualization extension), which a guest may not reach: its CSR access exits to cxvisor
// (GSPR, measured on the LVZ QEMU) and cxvisor gives the guest the instruction-not-exist exception
// (INE, Ecode 0xD: LA Vol. 1 v1.10 6.2.1 table 6-6) that a CPU without LVZ has no CSR behind.
#include "rt.hpp"

extern const uint64_t g_fault_unmapped = 0x30000000, g_fault_beyond_ram = 0x02000000;

namespace {
void check_ine(const char* what, void (*access)()) {
    uint64_t before = rt::last_exception().count;
    rt::expect_fault();
    access();
    rt::disarm_fault();
    const rt::ExcRecord& e = rt::last_exception();
    bool taken = e.count != before;
    rt::printf("%s: %s esr=%lx ERA=%lx\n", what, taken ? "exception" : "no exception", taken ? e.esr : 0,
               taken ? e.elr : 0);
    rt::check(taken && e.esr == rt::esr_code(rt::ECODE_INE), "%s -> INE (Ecode 0xd)", what);
}
} // namespace

void check_trapped_registers() {
    check_ine("csrrd GSTAT", [] { asm volatile("csrrd $a0, 0x50" ::: "$a0", "memory"); });
    check_ine("csrwr GCFG", [] { asm volatile("move $a0, $zero\n csrwr $a0, 0x51" ::: "$a0", "memory"); });
    check_ine("csrxchg GINTC", [] { asm volatile("move $a0, $zero\n move $a1, $zero\n csrxchg $a0, $a1, 0x52" ::: "$a0", "$a1", "memory"); });
}
