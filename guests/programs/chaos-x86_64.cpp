// chaos, the x86_64 part (chaos.cpp, chaos.hpp): vCPU 0 runs CXV_CHAOS_OPS random operations a
// guest kernel could do to a hypervisor, each with the outcome a CPU without cxvisor (and a PC
// without the devices) gives, and counts every difference (UNEXPECTED). The operations:
//   port_read/port_write  IN/OUT of a random port where the VM has no device (not COM1 at 3f8h,
//                         not the power ports 604h/cf9h): reads all ones, writes are dropped
//   msr                   RDMSR/WRMSR of an MSR cxvisor does not emulate (VM_CR, VM_HSAVE_PA, a
//                         random one in 4000_1000h..4000_ffffh): #GP(0) (APM vol. 3 rev. 3.36, "RDMSR")
//   cpuid                 a random leaf (basic, hypervisor, extended or any 32-bit value): no
//                         fault, and the same answer twice (cxvisor's view is a function of the leaf)
//   int3, ud2, div0       #BP (3), #UD (6), #DE (0)
//   page_fault            a load above the guest's 4 GiB identity map: #PF (14) with CR2 = address
//   noncanonical          a load from a non-canonical address: #GP(0)
//   svm                   VMRUN, VMLOAD, VMSAVE, STGI, CLGI, SKINIT, INVLPGA: #UD (the guest's
//                         EFER.SVME is clear and cxvisor intercepts them: docs/porting.md)
//   apic                  a random load or store of 1, 2, 4 or 8 bytes anywhere in the local APIC's
//                         page (chaos.toml: interrupt_mode "emulated"), random values included (ICR
//                         INIT/SIPI/NMI to itself, a periodic timer at its shortest, SVR off): a
//                         32-bit access at a register's 16-byte offset goes through (writes to
//                         read-only registers are dropped), anything else is #GP(0)
//                         (docs/porting.md "x86 VMs: interrupts"). RFLAGS.IF stays 0: what the
//                         writes make pending is never taken.
// Not here (each needs its own VM): a triple fault (system test x86-triple-fault-contained), HLT
// with interrupts off (x86-lapic checks it), SMP.
// Nor a MOV to CR4 with a reserved bit set: a CPU raises #GP(0) (APM vol. 2 rev. 3.42, 3.1.3), but
// QEMU's TCG (7.2) ends the guest with #VMEXIT code -1 (VMEXIT_INVALID) at the MOV instead, and
// cxvisor stops the VM as for any VMEXIT_INVALID (contained, but the VM is gone: no op of a run).
#include "chaos.hpp"
#include "rt.hpp"

