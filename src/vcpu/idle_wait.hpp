// Waiting in the guest (docs/architecture.md "Waiting in the guest"): the bookkeeping every
// backend that lets a guest's wait-for-interrupt run inside the guest shares. The ISA part is the
// backend's: which instruction traps (WFI), how its trap is turned off for one wait (aarch64
// HCR_EL2.TWI, riscv64 hstatus.VTW: `set_native`), and what counts as pending for the guest.
//
// The rules, the same on every ISA:
// - a trapped wait instruction, with the scheduler's permission (allow, sched_begin_idle_wait) and
//   nothing pending for the guest, is noted and re-entered with its trap off (`begin`);
// - a host interrupt that ends the run at the instruction or just past it (the ISA's return
//   address after an interrupt that completed the wait) leaves it noted (`host_interrupt`); any
//   other exit ends it (`other_exit`);
// - before the next entry (`resume`): still at or just past it, nothing pending and the permission
//   held, the guest goes back to the instruction, so it never sees a wake-up it would not have had
//   on a CPU of its own; with something pending the instruction completes; without the
//   permission it executes again, trapped, and the vCPU blocks as before;
// - a vCPU put off its CPU while waiting resumes at the instruction (`put`).
#pragma once
#include "base/types.hpp"
#include "kernel/sched.hpp"

class IdleWait {
public:
    using SetNative = void (*)(void* owner, bool native); // the wait instruction's trap off (true) or on
    IdleWait(u64 insn_len, SetNative set_native, void* owner) : m_len(insn_len), m_set(set_native), m_owner(owner) {}

    bool noted() const { return m_pc != NONE; }
    void allow(bool allowed) { m_allowed = allowed; }
    bool allowed() const { return m_allowed; }

    // A trapped wait instruction at `pc`: true when it now waits in the guest (re-enter at `pc`).
    bool begin(u64 pc, bool pending) {
        if (!m_allowed || pending || !sched_begin_idle_wait()) return false;
        m_pc = pc;
        native(true);
        return true;
    }
    // Before an entry with a wait noted; `pc` is the guest's resume address.
    void resume(u64& pc, bool pending) {
        const bool at = pc == m_pc, past = pc == m_pc + m_len;
        if ((at || past) && !pending) {
            // Nothing for the guest: it stays at its wait, inside the guest while the permission
            // holds, else trapped (it executes the instruction again and the vCPU blocks).
            pc = m_pc;
            if (m_allowed && sched_begin_idle_wait()) return native(true);
        } else if (at) {
            pc += m_len; // an interrupt for the guest completes it
        }
        end();
    }
    void host_interrupt(u64 pc) {
        if (noted() && pc != m_pc && pc != m_pc + m_len) end();
    }
    void other_exit() {
        if (noted()) end(); // the guest ran on past its wait
    }
    void put(u64& pc) {
        if (!noted()) return;
        pc = m_pc;
        end();
    }
    // An Off vCPU being reset: it was put(), so nothing is noted and the trap is on.
    void forget() {
        m_pc = NONE;
        m_native = false;
    }
    void end() {
        m_pc = NONE;
        sched_end_idle_wait();
        native(false);
    }

private:
    static constexpr u64 NONE = ~0ull;
    void native(bool on) {
        if (m_native == on) return;
        m_set(m_owner, on);
        m_native = on;
    }

    u64 m_pc = NONE; // the wait instruction the guest waits in, or NONE; its trap is off only then
    u64 m_len;
    SetNative m_set;
    void* m_owner;
    bool m_allowed = false; // the last allow_idle_in_guest()
    bool m_native = false;
};
