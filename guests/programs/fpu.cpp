// fpu: FP context switching. cxvisor switches a vCPU's FP registers only when another vCPU takes
// the physical CPU (arch/<isa>/vcpu.cpp load/put), so this guest is meant to run with more vCPUs
// than physical CPUs (e.g. fpu-1..fpu-3 + spin-1 on 2 CPUs).
//
// It enables FP, then in ROUNDS rounds: loads every FP register and the FP control/status register
// with values derived from the VM id (HC_VM_INFO) and the round (the ISA's part, fpu-<isa>.cpp:
// aarch64 q0-q31, FPCR, FPSR; riscv64 f0-f31, fcsr; x86_64 ST0-7, FCW, MXCSR, XMM0-15 and, where
// cxvisor offers AVX, YMM0-15 and XCR0); spins on the counter for ROUND_MS (many 10 ms
// time slices, so other vCPUs run on this CPU in between), prints a progress line halfway and
// makes a hypercall (exits that must not disturb the live FP state); then stores everything back
// and compares. Nothing else touches FP registers in between: the whole guest, runtime included,
// is compiled without FP (aarch64 and x86_64 -mgeneral-regs-only, riscv64 rv64imac/lp64), and only the ISA
// part's two asm blocks use them.
//
// "descheduled" counts gaps of more than GAP_MS in the counter seen by the spin loop: a hint that
// another vCPU ran here (not a check: a VM alone on a CPU is never descheduled). A test that needs
// the FP state to have been switched out asserts "descheduled <n>" with n > 0, so a VM that saw no
// gap in its ROUNDS rounds keeps doing rounds until it does, up to MAX_ROUNDS: how long the others
// take to get going on a loaded host must not decide the test.
#include "rt.hpp"

using namespace cxv_abi;

// The ISA's part (fpu-<isa>.cpp): enable FP, load every FP register and the control/status
// register with a pattern of (vm id, round) and remember it, store them back and compare
// (reporting up to 4 differences; returns how many), and name what was checked.
void fpu_enable();
void fpu_load(uint64_t vm_id, unsigned round);
unsigned fpu_check();
const char* fpu_describe();
uint64_t fpu_splitmix64(uint64_t& s); // the patterns' generator, for the ISA part

namespace {
constexpr unsigned ROUNDS = 8, MAX_ROUNDS = 30;
constexpr uint64_t ROUND_MS = 400;
constexpr uint64_t GAP_MS = 3;
} // namespace

uint64_t fpu_splitmix64(uint64_t& s) {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

namespace {
// Busy-waits `ms` of virtual time; returns how many times the counter jumped by more than GAP_MS.
unsigned spin_ms(uint64_t ms) {
    const uint64_t freq = rt::counter_freq(), gap = GAP_MS * freq / 1000;
    uint64_t now = rt::counter(), end = now + ms * freq / 1000;
    unsigned gaps = 0;
    while (now < end) {
        uint64_t t = rt::counter();
        if (t - now > gap) ++gaps;
        now = t;
    }
    return gaps;
}
} // namespace

void guest_main() {
    rt::test_start("fpu");
    rt::VmInfo vm = rt::vm_info();
    // On bare QEMU (no cxvisor calls) the pattern uses vm id 0; under cxvisor the id must come in.
    rt::check(vm.ok || !rt::hypercalls_available(), "HC_VM_INFO answers where cxvisor calls work");
    fpu_enable();
    rt::printf("fpu: vm %lu, %u rounds of %lu ms\n", vm.vm_id, ROUNDS, ROUND_MS);

    unsigned total_gaps = 0, round = 1;
    for (; round <= ROUNDS || (total_gaps == 0 && round <= MAX_ROUNDS); ++round) {
        fpu_load(vm.vm_id, round);
        unsigned gaps = spin_ms(ROUND_MS / 2);
        rt::printf("fpu: round %u halfway\n", round); // MMIO exits, FP state live
        if (vm.ok) (void)rt::hypercall(HC_NR_NOP, round);       // a hypercall exit too
        gaps += spin_ms(ROUND_MS - ROUND_MS / 2);
        total_gaps += gaps;
        unsigned bad = fpu_check();
        rt::check(bad == 0, "round %u: %s intact (descheduled %u)", round, fpu_describe(), gaps);
    }
    rt::printf("fpu: %u rounds done, descheduled %u times\n", round - 1, total_gaps);
}
