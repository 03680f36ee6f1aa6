// The guest's PLIC driver (plic.hpp). Register map: RISC-V PLIC Specification 1.0.0, "Memory Map":
// priority 4 * source, enable 0x2000 + 0x80 * context, threshold 0x200000 + 0x1000 * context,
// claim/complete at threshold + 4.
#include "plic.hpp"
#include "rt.hpp"

namespace rt::plic {
namespace {
constexpr uint64_t priority_reg(unsigned s) { return PLIC_BASE + 4ull * s; }
constexpr uint64_t enable_reg(unsigned c, unsigned s) { return PLIC_BASE + 0x2000 + 0x80ull * c + 4 * (s / 32); }
constexpr uint64_t threshold_reg(unsigned c) { return PLIC_BASE + 0x200000 + 0x1000ull * c; }
constexpr uint64_t claim_reg(unsigned c) { return threshold_reg(c) + 4; }
constexpr uint64_t SIE_SEIE = 1u << 9;  // Privileged Spec 20211203, 4.1.3
constexpr uint64_t SSTATUS_SIE = 1u << 1; // 4.1.1
constexpr uint64_t EXTERNAL_INTERRUPT = (1ull << 63) | 9; // scause (4.1.9)
void (*volatile g_handler)();

bool on_interrupt(uint64_t scause) {
    if (scause != EXTERNAL_INTERRUPT || !g_handler) return false;
    g_handler();
    return true;
}
} // namespace

void set_priority(unsigned source, uint32_t priority) { write32(priority_reg(source), priority); }
void enable(unsigned context, unsigned source, bool on) {
    const uint64_t r = enable_reg(context, source);
    const uint32_t bit = 1u << (source % 32);
    write32(r, on ? read32(r) | bit : read32(r) & ~bit);
}
void set_threshold(unsigned context, uint32_t threshold) { write32(threshold_reg(context), threshold); }
uint32_t claim(unsigned context) { return read32(claim_reg(context)); }
void complete(unsigned context, unsigned source) { write32(claim_reg(context), source); }

void take_external_interrupts(void (*handler)()) {
    if (!handler) {
        asm volatile("csrc sstatus, %0" ::"r"(SSTATUS_SIE));
        asm volatile("csrc sie, %0" ::"r"(SIE_SEIE));
        g_handler = nullptr;
        return;
    }
    g_handler = handler;
    set_interrupt_handler(on_interrupt);
    asm volatile("csrs sie, %0" ::"r"(SIE_SEIE));
    asm volatile("csrs sstatus, %0" ::"r"(SSTATUS_SIE));
}

} // namespace rt::plic
