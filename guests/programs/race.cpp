// race: two vCPUs fault on the same never-touched 2 MiB block of guest RAM at the same moment.
//
// cxvisor allocates guest RAM lazily, one 2 MiB block per stage-2 fault (vm/vm.cpp, AddrSpace::
// handle_fault). When two vCPUs of one VM fault on the same block on two physical CPUs, one maps it
// and the other must find it mapped and simply retry: no second frame, no error. (A cxvisor without
// the address-space lock stopped the VM: "no host memory left for guest RAM ...; VM stopped".)
//
// The config (race.toml, riscv64/race.toml) gives 2 vCPUs and, besides the usual 16 MiB, a lazily allocated region
// of EXTRA_SIZE at EXTRA_BASE that nothing touches before this test. For each of its blocks both
// vCPUs meet at a barrier, then at once write a pattern into the block: on even blocks into the
// same page (vCPU 0 at offset 0, vCPU 1 at offset 8), on odd blocks into different pages. Each
// vCPU reads its own word back at once. At the end vCPU 0 checks every block holds both patterns
// and zeroes around them: a block populated twice (a frame replaced under a vCPU) loses a write.
// Needs 2 physical CPUs so the two faults really overlap (the system test `race`).
#include "rt.hpp"

namespace {
#ifndef CXV_RACE_BASE
#define CXV_RACE_BASE 0x50000000 // race.toml, region 2 (riscv64: guests/CMakeLists.txt)
#endif
constexpr uint64_t EXTRA_BASE = CXV_RACE_BASE, EXTRA_SIZE = 64ull << 20;
constexpr uint64_t BLOCK = 2ull << 20;
constexpr unsigned BLOCKS = unsigned(EXTRA_SIZE / BLOCK);

volatile uint32_t g_arrived;        // barrier: both vCPUs increment it once per block
volatile uint32_t g_worker_bad;     // blocks where vCPU 1 read back something else
volatile uint32_t g_worker_done;

uint64_t pattern(unsigned cpu, unsigned b) { return 0x5ACE000000000000ull | (uint64_t(cpu) << 32) | b; }
uint64_t slot(unsigned cpu, unsigned b) {
    uint64_t off = (b & 1) ? cpu * 0x1000 + 0x40000 * (b & 6) : cpu * 8; // odd: two pages apart
    return EXTRA_BASE + b * BLOCK + off;
}

// Both vCPUs: for each block, arrive at the barrier, wait for the other one, then touch.
unsigned touch_all(unsigned cpu) {
    unsigned bad = 0;
    for (unsigned b = 0; b < BLOCKS; ++b) {
        __atomic_add_fetch(&g_arrived, 1, __ATOMIC_ACQ_REL);
        while (__atomic_load_n(&g_arrived, __ATOMIC_ACQUIRE) < 2 * (b + 1)) {
        }
        volatile uint64_t* p = reinterpret_cast<volatile uint64_t*>(slot(cpu, b));
        *p = pattern(cpu, b); // the first touch of this block, on both vCPUs at once
        if (*p != pattern(cpu, b)) ++bad;
    }
    return bad;
}

void worker(unsigned cpu) {
    g_worker_bad = touch_all(cpu);
    __atomic_store_n(&g_worker_done, 1, __ATOMIC_RELEASE);
}
} // namespace

void guest_main() {
    rt::test_start("race");
    rt::printf("%u blocks of 2 MiB at %lx, each first touched by both vCPUs at once\n", BLOCKS, EXTRA_BASE);
    if (!rt::check(rt::start_cpu(1, worker) == rt::CPU_START_OK, "vcpu 1 started")) rt::finish();
    unsigned bad0 = touch_all(0);
    // vcpu 1 is a few stores behind; the bound is generous because on a loaded host the counter
    // runs on while its QEMU thread waits for a host CPU.
    uint64_t end = rt::counter() + 30 * rt::counter_freq();
    while (!__atomic_load_n(&g_worker_done, __ATOMIC_ACQUIRE) && rt::counter() < end) {
    }
    rt::check(g_worker_done, "vcpu 1 finished its %u blocks", BLOCKS);
    rt::check(bad0 == 0 && g_worker_bad == 0, "each vcpu read back its own write at once (bad: %u, %u)", bad0,
              g_worker_bad);
    unsigned lost = 0, dirty = 0;
    for (unsigned b = 0; b < BLOCKS; ++b) {
        for (unsigned cpu = 0; cpu < 2; ++cpu)
            if (*reinterpret_cast<volatile uint64_t*>(slot(cpu, b)) != pattern(cpu, b)) {
                if (++lost <= 3) rt::printf("block %u: vcpu %u's write is gone\n", b, cpu);
            }
        // Words next to the slots, and the last word of the block: zero (fresh RAM).
        uint64_t base = EXTRA_BASE + b * BLOCK;
        uint64_t probes[3] = {slot(0, b) + 16, slot(1, b) + 16, base + BLOCK - 8};
        for (uint64_t a : probes)
            if (*reinterpret_cast<volatile uint64_t*>(a) != 0) ++dirty;
    }
    rt::check(lost == 0, "both writes kept in all %u blocks (%u lost)", BLOCKS, lost);
    rt::check(dirty == 0, "the rest of each block reads zero (%u words not)", dirty);
}
