// bench-irq, the riscv64 cases (bench-irq.cpp, bench.hpp): config configs/vms/riscv64/bench-irq.toml
// (1 vCPU, interrupt_mode "emulated": a vPLIC); bench/run.py runs it under cxvisor and on bare QEMU
// (OpenSBI in M-mode below the guest). Figures:
//   add100         100 ADDIs in the bench loop (the loop's own cost: add100 - 100)
//   plic_read      a 32-bit read of source 1's PLIC priority (the vPLIC's emulated register)
//   irq_timer      stimecmp reached -> the handler's first time read, the guest spinning (Sstc: the
//                  hardware raises the guest's timer interrupt, cxvisor is not involved)
//   irq_timer_wfi  the same with the guest in WFI: under cxvisor the WFI exits, the vCPU blocks,
//                  cxvisor's wake-up timer fires and the vCPU re-enters
//   irq_ipi_self   the time read before an SBI send_ipi to the own hart -> the handler's first
//                  time read (cxvisor: an ECALL exit that sets hvip.VSSIP; OpenSBI: CLINT MSIP)
// Precision: a time tick is 100 instructions under -icount shift=0 (10 MHz). The IPI rounds start
// at 100 different instruction phases (dither()), so their mean is exact; the timer fires on a tick
// boundary, so the timer figures are rounded down to a multiple of 100 instructions.
// The latencies include this program's own small vector (bench_irq_vector below reads the time
// with its third instruction); the bare-QEMU run shows the share that is not cxvisor's.
#include "bench.hpp"

namespace {
constexpr uint64_t PLIC_PRIORITY1 = 0x0c000004;
constexpr uint64_t SIE_SSIE = 1u << 1, SIE_STIE = 1u << 5, SIP_SSIP = 1u << 1;
constexpr uint64_t IRQ_S_SOFT = (1ull << 63) | 1, IRQ_S_TIMER = (1ull << 63) | 5;

volatile uint64_t g_at;   // the vector's time read
volatile uint32_t g_seen; // interrupts taken

void set_stimecmp(uint64_t v) { asm volatile("csrw 0x14d, %0" ::"r"(v)); } // Sstc stimecmp

// Executes exactly k (0..99) NOPs (4-byte: no compressed forms in the sled), to start a
// measurement at another instruction phase relative to the time CSR's ticks.
void dither(uint64_t k) {
    asm volatile(".option push\n.option norvc\n"
                 "lla t0, 1f\n"
                 "slli t1, %0, 2\n"
                 "sub t0, t0, t1\n"
                 "jr t0\n"
                 ".rept 99\n nop\n .endr\n"
                 "1:\n.option pop" ::"r"(k % 100)
                 : "t0", "t1", "memory");
}
} // namespace

// The program's own trap vector: the time is read by its third instruction, then the caller-saved
// registers are saved around bench_irq_trap (the runtime's vector saves all 31 and is longer).
extern "C" void bench_irq_trap(uint64_t at, uint64_t scause) {
    if (scause == IRQ_S_TIMER) {
        set_stimecmp(~0ull);
    } else if (scause == IRQ_S_SOFT) {
        asm volatile("csrc sip, %0" ::"r"(SIP_SSIP));
    } else {
        uint64_t sepc, stval;
        asm volatile("csrr %0, sepc" : "=r"(sepc));
        asm volatile("csrr %0, stval" : "=r"(stval));
        rt::fail("unexpected trap scause=%lx sepc=%lx stval=%lx", scause, sepc, stval);
    }
    g_at = at;
    g_seen = g_seen + 1;
}
asm(R"(
    .section .text
    .balign 4
    .globl bench_irq_vector
bench_irq_vector:
    addi    sp, sp, -128
    sd      t0, 0(sp)
    rdtime  t0
    sd      ra, 8(sp)
    sd      t1, 16(sp)
    sd      t2, 24(sp)
    sd      a0, 32(sp)
    sd      a1, 40(sp)
    sd      a2, 48(sp)
    sd      a3, 56(sp)
    sd      a4, 64(sp)
    sd      a5, 72(sp)
    sd      a6, 80(sp)
    sd      a7, 88(sp)
    sd      t3, 96(sp)
    sd      t4, 104(sp)
    sd      t5, 112(sp)
    sd      t6, 120(sp)
    mv      a0, t0
    csrr    a1, scause
    call    bench_irq_trap
    ld      ra, 8(sp)
    ld      t1, 16(sp)
    ld      t2, 24(sp)
    ld      a0, 32(sp)
    ld      a1, 40(sp)
    ld      a2, 48(sp)
    ld      a3, 56(sp)
    ld      a4, 64(sp)
    ld      a5, 72(sp)
    ld      a6, 80(sp)
    ld      a7, 88(sp)
    ld      t3, 96(sp)
    ld      t4, 104(sp)
    ld      t5, 112(sp)
    ld      t6, 120(sp)
    ld      t0, 0(sp)
    addi    sp, sp, 128
    sret
)");
extern "C" char bench_irq_vector[];

void bench::cases() {
    using namespace cxv_abi;
    run("add100", [] { asm volatile(".rept 100\n addi x9, x9, 1\n .endr" ::: "x9"); });
    run("plic_read", [] { (void)rt::read32(PLIC_PRIORITY1); });

    set_stimecmp(~0ull);
    asm volatile("csrw stvec, %0" ::"r"(bench_irq_vector));
    asm volatile("csrs sie, %0" ::"r"(SIE_SSIE | SIE_STIE));
    asm volatile("csrsi sstatus, 2"); // SIE
    // 10 ticks (1000 instructions) ahead, spinning in latency() until the handler ran.
    latency("irq_timer", g_at, g_seen, [](uint64_t) {
        const uint64_t cmp = rt::counter() + 10;
        set_stimecmp(cmp);
        return cmp;
    });
    // 50 ticks ahead, then WFI: far enough for the vCPU to be blocked before the deadline.
    latency("irq_timer_wfi", g_at, g_seen, [](uint64_t) {
        const uint64_t cmp = rt::counter() + 50;
        const uint32_t seen = g_seen;
        set_stimecmp(cmp);
        while (g_seen == seen) asm volatile("wfi");
        return cmp;
    });
    const unsigned hart = rt::cpu_index();
    latency("irq_ipi_self", g_at, g_seen, [hart](uint64_t i) {
        dither(i);
        const uint64_t t = rt::counter();
        (void)rt::sbi_call(SBI_EXT_IPI, SBI_IPI_SEND_IPI, 1, hart);
        return t;
    });
    asm volatile("csrci sstatus, 2");
}
