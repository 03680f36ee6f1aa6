// Each CPU's descriptor tables (GDT with its TSS, the shared IDT), the x86 per-CPU area behind GS,
// and what the IDT stubs (boot.S isr_stubs) call. cxvisor runs with RFLAGS.IF = 0 and takes its
// interrupts only inside wfi() and handle_pending_irqs' window: the stub then records the vector,
// which handle_pending_irqs dispatches from a known place (as the other ISAs poll). Every
// exception is a cxvisor bug (a guest's exceptions will arrive as #VMEXITs) and stops cxvisor
// with the vector, RIP and the registers. AMD64 APM vol. 2 rev. 3.42: 4.8.3 "Code-Segment
// Descriptors" (long mode), 4.8.3/12.2.5 the 64-bit TSS descriptor, 8.2 "Vectors", 8.9 "Long-Mode
// Interrupt Control Transfers".
#include "arch.hpp"
#include "asm_offsets.hpp"
#include "kernel/log.hpp"
#include "kernel/percpu.hpp"
#include "percpu_x86.hpp"
#include <stddef.h>

extern "C" char isr_stubs[];
extern "C" [[noreturn]] void secondary_main(PerCpu* me);

namespace arch {

namespace {

X86Cpu g_x86cpu[MAX_CPUS + 1];

// 16-byte long-mode interrupt gate (8.9.1 "Interrupt Descriptor Table", figure 4-24).
struct IdtGate {
    u16 offset_lo, selector;
    u8 ist, type_attr;
    u16 offset_mid;
    u32 offset_hi, reserved;
};
static_assert(sizeof(IdtGate) == 16);
IdtGate g_idt[256];
bool g_idt_built;

struct __attribute__((packed)) DescriptorPointer {
    u16 limit;
    u64 base;
};

constexpr u16 SEL_CODE = 0x08, SEL_DATA = 0x10, SEL_TSS = 0x18;

void build_idt() {
    for (u32 v = 0; v < 256; ++v) {
        const u64 stub = u64(isr_stubs) + 16 * v;
        IdtGate& g = g_idt[v];
        g.offset_lo = u16(stub);
        g.selector = SEL_CODE;
        g.ist = v == 2 ? IST_NMI : v == 8 ? IST_DF : v == 18 ? IST_MC : 0;
        g.type_attr = 0x8E; // P, DPL 0, type 0xE: 64-bit interrupt gate (IF cleared on entry)
        g.offset_mid = u16(stub >> 16);
        g.offset_hi = u32(stub >> 32);
        g.reserved = 0;
    }
}

const char* exception_name(u64 v) {
    static const char* const names[] = {
        "#DE divide error", "#DB debug", "NMI", "#BP breakpoint", "#OF overflow", "#BR bound range",
        "#UD invalid opcode", "#NM device not available", "#DF double fault", "coprocessor segment overrun",
        "#TS invalid TSS", "#NP segment not present", "#SS stack fault", "#GP general protection", "#PF page fault",
        "reserved", "#MF x87 floating point", "#AC alignment check", "#MC machine check", "#XF SIMD floating point",
        "reserved", "#CP control protection", "reserved", "reserved", "reserved", "reserved", "reserved",
        "reserved", "#HV hypervisor injection", "#VC VMM communication", "#SX security", "reserved"};
    return v < 32 ? names[v] : "interrupt";
}

} // namespace

struct TrapFrame {
    u64 r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
    u64 vector, error;
    u64 rip, cs, rflags, rsp, ss; // pushed by the CPU (8.9.3)
};
static_assert(offsetof(TrapFrame, vector) == TRAP_FRAME_GPRS * 8 && sizeof(TrapFrame) == 22 * 8);

// The GDT, TSS and IDT of the calling CPU, and GS on its area (slot 0: the boot CPU; AP i: i + 1).
// Runs first thing in long mode, on the boot page tables, before any C++ that could fault.
extern "C" void x86_cpu_tables_init(u64 slot) {
    if (!g_idt_built) { // the boot CPU, before any AP exists
        build_idt();
        g_idt_built = true;
    }
    X86Cpu& c = g_x86cpu[slot];
    c.self = &c;
    for (u32 i = 0; i < 3; ++i) c.tss.ist[i] = u64(c.ist_stack[i]) + IST_STACK_SIZE; // IST1..3
    c.tss.iomap_base = sizeof(Tss64); // no I/O permission bitmap: CPL 0 needs none
    c.gdt[0] = 0;
    c.gdt[1] = 0x00AF9A000000FFFFull; // 64-bit code: P, DPL 0, L = 1
    c.gdt[2] = 0x00CF92000000FFFFull; // data: P, writable
    const u64 tss = u64(&c.tss), limit = sizeof(Tss64) - 1;
    // 16-byte system descriptor, type 9 (available 64-bit TSS), P (4.8.3, figure 4-22).
    c.gdt[3] = (limit & 0xFFFF) | (tss & 0xFFFFFF) << 16 | 0x89ull << 40 | ((limit >> 16) & 0xF) << 48 |
               ((tss >> 24) & 0xFF) << 56;
    c.gdt[4] = tss >> 32;
    const DescriptorPointer gdtr{sizeof c.gdt - 1, u64(c.gdt)};
    const DescriptorPointer idtr{sizeof g_idt - 1, u64(g_idt)};
    asm volatile("lgdt %0\n\t"
                 "pushq %1\n\t"
                 "leaq 1f(%%rip), %%rax\n\t"
                 "pushq %%rax\n\t"
                 "lretq\n"
                 "1:\n\t"
                 "movw %w2, %%ds\n\t"
                 "movw %w2, %%es\n\t"
                 "movw %w2, %%ss\n\t"
                 "movw %w3, %%fs\n\t"
                 "movw %w3, %%gs\n\t"
                 "ltr %w4\n\t"
                 "lidt %5"
                 :
                 : "m"(gdtr), "i"(u64(SEL_CODE)), "r"(u32(SEL_DATA)), "r"(0u), "r"(u32(SEL_TSS)), "m"(idtr)
                 : "rax", "memory");
    // After the null selector load: on AMD it may keep the old base, on Intel it clears it.
    x86::wrmsr(x86::MSR_GS_BASE, u64(&c));
}

void set_percpu_pointer(void* p) { this_x86_cpu().percpu = p; }

extern "C" void x86_trap(TrapFrame* f) {
    const u64 v = f->vector;
    if (v >= 32) {
        // Spurious interrupts are not in service and take no EOI (16.4.7 "Spurious Interrupts").
        if (v != VECTOR_SPURIOUS) this_x86_cpu().pending[v / 64] |= u64(1) << (v % 64);
        return;
    }
    const u64 cr2 = v == 14 ? x86::read_cr2() : 0;
    panic("x86_64: CPU exception %lu (%s) in cxvisor at RIP %lx: error code %lx, CR2 %lx, RSP %lx, RFLAGS %lx, CS %lx; "
          "RAX %lx RBX %lx RCX %lx RDX %lx RSI %lx RDI %lx RBP %lx",
          v, exception_name(v), f->rip, f->error, cr2, f->rsp, f->rflags, f->cs, f->rax, f->rbx, f->rcx, f->rdx,
          f->rsi, f->rdi, f->rbp);
}

// An AP's first C++ (boot.S secondary_entry found its PerCpu): its own tables, then the generic
// secondary start.
extern "C" [[noreturn]] void x86_secondary_start(PerCpu* me) {
    x86_cpu_tables_init(me->id + 1);
    set_percpu_pointer(me);
    secondary_main(me);
}

} // namespace arch
