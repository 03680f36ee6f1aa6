// Byte-sized atomics for GCC 12. RISC-V's A extension has word and doubleword AMOs and LR/SC only
// (unprivileged spec 20191213, chapter 8), and GCC 12 turns a 1-byte exchange or compare-exchange
// (std::atomic<bool>: kernel/spinlock.hpp, PerCpu flags) into a call to libatomic, which a
// freestanding image does not link. These are those two libatomic entry points (its ABI: the
// memory orders are ignored, every operation is sequentially consistent, which is never weaker
// than asked), built on a 32-bit compare-exchange of the aligned word that holds the byte (RVWMO
// makes an LR.W/SC.W on it atomic with respect to every access to its bytes).
#include "base/types.hpp"

namespace {

template <typename Update> u8 update_byte(volatile void* ptr, Update&& update, bool* done = nullptr) {
    const uptr addr = uptr(ptr);
    auto* word = reinterpret_cast<u32*>(addr & ~uptr(3));
    const u32 shift = u32(addr & 3) * 8; // little-endian: byte k is bits 8k..8k+7
    u32 old = __atomic_load_n(word, __ATOMIC_SEQ_CST);
    for (;;) {
        const u8 cur = u8(old >> shift);
        u8 next;
        if (!update(cur, next)) {
            if (done) *done = false;
            return cur;
        }
        const u32 desired = (old & ~(0xFFu << shift)) | u32(next) << shift;
        if (__atomic_compare_exchange_n(word, &old, desired, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
            if (done) *done = true;
            return cur;
        }
    }
}

} // namespace

// Defined under other C++ names with the libatomic symbol as their assembler name: GCC declares
// the __atomic_* names itself, with the builtins' signatures (the compare-exchange one with the
// `weak` flag that the library call drops).
extern "C" u8 cxv_atomic_exchange_1(volatile void* ptr, u8 value, int) asm("__atomic_exchange_1");
extern "C" bool cxv_atomic_compare_exchange_1(volatile void* ptr, void* expected, u8 desired, int, int)
    asm("__atomic_compare_exchange_1");

extern "C" u8 cxv_atomic_exchange_1(volatile void* ptr, u8 value, int) {
    return update_byte(ptr, [value](u8, u8& next) {
        next = value;
        return true;
    });
}

extern "C" bool cxv_atomic_compare_exchange_1(volatile void* ptr, void* expected, u8 desired, int, int) {
    u8* exp = static_cast<u8*>(expected);
    bool done = false;
    const u8 seen = update_byte(
        ptr,
        [exp, desired](u8 cur, u8& next) {
            next = desired;
            return cur == *exp;
        },
        &done);
    if (!done) *exp = seen;
    return done;
}
