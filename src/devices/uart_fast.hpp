// The emulated UART's fast block: what an ISA's guest-exit vector may answer for the two accesses
// a polling console driver makes for every character (read FR until TX has room, write DR), without
// the full exit path. On aarch64 a Linux boot prints about 15 KB this way before /init, two exits per
// character (docs/benchmarks.md, "Linux boot to /init"); boot.S low64_sync serves both from this
// block. A port whose vector does not implement it loses nothing: every access then takes the full
// path, and the ring below stays empty.
//
// The device (Pl011) owns the block and keeps it true under its lock; the vector reads it with no
// lock, from any CPU running a vCPU of the VM:
//   fr     the value a read of FR returns now (release store by the device after every change;
//          the vector reads it with an acquire load and answers it zero-extended).
//   tx_ok  1 while a DR write has no effect but adding the character to the output, i.e. while the
//          transmit interrupt status is already set (a write would set it). 0: the vector leaves
//          DR writes to the full path, which sets it.
//   head   slots reserved by the vector: it takes slot `head` (LDAXR/STXR on head) only while
//          head - tail < Slots, then stores `Committed | character` into slot[head % Slots] with a
//          release store. A full ring goes to the full path.
//   tail   slots the device has taken (drain(), under the device lock): it takes committed slots in
//          order, clears each (plain store) and then advances tail (release store), so the vector's
//          acquire load of tail sees a cleared slot before it reuses it. A slot reserved but not yet
//          committed stops the drain there: that write has not completed yet, and the next drain
//          takes it.
// One ring per device, shared by all vCPUs of the VM, so the order of the characters is the order
// of their reservations, which follows the guest's own ordering of its writes (two writes one vCPU
// makes in program order, or that two vCPUs order with a lock, reserve in that order). The device
// drains the ring before any access it handles itself (so a full-path DR write never overtakes
// fast ones), when the VM's console is flushed, and the run loop after every exit of a vCPU of the
// VM (vmm.cpp), so a character waits at most until the writing vCPU's next exit: its next WFI, the
// next interrupt, or the scheduler's slice timer.
#pragma once
#include "base/types.hpp"

struct UartFastBlock {
    static constexpr usize Slots = 64; // a power of two (the vector masks with Slots - 1)
    static constexpr u16 Committed = 0x100;

    u32 fr = 0;
    u32 tx_ok = 0;
    u64 head = 0;
    u64 tail = 0;
    u16 slot[Slots] = {};

    // Anything committed and not yet taken (a hint for the run loop's cheap test; no lock).
    bool pending() const { return __atomic_load_n(&head, __ATOMIC_RELAXED) != __atomic_load_n(&tail, __ATOMIC_RELAXED); }

    // The device, under its lock: every committed character in order, to `put`.
    template <typename Put>
    void drain(Put put) {
        u64 t = tail;
        for (;;) {
            u16& s = slot[t % Slots];
            const u16 v = __atomic_load_n(&s, __ATOMIC_ACQUIRE);
            if (!(v & Committed)) break;
            put(char(v & 0xFF));
            s = 0;
            ++t;
            __atomic_store_n(&tail, t, __ATOMIC_RELEASE);
        }
    }

    void publish(u32 fr_now, bool tx_ok_now) {
        __atomic_store_n(&fr, fr_now, __ATOMIC_RELEASE);
        __atomic_store_n(&tx_ok, u32(tx_ok_now), __ATOMIC_RELEASE);
    }
};
static_assert((UartFastBlock::Slots & (UartFastBlock::Slots - 1)) == 0);
