// smp: two vCPUs (config cpu_num = 2). vCPU 1 is started through the firmware (aarch64: PSCI
// CPU_ON; riscv64: SBI HSM hart_start); both sum i*i over disjoint halves of 1..N concurrently; the
// boot vCPU checks the total, the firmware's state machine (already on, state ON/OFF, invalid
// parameters for a vCPU the VM does not have), and that vCPU 1's stop (CPU_OFF, hart_stop) takes
// effect.
#include "rt.hpp"

namespace {
constexpr uint64_t N = 2'000'000;
constexpr uint64_t REPEAT = 64; // the work is done REPEAT times so the halves overlap (~0.2 s on QEMU)
// Sum of i*i for 1..N = N(N+1)(2N+1)/6; N(N+1)(2N+1) = 1.6e19 still fits in 64 bits. Modular
// (wrapping) arithmetic on both sides makes REPEAT * sum exact mod 2^64.
constexpr uint64_t SUM = N * (N + 1) / 2 * (2 * N + 1) / 3;
constexpr uint64_t EXPECTED = SUM * REPEAT;

struct Shared {
    uint32_t started, done, may_off;
    uint64_t vcpu_id, vm_id, result, t0, t1;
} g;

uint64_t sum_squares(uint64_t lo, uint64_t hi) {
    uint64_t s = 0;
    for (uint64_t r = 0; r < REPEAT; ++r)
        for (uint64_t i = lo; i <= hi; ++i) {
            s += i * i;
            asm volatile("" : "+r"(s)); // no closed form, please
        }
    return s;
}

// Waits for another vCPU, bounded in virtual time. The bounds only say when to give up: on a loaded
// host the counter runs on while QEMU's threads wait for a host CPU, so they are generous (the
// passing path never waits for them).
template <typename F> bool wait_for(F cond, uint64_t ms) {
    uint64_t end = rt::counter() + ms * rt::counter_freq() / 1000;
    while (!cond())
        if (rt::counter() > end) return false;
    return true;
}

void secondary(unsigned cpu) {
    rt::VmInfo vm = rt::vm_info();
    g.vcpu_id = vm.vcpu_id;
    g.vm_id = vm.vm_id;
    rt::printf("vcpu %lu (vm %lu): up, cpu index %u, summing %lu..%lu\n", vm.vcpu_id, vm.vm_id, cpu,
               N / 2 + 1, N);
    __atomic_store_n(&g.started, 1, __ATOMIC_RELEASE);
    g.t0 = rt::counter();
    uint64_t s = sum_squares(N / 2 + 1, N);
    g.t1 = rt::counter();
    g.result = s;
    __atomic_store_n(&g.done, 1, __ATOMIC_RELEASE);
    rt::printf("vcpu %lu: partial sum %lx\n", vm.vcpu_id, s);
    while (!__atomic_load_n(&g.may_off, __ATOMIC_ACQUIRE)) {
    }
    rt::printf("vcpu %lu: calling CPU_OFF\n", vm.vcpu_id);
    // returning makes the runtime stop this vCPU (PSCI CPU_OFF, SBI HSM hart_stop)
}
} // namespace

void guest_main() {
    rt::test_start("smp");
    rt::VmInfo vm = rt::vm_info();
    rt::printf("vcpu %lu (vm %lu): starting vcpu 1\n", vm.vcpu_id, vm.vm_id);

    int64_t r = rt::start_cpu(1, secondary);
    rt::check(r == rt::CPU_START_OK, "CPU_ON(1) == SUCCESS (got %ld)", r);
    bool up = wait_for([] { return __atomic_load_n(&g.started, __ATOMIC_ACQUIRE) != 0; }, 30000);
    rt::check(up, "vcpu 1 runs within 30 s");
    if (!up) rt::finish();
    rt::check(!vm.ok || g.vcpu_id == 1, "HC_VM_INFO on vcpu 1 says vcpu 1 (got %lu)", g.vcpu_id);
    rt::check(!vm.ok || g.vm_id == vm.vm_id, "both vcpus see the same vm id");

    r = rt::start_cpu(1, secondary);
    rt::check(r == rt::CPU_START_ALREADY, "CPU_ON(1) again == ALREADY_ON (got %ld)", r);
    r = rt::cpu_state(1);
    rt::check(r == rt::CPU_STATE_ON, "AFFINITY_INFO(1) == ON (got %ld)", r);
    r = rt::start_cpu(2, nullptr);
    rt::check(r == rt::CPU_START_INVALID, "CPU_ON(2) == INVALID_PARAMETERS (got %ld)", r);

    uint64_t t0 = rt::counter();
    uint64_t s = sum_squares(1, N / 2);
    uint64_t t1 = rt::counter();
    rt::printf("vcpu %lu: partial sum %lx\n", vm.vcpu_id, s);
    bool done = wait_for([] { return __atomic_load_n(&g.done, __ATOMIC_ACQUIRE) != 0; }, 60000);
    rt::check(done, "vcpu 1 finishes its half within 60 s");
    if (!done) rt::finish();
    uint64_t total = s + g.result;
    rt::printf("total %lx, expected %lx\n", total, EXPECTED);
    rt::check(total == EXPECTED, "sum of i*i over 1..%lu (x%lu) is right", N, REPEAT);
    bool overlap = t0 < g.t1 && g.t0 < t1;
    rt::printf("vcpu 0 worked %lu us, vcpu 1 %lu us, overlapping: %s\n", rt::ticks_to_us(t1 - t0),
               rt::ticks_to_us(g.t1 - g.t0), overlap ? "yes" : "no");

    __atomic_store_n(&g.may_off, 1, __ATOMIC_RELEASE);
    bool off = wait_for([] { return rt::cpu_state(1) == rt::CPU_STATE_OFF; }, 30000);
    rt::check(off, "AFFINITY_INFO(1) == OFF after its CPU_OFF (within 30 s)");
}
