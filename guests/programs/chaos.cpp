// chaos: a randomized containment test. From a fixed seed (printed at start) the guest performs
// random hostile operations (device and unmapped accesses of every width and form, privileged
// instructions and registers, every firmware/hypercall function with random arguments, faults,
// waits, a second vCPU doing the same) and checks each result against a model of what cxvisor and
// the architecture must do. cxvisor must survive, answer as its documentation says and, for
// chaos-crash, stop only this VM. The operations and the model are the ISA's
// (programs/chaos-<isa>.cpp, whose header lists them); this part is what every ISA shares.
#include "chaos.hpp"
#include "rt.hpp"

namespace chaos {
namespace {
char g_first_unexpected[200];
uint32_t g_first_unexpected_taken; // 0 or 1 (word-sized: riscv64 has no byte atomics)
} // namespace

void keep_first_unexpected(const char* text) {
    if (__atomic_exchange_n(&g_first_unexpected_taken, 1u, __ATOMIC_ACQ_REL)) return;
    unsigned i = 0;
    for (; text[i] && i + 1 < sizeof g_first_unexpected; ++i) g_first_unexpected[i] = text[i];
    g_first_unexpected[i] = 0;
}

void print_counts(const char* what, const char* label, const char* const* names, const uint64_t* counts, unsigned n,
                  const char* sep) {
    rt::printf("%s: %s:", what, label);
    for (unsigned i = 0; i < n; ++i) rt::printf("%s %s %lu", i ? sep : "", names[i], counts[i]);
    rt::printf("\n");
}

void print_first_unexpected() {
    if (__atomic_load_n(&g_first_unexpected_taken, __ATOMIC_ACQUIRE) && g_first_unexpected[0])
        rt::printf("first UNEXPECTED of this run: %s\n", g_first_unexpected);
}

} // namespace chaos

void guest_main() {
    rt::test_start(CXV_CHAOS_CRASH ? "chaos-crash" : "chaos");
    chaos::arch_main();
}
