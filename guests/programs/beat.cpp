// beat: four vCPUs that spin for ever, for the shell's lifecycle tests (stop, start, restart,
// pause, resume of a VM whose every vCPU is busy on some physical CPU). vCPU 0 starts the other
// three (PSCI CPU_ON, SBI HSM hart_start), then prints a beat about every 300 ms of virtual time
// that says how many vCPUs made progress since the last one. The banner ("beat: boot ...")
// appears once per life: a VM started fresh prints it again and counts from beat 1; a paused and
// resumed one goes on counting. It never ends by itself.
#include "rt.hpp"

namespace {
constexpr unsigned VCPUS = 4;
uint64_t g_spins[VCPUS];

[[noreturn]] void spin(unsigned cpu) {
    for (;;) __atomic_fetch_add(&g_spins[cpu], 1, __ATOMIC_RELAXED);
}
} // namespace

void guest_main() {
    rt::VmInfo vm = rt::vm_info();
    rt::printf("beat: boot, vm %lu, resets %lu\n", vm.vm_id, vm.resets);
    for (unsigned c = 1; c < VCPUS; ++c) {
        int64_t r = rt::start_cpu(c, spin);
        if (r != rt::CPU_START_OK) rt::printf("beat: starting vCPU %u failed: %ld\n", c, r);
    }
    uint64_t last[VCPUS] = {};
    for (uint64_t n = 1;; ++n) {
        uint64_t end = rt::counter() + rt::counter_freq() * 3 / 10;
        while (rt::counter() < end) __atomic_fetch_add(&g_spins[0], 1, __ATOMIC_RELAXED);
        unsigned moved = 0;
        for (unsigned c = 0; c < VCPUS; ++c) {
            uint64_t s = __atomic_load_n(&g_spins[c], __ATOMIC_RELAXED);
            moved += s != last[c];
            last[c] = s;
        }
        rt::printf("beat %lu: %u/%u vCPUs spinning\n", n, moved, VCPUS);
    }
}
