// hypercall, the x86_64 part: the CPUID view cxvisor gives its guests (docs/porting.md "x86_64:
// CPUID": the hypervisor bit and leaves, no SVM, no VMX, no x2APIC) and the SVM instructions,
// which a guest must not run: each raises #UD.
#include "rt.hpp"

using namespace cxv_abi;

using rt::cpuid;
using Regs = rt::CpuidRegs;

namespace {
// Runs one SVM instruction with the fault handler armed; the vector it raised, or -1.
#define TRY_INSN(insn)                                                                                            \
    [] {                                                                                                          \
        const uint64_t before = rt::last_exception().count;                                                       \
        rt::expect_fault();                                                                                       \
        asm volatile("leaq 1f(%%rip), %%r11\n\t"                                                                  \
                     "movq %%r11, (%0)\n\t" insn "\n"                                                             \
                     "1:" ::"r"(rt::fault_resume_slot())                                                          \
                     : "rax", "r11", "memory");                                                                   \
        rt::disarm_fault();                                                                                       \
        return rt::last_exception().count != before ? int64_t(rt::last_exception().esr) : int64_t(-1);            \
    }()
} // namespace

void check_firmware() {
    const Regs l1 = cpuid(1);
    rt::check(l1.c & (1u << 31), "CPUID.1 ECX[31]: a hypervisor is present");
    rt::check(!(l1.c & (1u << 5)), "CPUID.1 ECX[5]: no VMX");
    rt::check(!(l1.c & (1u << 21)), "CPUID.1 ECX[21]: no x2APIC");
    rt::check((l1.b >> 24) == 0, "CPUID.1 EBX[31:24]: APIC id 0 on vCPU 0 (got %u)", l1.b >> 24);
    rt::check(!(cpuid(0x8000'0001).c & (1u << 2)), "CPUID 8000_0001h ECX[2]: no SVM");
    const Regs h = cpuid(0x4000'0000);
    char sig[13] = {};
    for (int i = 0; i < 4; ++i) sig[i] = char(h.b >> (8 * i)), sig[4 + i] = char(h.c >> (8 * i)), sig[8 + i] = char(h.d >> (8 * i));
    rt::printf("CPUID 40000000h -> max %x, \"%s\"\n", h.a, sig);
    rt::check(h.a >= 0x4000'0010 && h.b == 0x69767863 && h.c == 0x00726f73 && h.d == 0,
              "CPUID 40000000h: \"cxvisor\" with leaves up to 40000010h");
    const Regs v = cpuid(0x4000'0001);
    rt::check(v.a == (VERSION_MAJOR << 16 | VERSION_MINOR), "CPUID 40000001h EAX == the call ABI version (%x)", v.a);
    rt::check(cpuid(0x4000'0010).a != 0, "CPUID 40000010h EAX: the TSC rate in kHz (%u)", cpuid(0x4000'0010).a);
    // 15.5: with EFER.SVME hidden and the instructions intercepted, each is #UD.
    rt::check(TRY_INSN("xorl %%eax, %%eax; vmrun") == int64_t(rt::VEC_UD), "VMRUN raises #UD");
    rt::check(TRY_INSN("xorl %%eax, %%eax; vmload") == int64_t(rt::VEC_UD), "VMLOAD raises #UD");
    rt::check(TRY_INSN("xorl %%eax, %%eax; vmsave") == int64_t(rt::VEC_UD), "VMSAVE raises #UD");
    rt::check(TRY_INSN("clgi") == int64_t(rt::VEC_UD), "CLGI raises #UD");
    rt::check(TRY_INSN("stgi") == int64_t(rt::VEC_UD), "STGI raises #UD");
    // EFER as the guest reads it: long mode on, SVME never shown (cxvisor keeps it set underneath).
    uint32_t lo, hi;
    asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(0xC0000080u));
    rt::check((lo & 0x500) == 0x500 && !(lo & (1u << 12)), "EFER reads LME|LMA without SVME (%x)", lo);
    // An MSR cxvisor does not emulate: #GP(0).
    {
        const uint64_t before = rt::last_exception().count;
        rt::expect_fault();
        asm volatile("leaq 1f(%%rip), %%r11\n\tmovq %%r11, (%0)\n\trdmsr\n1:" ::"r"(rt::fault_resume_slot()), "c"(0xC0010114u)
                     : "rax", "rdx", "r11", "memory");
        rt::disarm_fault();
        const bool taken = rt::last_exception().count != before;
        rt::check(taken && rt::last_exception().esr == rt::VEC_GP, "RDMSR of VM_CR (c0010114) raises #GP (vector %lu)",
                  taken ? rt::last_exception().esr : 0);
    }
}
