// The output side of a VM console (PL011, virtio-console): characters are collected per line and
// emitted as one "[<vm>] <line>\n" write, so output of different VMs never interleaves mid-line.
// Live (the VM with the console input): a line left unfinished for LiveIdleMs is shown as it is,
// and the rest of that line character by character, so prompts and typed characters echo at
// once; whole lines still come out whole. When other output comes in between, the console shows
// the interrupted line again in full as it goes on (the piece's head is the line so far,
// console_write_piece), so every line the guest wrote can be read whole on the console.
//
// Locking: its own lock, a leaf taken inside the owning device's lock (lock order: device ->
// line -> console output); the idle timer takes only this lock.
#pragma once
#include "base/types.hpp"
#include "kernel/spinlock.hpp"
#include "kernel/timer.hpp"

// Where completed output lines go. write() gets one whole prefixed line ending in '\n' per call and
// is called with the line lock held, from the CPU of the guest's write.
struct ConsoleSink {
    void (*write)(void* ctx, const char* s, usize n);
    void* ctx;
    // Live output (set_live): console_write_piece's contract (kernel/log.hpp). Null: the line
    // stays line-buffered even when live.
    void (*piece)(void* ctx, const void* owner, const char* head, usize head_len, const char* s, usize n) = nullptr;
};
// The default sink: the hypervisor console (console_write from kernel/log.hpp).
ConsoleSink console_sink();

class ConsoleLine {
public:
    static constexpr usize LineMax = 160;  // longer lines are broken (emitted) at this length
    static constexpr usize VmNameMax = 31; // longer VM names are truncated in the prefix
    static constexpr u64 LiveIdleMs = 30;

    // `vm_name` is copied.
    ConsoleLine(const char* vm_name, ConsoleSink sink);
    ~ConsoleLine();
    ConsoleLine(const ConsoleLine&) = delete;
    ConsoleLine& operator=(const ConsoleLine&) = delete;

    // One character the guest wrote ('\r' is dropped: "\r\n" ends a line once). Any CPU.
    void put(char c);
    void put(const char* s, usize n);
    void set_live(bool live);
    // Emits a partial line (with a '\n' added) and ends a live line.
    void flush();

private:
    void emit_line(); // caller holds m_lock
    void show(const char* s, usize n); // a piece of the open line, after the line so far; m_lock held
    void put_locked(char c);
    static void idle_expired(void* ctx);

    Spinlock m_lock;
    ConsoleSink m_sink;
    char m_prefix[VmNameMax + 4]; // "[" name "] " NUL
    usize m_prefix_len = 0;
    char m_line[LineMax];
    usize m_line_len = 0;
    bool m_live = false;
    bool m_open = false; // part of the current line is on the console (live output)
    TimerEvent m_idle;   // shows an unfinished line of a live console
};
