// smccc-fast: the guest-exit vector answers PSCI_VERSION and SMCCC_VERSION itself (boot.S
// low64_sync, src/arch/aarch64/smccc_fast.hpp). Its answers must be exactly the C++ path's
// (Vcpu::handle_smccc): same x0, every other register x1..x17 untouched. The reference is the same
// call made with `SMC #0`, which always traps through the C++ path (EC 0x17 is not in the fast
// path), and `HVC #1` (imm16 != 0, also the full path); then the documented values (PSCI 1.1,
// DEN0022 D; SMCCC 1.1, DEN0028 F). Each HVC #0 is repeated: the first answer of a call may come
// from the C++ path (it publishes the value), later ones come from the vector.
#include "rt.hpp"

using namespace cxv_abi;

namespace {

struct Regs {
    uint64_t x[18]; // x0..x17: the SMCCC argument/result registers and the ones 1.1 preserves
};

// Loads x0..x17 from r, executes INSN, stores x0..x17 back. x19 holds the pointer: neither path
// may change it (the full path restores every register, the fast path borrows only x1/x2).
#define SMCCC_RAW_CALL(INSN, r)                                                                    \
    do {                                                                                           \
        register Regs* p_ asm("x19") = &(r);                                                       \
        asm volatile("ldp x0, x1, [x19, #0]\n ldp x2, x3, [x19, #16]\n ldp x4, x5, [x19, #32]\n"   \
                     "ldp x6, x7, [x19, #48]\n ldp x8, x9, [x19, #64]\n ldp x10, x11, [x19, #80]\n" \
                     "ldp x12, x13, [x19, #96]\n ldp x14, x15, [x19, #112]\n"                     \
                     "ldp x16, x17, [x19, #128]\n" INSN "\n"                                      \
                     "stp x0, x1, [x19, #0]\n stp x2, x3, [x19, #16]\n stp x4, x5, [x19, #32]\n"   \
                     "stp x6, x7, [x19, #48]\n stp x8, x9, [x19, #64]\n stp x10, x11, [x19, #80]\n" \
                     "stp x12, x13, [x19, #96]\n stp x14, x15, [x19, #112]\n"                     \
                     "stp x16, x17, [x19, #128]\n"                                                \
                     :                                                                             \
                     : "r"(p_)                                                                     \
                     : "x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11",   \
                       "x12", "x13", "x14", "x15", "x16", "x17", "memory");                       \
    } while (0)

enum class Via { Hvc0, Hvc1, Smc0 };
const char* const VIA_NAME[] = {"HVC #0", "HVC #1", "SMC #0"};

// What x1..x17 hold before every call: distinct values, so a clobbered register shows.
uint64_t pattern(unsigned i) { return 0x5a5a000000000000ull | (uint64_t(i) << 32) | (i * 0x01010101u); }

Regs call(Via via, uint64_t x0_in) {
    Regs r;
    r.x[0] = x0_in;
    for (unsigned i = 1; i < 18; ++i) r.x[i] = pattern(i);
    switch (via) {
    case Via::Hvc0: SMCCC_RAW_CALL("hvc #0", r); break;
    case Via::Hvc1: SMCCC_RAW_CALL("hvc #1", r); break;
    case Via::Smc0: SMCCC_RAW_CALL("smc #0", r); break;
    }
    return r;
}

// The call through `via` must leave exactly the registers `ref` (the SMC #0 answer) holds. One
// check per call (the console is slow), naming the first register that differs.
void same_as(const Regs& got, const Regs& ref, Via via, uint64_t x0_in, unsigned round) {
    unsigned i = 0;
    while (i < 18 && got.x[i] == ref.x[i]) ++i;
    if (i == 18) return;
    rt::check(false, "%s x0=%lx (call %u): x%u = %lx, the C++ path (SMC #0) gives %lx", VIA_NAME[unsigned(via)],
              x0_in, round, i, got.x[i], ref.x[i]);
}

// One function id (with the given x0[63:32]): SMC first (publishes through the C++ path), then
// HVC #0 several times (the vector), HVC #1 (full path again); all must agree, and x0 must be the
// documented value.
void compare(uint64_t x0_in, uint64_t documented, const char* what) {
    const Regs ref = call(Via::Smc0, x0_in);
    rt::check(ref.x[0] == documented, "%s via SMC #0: x0 = %lx, documented %lx", what, ref.x[0], documented);
    // The C++ path itself changes only x0 for these calls (PSCI_VERSION's set_hypercall_result
    // writes x1..x3 back as they were), so "same as SMC #0" also means "x0 only".
    for (unsigned i = 1; i < 18; ++i)
        if (ref.x[i] != pattern(i))
            rt::check(false, "%s via SMC #0 keeps x%u (%lx, got %lx)", what, i, pattern(i), ref.x[i]);
    for (unsigned round = 0; round < 4; ++round) same_as(call(Via::Hvc0, x0_in), ref, Via::Hvc0, x0_in, round);
    same_as(call(Via::Hvc1, x0_in), ref, Via::Hvc1, x0_in, 0);
    rt::printf("%s (x0=%lx): %lx from SMC #0, HVC #0 x4, HVC #1; x1..x17 kept\n", what, x0_in, ref.x[0]);
}

} // namespace

