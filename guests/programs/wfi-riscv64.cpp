// wfi, the riscv64 part: the Sstc timer (stimecmp, which cxvisor gives the guest as vstimecmp),
// sie.STIE set with sstatus.SIE clear (RISC-V Privileged Spec 20211203, 4.1.3 sip/sie; Sstc 1.0:
// STIP is pending while time >= stimecmp).
//
// "Fired" is sip.STIP, or, because QEMU 7.2 does not show the Sstc-driven VSTIP in a VS-mode read
// of sip (measured: sip = 0 with stimecmp long past; the interrupt itself is delivered), the
// supervisor timer interrupt taken when SIE is opened for a moment: wfi_vector records its cause
// and moves stimecmp out of the way; anything but an interrupt goes on to the runtime's vector.
#include "rt.hpp"

extern "C" {
uint64_t wfi_frame[2]; // t1 while the vector runs; the cause it took
extern char wfi_vector[], rt_trap_vector[];
}

asm(R"(
    .section .text.wfi_vector, "ax"
    .balign 4
    .global wfi_vector
wfi_vector:
    csrw    sscratch, t0
    la      t0, wfi_frame
    sd      t1, 0(t0)
    csrr    t1, scause
    bgez    t1, 1f                  # an exception: the runtime reports it
    sd      t1, 8(t0)
    li      t1, -1
    csrw    0x14d, t1               # stimecmp: no further timer interrupt
    ld      t1, 0(t0)
    csrr    t0, sscratch
    sret
1:  ld      t1, 0(t0)
    csrr    t0, sscratch
    j       rt_trap_vector
)");

namespace wfi {
namespace {
constexpr uint64_t STIE = 1u << 5, STIP = 1u << 5;
constexpr uint64_t TIMER_INTERRUPT = (1ull << 63) | 5; // scause of a supervisor timer interrupt (4.1.9)
uint64_t sie() {
    uint64_t v;
    asm volatile("csrr %0, sie" : "=r"(v));
    return v;
}
} // namespace

extern const char* const FIRED = "sip.STIP or the timer interrupt";
void arm(uint64_t deadline) {
    asm volatile("csrw 0x14d, %0" ::"r"(deadline)); // stimecmp
    asm volatile("csrs sie, %0" ::"r"(STIE));
}
bool fired() {
    uint64_t ip;
    asm volatile("csrr %0, sip" : "=r"(ip));
    if (ip & STIP) return true;
    __atomic_store_n(&wfi_frame[1], 0, __ATOMIC_RELAXED);
    uint64_t old;
    asm volatile("csrrw %0, stvec, %1" : "=r"(old) : "r"(wfi_vector));
    asm volatile("csrsi sstatus, 2\n nop\n nop\n csrci sstatus, 2" ::: "memory"); // SIE open for a moment
    asm volatile("csrw stvec, %0" ::"r"(old));
    return __atomic_load_n(&wfi_frame[1], __ATOMIC_RELAXED) == TIMER_INTERRUPT;
}
void disarm() {
    asm volatile("csrc sie, %0" ::"r"(STIE));
    asm volatile("csrw 0x14d, %0" ::"r"(~0ull));
}
bool disarmed() { return !(sie() & STIE); }
void wait() { asm volatile("wfi" ::: "memory"); }
} // namespace wfi
