#include "kernel/heap.hpp"
#include "kernel/frames.hpp"
#include "kernel/log.hpp"
#include "kernel/spinlock.hpp"
#include <new>

namespace {

struct Block {
    usize size; // bytes including this header
    Block* next; // free list only
};
constexpr usize HEADER = 16;
constexpr usize MIN_SPLIT = 64;

Block* g_free;
Spinlock g_lock;
usize g_free_bytes;

} // namespace

Result<void> heap_init(usize bytes) {
    bytes = align_up(bytes, FRAME_SIZE);
    // Not zeroed here: kmalloc zeroes each piece it hands out, so only the heap cxvisor uses is
    // ever written (8 MiB zeroed at boot was 8 MiB more RAM for the host to back at once).
    HostPhysAddr pa = TRY(frames_alloc_unzeroed(bytes / FRAME_SIZE, FRAME_SIZE));
    g_free = reinterpret_cast<Block*>(pa.value());
    g_free->size = bytes;
    g_free->next = nullptr;
    g_free_bytes = bytes;
    return {};
}

void* kmalloc(usize size) {
    usize need = align_up(size + HEADER, 16);
    Block* taken = nullptr;
    {
        SpinlockGuard guard(g_lock);
        for (Block** link = &g_free; *link; link = &(*link)->next) {
            Block* b = *link;
            if (b->size < need) continue;
            if (b->size - need >= MIN_SPLIT) {
                auto* rest = reinterpret_cast<Block*>(reinterpret_cast<char*>(b) + need);
                rest->size = b->size - need;
                rest->next = b->next;
                *link = rest;
                b->size = need;
            } else {
                *link = b->next;
            }
            g_free_bytes -= b->size;
            taken = b;
            break;
        }
    }
    if (!taken) return nullptr;
    // Every allocation starts zeroed (outside the lock: the block is ours), the first from a pool
    // that never was and a reused one alike: a member a constructor leaves out never shows another
    // object's data.
    __builtin_memset(reinterpret_cast<char*>(taken) + HEADER, 0, taken->size - HEADER);
    return reinterpret_cast<char*>(taken) + HEADER;
}

void kfree(void* p) {
    if (!p) return;
    auto* b = reinterpret_cast<Block*>(static_cast<char*>(p) - HEADER);
    SpinlockGuard guard(g_lock);
    g_free_bytes += b->size;
    // Keep the list address-ordered and merge neighbours, so long runs do not fragment.
    Block** link = &g_free;
    while (*link && *link < b) link = &(*link)->next;
    b->next = *link;
    *link = b;
    if (b->next && reinterpret_cast<char*>(b) + b->size == reinterpret_cast<char*>(b->next)) {
        b->size += b->next->size;
        b->next = b->next->next;
    }
    if (link != &g_free) {
        auto* prev = reinterpret_cast<Block*>(reinterpret_cast<char*>(link) - offsetof(Block, next));
        if (reinterpret_cast<char*>(prev) + prev->size == reinterpret_cast<char*>(b)) {
            prev->size += b->size;
            prev->next = b->next;
        }
    }
}

usize heap_free_bytes() { return g_free_bytes; }

// C++ runtime hooks. Left out of host unit-test builds (CXV_HOST_TEST), where the host C++ runtime
// and the sanitizers own operator new/delete and tests call kmalloc/kfree directly.
#ifndef CXV_HOST_TEST
// `new` failing is reported by returning nullptr only through the nothrow form;
// cxvisor code uses `new (std::nothrow)` and checks, so the throwing form failing is a bug.
void* operator new(usize size) {
    void* p = kmalloc(size);
    if (!p) panic("operator new: out of heap (%zu bytes)", size);
    return p;
}
void* operator new[](usize size) { return operator new(size); }
void* operator new(usize size, const std::nothrow_t&) noexcept { return kmalloc(size); }
void* operator new[](usize size, const std::nothrow_t&) noexcept { return kmalloc(size); }
void operator delete(void* p) noexcept { kfree(p); }
void operator delete(void* p, usize) noexcept { kfree(p); }
void operator delete[](void* p) noexcept { kfree(p); }
void operator delete[](void* p, usize) noexcept { kfree(p); }

extern "C" void __cxa_pure_virtual() { panic("pure virtual function called"); }

// The one object <new> declares and libstdc++ would otherwise provide.
namespace std {
const nothrow_t nothrow{};
}
#endif // CXV_HOST_TEST
