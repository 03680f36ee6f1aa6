// The guest-exit fast path for SMCCC calls whose answer is a constant of the machine
// (boot.S, `low64_sync`): a trapped `HVC #0` whose function id is published here is answered in
// registers at the exception vector and ERETs straight back, without saving the guest's
// registers, the branch-predictor mitigation or any C++ (SMCCC DEN0028 F, PSCI DEN0022 D; the
// security argument is written down at `low64_sync`).
//
// Vcpu::handle_smccc stays the single source of truth for every value: the table starts empty, and
// the first time handle_smccc answers a listed call it publishes what it put in x0. From then on
// the vector gives that same x0 to every guest. Nothing here knows a value.
//
// Contract for callers of publish<Fid>(x0): only from the handle_smccc case of `Fid`, and only if
// that case's whole effect is "x0 = value", where value depends on nothing but Fid: not on the VM,
// the vCPU, an argument register or time, and the call has no side effect (no state changes, no
// exit to level 2/3, no other register written with a new value). The fast path writes x0 only.
// Never list a call that must do work at EL2 (SMCCC_ARCH_WORKAROUND_1/_3 run the Spectre
// mitigation on exit; the fast path skips it) or whose answer depends on an argument
// (PSCI_FEATURES, SMCCC_ARCH_FEATURES).
#pragma once
#include "abi/smccc.hpp"
#include "asm_offsets.hpp"
#include "base/types.hpp"

namespace arch::smccc_fast {

// One published answer; the layout is read by boot.S (SMCCC_FAST_ENTRY_* in asm_offsets.hpp).
struct Entry {
    u64 fid; // function id (bits [31:0] of the guest's x0); 0 = not published yet. Stored last.
    u64 x0;  // what handle_smccc answered in x0
};
static_assert(sizeof(Entry) == SMCCC_FAST_ENTRY_SIZE && __builtin_offsetof(Entry, fid) == SMCCC_FAST_ENTRY_FID &&
              __builtin_offsetof(Entry, x0) == SMCCC_FAST_ENTRY_X0);

// The calls the vector may answer, one slot each, in this order (the most frequent first: the
// vector compares the slots in order). A guest x0 of 0 never matches an empty slot: boot.S sends
// function id 0 down the full path.
inline constexpr u32 IDS[] = {u32(cxv_abi::PSCI_VERSION), u32(cxv_abi::SMCCC_VERSION)};
static_assert(sizeof(IDS) / sizeof(IDS[0]) == SMCCC_FAST_SLOTS);
// The vector sends every SMC64 id (bit 30 set, SMCCC DEN0028 F 2.5 "Function Identifiers") down
// the full path before it looks at the table, so cxvisor's own hypercalls (0xC6...) pay one
// instruction for the fast path, not a table scan: only SMC32 ids may be listed.
consteval bool all_smc32() {
    for (u32 id : IDS)
        if (id & (1u << 30)) return false;
    return true;
}
static_assert(all_smc32());

consteval usize slot_of(u32 fid) {
    for (usize i = 0; i < SMCCC_FAST_SLOTS; ++i)
        if (IDS[i] == fid) return i;
    return SMCCC_FAST_SLOTS; // not listed: publish<> does not compile
}

} // namespace arch::smccc_fast

// Defined in boot.S (.data): written only by publish<>, read by the exit vector of every CPU.
extern "C" arch::smccc_fast::Entry cxv_smccc_fast[SMCCC_FAST_SLOTS];

namespace arch::smccc_fast {

// Publishes handle_smccc's answer for Fid (see the contract above). Any CPU, any time, no lock:
// every caller stores the same value, and the release store of `fid` orders the answer before
// it, pairing with the vector's load-acquire (LDAR) of `fid` before it reads `x0` (Arm ARM
// DDI0487 K.a, B2.3 "Definition of the Arm memory model", Load-Acquire/Store-Release).
template <u32 Fid> inline void publish(u64 x0) {
    constexpr usize slot = slot_of(Fid);
    static_assert(slot < SMCCC_FAST_SLOTS, "this function id is not one the exit vector may answer");
    static_assert(Fid != 0);
    Entry& e = cxv_smccc_fast[slot];
    __atomic_store_n(&e.x0, x0, __ATOMIC_RELAXED);
    __atomic_store_n(&e.fid, u64(Fid), __ATOMIC_RELEASE);
}

} // namespace arch::smccc_fast