void guest_main() {
    rt::test_start("smccc-fast");
    compare(PSCI_VERSION, 0x10001, "PSCI_VERSION");                          // PSCI 1.1
    compare(SMCCC_VERSION, 0x10001, "SMCCC_VERSION");                        // SMCCC 1.1
    // SMCCC: the function id is w0; x0[63:32] is ignored by both paths alike.
    compare(0xdeadbeef00000000ull | PSCI_VERSION, 0x10001, "PSCI_VERSION, x0[63:32] set");
    compare(0xffffffff00000000ull | SMCCC_VERSION, 0x10001, "SMCCC_VERSION, x0[63:32] set");
    // Function id 0 (nothing published under it, and the fast path's empty slots hold 0) and a
    // call the vector never answers: NOT_SUPPORTED / the C++ answer, through either conduit.
    compare(0, uint64_t(PSCI_NOT_SUPPORTED), "function id 0");
    compare(0xffffffff00000000ull, uint64_t(PSCI_NOT_SUPPORTED), "function id 0, x0[63:32] set");
    compare(PSCI_MIGRATE_INFO_TYPE, 2, "PSCI_MIGRATE_INFO_TYPE");
#ifdef CXV_SMCCC_FAST_COST
    // Built as smccc-fast-cost, run under QEMU -icount shift=0 (1 counter ns per instruction): the
    // answers above could all come from the full path if publishing broke, so check that the
    // vector really answers. Not a performance assertion: the vector takes ~30 instructions, the
    // full path (SMC #0, the control) over 200; the bound sits between them.
    constexpr uint64_t N = 100;
#define SMCCC_COST(INSN)                                                                           \
    [] {                                                                                           \
        const uint64_t t0 = rt::counter();                                                         \
        for (uint64_t i = 0; i < N; ++i) {                                                         \
            register uint64_t x0 asm("x0") = PSCI_VERSION;                                         \
            asm volatile(INSN : "+r"(x0)::"x1", "x2", "x3", "memory");                             \
        }                                                                                          \
        return (rt::counter() - t0) * 1000000000ull / rt::counter_freq() / N; /* instructions */   \
    }()
    const uint64_t smc = SMCCC_COST("smc #0"), hvc = SMCCC_COST("hvc #0");
    rt::printf("instructions per PSCI_VERSION call, loop included: SMC #0 %lu, HVC #0 %lu\n", smc, hvc);
    rt::check(smc > 150, "SMC #0 takes the full exit path (%lu > 150 instructions)", smc);
    rt::check(hvc < 100, "HVC #0 is answered in the exit vector (%lu < 100 instructions)", hvc);
#endif
}
