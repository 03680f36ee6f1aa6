// identity: an identity-mapped RAM region (map_type = 1, "identical": guest-physical ==
// host-physical). Besides its usual 16 MiB of RAM at 0x4000_0000 the VM's config gives
// [0x7000_0000, 2 MiB, RW, identical], a piece of QEMU's host RAM (0x4000_0000..0x8000_0000 with
// -m 1G). The guest checks that the region reads zero at boot, fills it with a pattern of the
// address (so that two addresses backed by one host frame would show), verifies it over several
// rounds while other VMs run, and checks that the pages just outside the region abort.
// It then prints "pattern in place" and holds until a key arrives on its console (at most
// HOLD_MAX_US), so that a test can look at host-physical 0x7000_0000 from the QEMU monitor
// (`xp /2gx 0x70000000` must show 0x1de7170070000000 0x1de7170070000008) and then release it: that
// is what proves GPA == HPA. A fixed hold bet on the monitor answering in time on a loaded host.
#include "rt.hpp"

namespace {
constexpr uint64_t BASE = 0x70000000;
constexpr uint64_t SIZE = 2ull << 20;
constexpr uint64_t KEY = 0x1DE7170000000000ull;
constexpr unsigned ROUNDS = 3;
constexpr uint64_t HOLD_MAX_US = 30000000;

uint64_t pattern(uint64_t a) { return a ^ KEY; }

volatile uint64_t* word(uint64_t a) { return reinterpret_cast<volatile uint64_t*>(a); }

uint64_t verify(unsigned round) {
    uint64_t bad = 0;
    for (uint64_t a = BASE; a < BASE + SIZE; a += 8) {
        uint64_t v = *word(a);
        if (v != pattern(a) && bad++ == 0)
            rt::printf("round %u: first mismatch at %lx: %lx, expected %lx\n", round, a, v, pattern(a));
    }
    return bad;
}

} // namespace

void guest_main() {
    rt::test_start("identity");
    rt::printf("identity region %lx..%lx (guest-physical == host-physical)\n", BASE, BASE + SIZE);

    uint64_t dirty = 0;
    for (uint64_t a = BASE; a < BASE + SIZE; a += 8) {
        uint64_t v = *word(a);
        if (v != 0 && dirty++ == 0) rt::printf("not clear at %lx: %lx\n", a, v);
        *word(a) = pattern(a);
    }
    rt::check(dirty == 0, "identity region reads zero at boot (%lu words not)", dirty);

    uint64_t bad = 0;
    for (unsigned round = 1; round <= ROUNDS; ++round) {
        rt::delay_us(20000); // let the other VMs run in between
        bad += verify(round);
    }
    rt::check(bad == 0, "pattern intact over %u rounds (%lu words, %lu wrong)", ROUNDS, SIZE / 8 * ROUNDS, bad);

    rt::check_read_aborts(BASE - 0x1000, "the page below the region");
    rt::check_read_aborts(BASE + SIZE, "the page above the region");

    rt::printf("pattern in place: %lx = %lx, holding until a key arrives (at most %lu s)\n", BASE, *word(BASE),
               HOLD_MAX_US / 1000000);
    const uint64_t start = rt::counter(), limit = HOLD_MAX_US * rt::counter_freq() / 1000000;
    int key = -1;
    while (key < 0 && rt::counter() - start < limit) key = rt::try_getc();
    if (key >= 0) rt::printf("released by a key after %lu ms\n", rt::ticks_to_us(rt::counter() - start) / 1000);
    else rt::printf("no key within %lu s: released anyway\n", HOLD_MAX_US / 1000000);
    rt::check(verify(ROUNDS + 1) == 0, "pattern still intact after the hold");
}
