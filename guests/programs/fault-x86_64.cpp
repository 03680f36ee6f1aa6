// fault, the x86_64 part: a port with no device reads all ones and drops writes; MSRs cxvisor does
// not emulate (VM_CR, VM_HSAVE_PA, and an MSR no CPU has): RDMSR and WRMSR raise #GP(0) in the
// guest as on a CPU without them (APM vol. 3, "RDMSR": #GP for an unimplemented MSR).
#include "rt.hpp"

extern const uint64_t g_fault_unmapped = 0x30000000, g_fault_beyond_ram = 0x02000000;

namespace {
void check_gp(const char* what, uint32_t msr, bool write) {
    const uint64_t before = rt::last_exception().count;
    rt::expect_fault();
    if (write)
        asm volatile("leaq 1f(%%rip), %%r11\n\tmovq %%r11, (%0)\n\twrmsr\n1:" ::"r"(rt::fault_resume_slot()), "c"(msr),
                     "a"(0), "d"(0)
                     : "r11", "memory");
    else
        asm volatile("leaq 1f(%%rip), %%r11\n\tmovq %%r11, (%0)\n\trdmsr\n1:" ::"r"(rt::fault_resume_slot()), "c"(msr)
                     : "rax", "rdx", "r11", "memory");
    rt::disarm_fault();
    const rt::ExcRecord& e = rt::last_exception();
    const bool taken = e.count != before;
    rt::printf("%s: %s vector=%lu error=%lx rip=%lx\n", what, taken ? "exception" : "no exception", taken ? e.esr : 0,
               taken ? e.far : 0, taken ? e.elr : 0);
    rt::check(taken && e.esr == rt::VEC_GP && e.far == 0, "%s -> #GP(0)", what);
}
} // namespace

void check_trapped_registers() {
    // A port no device of the VM decodes: all ones, as on a PC's bus (cxvisor reports it).
    const uint8_t com2_lsr = rt::inb(0x2FD);
    rt::check(com2_lsr == 0xFF, "inb from port 2fd (no COM2) reads ff (got %x)", com2_lsr);
    rt::outb(0x2F8, 'x'); // dropped
    check_gp("rdmsr c0010114 (VM_CR)", 0xC0010114, false);
    check_gp("wrmsr c0010117 (VM_HSAVE_PA)", 0xC0010117, true);
    check_gp("rdmsr 40001234", 0x40001234, false);
}