namespace chaos {
namespace {

using Ctx = OneVcpuCtx;

enum Op : unsigned { PORT_READ, PORT_WRITE, MSR, CPUID, INT3, UD2, DIV0, PAGE_FAULT, NONCANONICAL, SVM, APIC, N_OPS };
const char* const OP_NAMES[N_OPS] = {"port_read", "port_write", "msr", "cpuid", "int3", "ud2",
                                     "div0", "page_fault", "noncanonical", "svm", "apic"};

// The xAPIC registers (Intel SDM vol. 3A table 11-1) cxvisor's vLAPIC implements: a 32-bit access
// at one of these offsets is a register access, anything else in the page is #GP(0).
bool is_apic_register(uint32_t off) {
    switch (off) {
    case 0x20: case 0x30: case 0x80: case 0x90: case 0xA0: case 0xB0: case 0xC0: case 0xD0: case 0xE0: case 0xF0:
    case 0x280: case 0x2F0: case 0x300: case 0x310: case 0x320: case 0x330: case 0x340: case 0x350: case 0x360:
    case 0x370: case 0x380: case 0x390: case 0x3E0:
        return true;
    default: return off >= 0x100 && off < 0x280 && off % 16 == 0; // ISR, TMR, IRR
    }
}

struct Outcome {
    bool taken;
    uint64_t vector, info; // info: CR2 for #PF, else the error code
};

// Arms the fault probe; the asm statement after it stores its resume label in the slot.
uint64_t arm() {
    const uint64_t before = rt::last_exception().count;
    rt::expect_fault();
    return before;
}
Outcome done(uint64_t before) {
    rt::disarm_fault();
    const rt::ExcRecord& e = rt::last_exception();
    return e.count != before ? Outcome{true, e.esr, e.far} : Outcome{false, 0, 0};
}
#define PROBE(insn, ...)                                                                                          \
    asm volatile("leaq 1f(%%rip), %%r11\n\tmovq %%r11, (%[slot])\n\t" insn "\n1:" __VA_ARGS__)

bool is_reserved_port(uint16_t p) {
    return (p >= rt::UART_PORT && p < rt::UART_PORT + 8) || (p >= 0x604 && p < 0x606) || p == 0xCF9;
}

void expect_exc(Ctx& c, const char* what, Outcome o, uint64_t vector, bool check_info, uint64_t info) {
    if (!o.taken)
        UNEXPECTED(c, "%s: no exception (expected vector %lu)", what, vector);
    else if (o.vector != vector || (check_info && o.info != info))
        UNEXPECTED(c, "%s: vector %lu info %lx (expected vector %lu info %lx)", what, o.vector, o.info, vector, info);
}

void do_op(Ctx& c, Rng& r, Op op) {
    switch (op) {
    case PORT_READ:
    case PORT_WRITE: {
        uint16_t p;
        do p = uint16_t(r.below(0x10000));
        while (is_reserved_port(p));
        if (op == PORT_WRITE) {
            rt::outb(p, uint8_t(r.next()));
            return; // dropped: nothing to see but that the VM goes on
        }
        const uint8_t v = rt::inb(p);
        if (v != 0xFF) UNEXPECTED(c, "inb %x: %x (expected ff: no device)", p, v);
        return;
    }
    case MSR: {
        const uint32_t pick = uint32_t(r.below(4));
        const uint32_t msr = pick == 0 ? 0xC0010114u : pick == 1 ? 0xC0010117u : 0x4000'1000u + uint32_t(r.below(0xF000));
        const bool write = r.chance(50);
        const uint64_t b = arm();
        if (write)
            PROBE("wrmsr", ::[slot] "r"(rt::fault_resume_slot()), "c"(msr), "a"(uint32_t(r.next())), "d"(0) : "r11", "memory");
        else
            PROBE("rdmsr", ::[slot] "r"(rt::fault_resume_slot()), "c"(msr) : "rax", "rdx", "r11", "memory");
        char what[40];
        rt::format(what, sizeof what, "%s %x", write ? "wrmsr" : "rdmsr", msr);
        expect_exc(c, what, done(b), rt::VEC_GP, true, 0);
        return;
    }
    case CPUID: {
        const uint32_t kind = uint32_t(r.below(4));
        const uint32_t leaf = kind == 0   ? uint32_t(r.below(0x20))
                              : kind == 1 ? 0x4000'0000u + uint32_t(r.below(0x20))
                              : kind == 2 ? 0x8000'0000u + uint32_t(r.below(0x20))
                                          : uint32_t(r.next());
        const uint32_t sub = uint32_t(r.below(4));
        const rt::CpuidRegs a = rt::cpuid(leaf, sub), b = rt::cpuid(leaf, sub);
        // Leaf 1 EBX[31:24] and leaf 0Bh/1Fh EDX hold the APIC id: the same on one vCPU anyway.
        if (a.a != b.a || a.b != b.b || a.c != b.c || a.d != b.d)
            UNEXPECTED(c, "cpuid %x.%x differs between two calls", leaf, sub);
        return;
    }
    case INT3: {
        const uint64_t b = arm();
        PROBE("int3", ::[slot] "r"(rt::fault_resume_slot()) : "r11", "memory");
        expect_exc(c, "int3", done(b), 3, false, 0);
        return;
    }
    case UD2: {
        const uint64_t b = arm();
        PROBE("ud2", ::[slot] "r"(rt::fault_resume_slot()) : "r11", "memory");
        expect_exc(c, "ud2", done(b), rt::VEC_UD, false, 0);
        return;
    }
    case DIV0: {
        const uint64_t b = arm();
        PROBE("xorl %%ecx, %%ecx\n\tdivl %%ecx", ::[slot] "r"(rt::fault_resume_slot()), "a"(uint32_t(r.next())), "d"(0)
              : "rcx", "r11", "memory");
        expect_exc(c, "div by 0", done(b), 0, false, 0);
        return;
    }
    case PAGE_FAULT: {
        const uint64_t addr = (1ull << 32) + (r.below(1ull << 38) & ~7ull); // above 4 GiB, below 256 GiB
        const uint64_t b = arm();
        PROBE("movq (%[a]), %%rax", ::[slot] "r"(rt::fault_resume_slot()), [a] "r"(addr) : "rax", "r11", "memory");
        expect_exc(c, "load above the identity map", done(b), rt::VEC_PF, true, addr);
        return;
    }
    case NONCANONICAL: {
        const uint64_t addr = (1ull << 47) + (r.below(1ull << 46) & ~7ull); // bits 63:47 not all equal
        const uint64_t b = arm();
        PROBE("movq (%[a]), %%rax", ::[slot] "r"(rt::fault_resume_slot()), [a] "r"(addr) : "rax", "r11", "memory");
        expect_exc(c, "non-canonical load", done(b), rt::VEC_GP, true, 0);
        return;
    }
    case SVM: {
        const unsigned which = unsigned(r.below(7));
        static const char* const names[7] = {"vmrun", "vmload", "vmsave", "stgi", "clgi", "skinit", "invlpga"};
        const uint64_t b = arm();
        // RAX (a VMCB or the SKINIT block address) points into the guest's RAM at 8 MiB: if an
        // instruction ran, it would not touch the guest's image or stacks.
        switch (which) {
        case 0: PROBE("vmrun", ::[slot] "r"(rt::fault_resume_slot()), "a"(0x80'0000) : "r11", "memory"); break;
        case 1: PROBE("vmload", ::[slot] "r"(rt::fault_resume_slot()), "a"(0x80'0000) : "r11", "memory"); break;
        case 2: PROBE("vmsave", ::[slot] "r"(rt::fault_resume_slot()), "a"(0x80'0000) : "r11", "memory"); break;
        case 3: PROBE("stgi", ::[slot] "r"(rt::fault_resume_slot()) : "r11", "memory"); break;
        case 4: PROBE("clgi", ::[slot] "r"(rt::fault_resume_slot()) : "r11", "memory"); break;
        case 5: PROBE("skinit", ::[slot] "r"(rt::fault_resume_slot()), "a"(0x80'0000) : "r11", "memory"); break;
        default: PROBE("invlpga", ::[slot] "r"(rt::fault_resume_slot()), "a"(0x80'0000), "c"(0) : "r11", "memory"); break;
        }
        expect_exc(c, names[which], done(b), rt::VEC_UD, false, 0);
        return;
    }
    case APIC: {
        const unsigned width = 1u << r.below(4);
        // Mostly register offsets (so the writes do something), the rest anywhere in the page.
        const uint32_t off = r.chance(75) ? uint32_t(r.below(0x40)) * 16 : uint32_t(r.below(0x1000 - width + 1));
        const uint64_t addr = rt::LAPIC_BASE + off, value = r.next();
        const bool write = r.chance(50);
        const uint64_t b = arm();
        uint64_t v = 0;
        volatile uint64_t* slot = rt::fault_resume_slot();
        switch (width | (write ? 16 : 0)) {
        case 1: PROBE("movb (%[a]), %b[v]", : [v] "+q"(v) : [slot] "r"(slot), [a] "r"(addr) : "r11", "memory"); break;
        case 2: PROBE("movw (%[a]), %w[v]", : [v] "+r"(v) : [slot] "r"(slot), [a] "r"(addr) : "r11", "memory"); break;
        case 4: PROBE("movl (%[a]), %k[v]", : [v] "+r"(v) : [slot] "r"(slot), [a] "r"(addr) : "r11", "memory"); break;
        case 8: PROBE("movq (%[a]), %[v]", : [v] "+r"(v) : [slot] "r"(slot), [a] "r"(addr) : "r11", "memory"); break;
        case 17: PROBE("movb %b[v], (%[a])", ::[slot] "r"(slot), [a] "r"(addr), [v] "q"(value) : "r11", "memory"); break;
        case 18: PROBE("movw %w[v], (%[a])", ::[slot] "r"(slot), [a] "r"(addr), [v] "r"(value) : "r11", "memory"); break;
        case 20: PROBE("movl %k[v], (%[a])", ::[slot] "r"(slot), [a] "r"(addr), [v] "r"(value) : "r11", "memory"); break;
        default: PROBE("movq %[v], (%[a])", ::[slot] "r"(slot), [a] "r"(addr), [v] "r"(value) : "r11", "memory"); break;
        }
        const Outcome o = done(b);
        char what[48];
        rt::format(what, sizeof what, "%u-byte %s of APIC +%x", width, write ? "store" : "load", off);
        if (width == 4 && off % 16 == 0 && is_apic_register(off)) {
            if (o.taken) UNEXPECTED(c, "%s: vector %lu (a register: expected no fault)", what, o.vector);
        } else {
            expect_exc(c, what, o, rt::VEC_GP, true, 0);
        }
        return;
    }
    case N_OPS: break;
    }
}

} // namespace

void arch_main() {
    run_on_one_vcpu<N_OPS>(OP_NAMES, [](Ctx& c, Rng& r, unsigned kind) { do_op(c, r, Op(kind)); });
}

} // namespace chaos
