// bench-ipi, riscv64 (bench-ipi.hpp): SBI IPI send_ipi (SBI v2.0, 7.1) from vCPU 0 to hart 1, taken
// by vCPU 1 as a supervisor software interrupt (scause 1) through the runtime's trap vector (which
// saves the registers first: the same on both sides of the comparison). Under cxvisor the ECALL
// exits, sets vCPU 1's request bit and kicks its hart, which presents hvip.VSSIP; on bare QEMU,
// OpenSBI raises the hart's SSIP through the CLINT. WFI with sstatus.SIE = 0 still wakes on a
// pending interrupt enabled in sie (Privileged Spec 20211203, 3.3.3).
#include "bench-ipi.hpp"

namespace {
constexpr uint64_t SIE_SSIE = 1u << 1, SIP_SSIP = 1u << 1, SSTATUS_SIE = 1u << 1;
constexpr uint64_t IRQ_S_SOFT = (1ull << 63) | 1;
void (*g_on_ipi)();

bool on_interrupt(uint64_t scause) {
    const uint64_t at = rt::counter();
    if (scause != IRQ_S_SOFT) return false;
    asm volatile("csrc sip, %0" ::"r"(SIP_SSIP));
    ipi::taken_at = at;
    g_on_ipi();
    return true;
}
} // namespace

volatile uint64_t ipi::taken_at;

void ipi::init_sender() {}
void ipi::init_receiver(void (*on_ipi)()) {
    g_on_ipi = on_ipi;
    rt::set_interrupt_handler(on_interrupt);
    asm volatile("csrs sie, %0" ::"r"(SIE_SSIE));
}
void ipi::send() {
    const rt::SbiRet r = rt::sbi_call(cxv_abi::SBI_EXT_IPI, cxv_abi::SBI_IPI_SEND_IPI, 1u << 1, 0);
    if (r.error != cxv_abi::SBI_SUCCESS) rt::fail("SBI send_ipi to hart 1: error %ld", r.error);
}
void ipi::irq_off() { asm volatile("csrc sstatus, %0" ::"r"(SSTATUS_SIE) : "memory"); }
void ipi::irq_on() { asm volatile("csrs sstatus, %0" ::"r"(SSTATUS_SIE) : "memory"); }
void ipi::wait() { asm volatile("wfi" ::: "memory"); }
