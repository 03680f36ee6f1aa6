// Spinlocks. cxvisor runs EL2 code with interrupts masked at all times (interrupts are taken only
// as guest exits or by polling in the idle loop), so a plain spinlock is also interrupt-safe.
// Contract: never held across a guest entry; held only for short, bounded sections.
#pragma once
#include "arch.hpp" // cpu_relax: the ISA's spin-wait hint
#include <atomic>

class Spinlock {
public:
    void lock() {
        for (;;) {
            if (!m_locked.exchange(true, std::memory_order_acquire)) return;
            while (m_locked.load(std::memory_order_relaxed)) arch::cpu_relax();
        }
    }
    bool try_lock() { return !m_locked.exchange(true, std::memory_order_acquire); }
    void unlock() { m_locked.store(false, std::memory_order_release); }
    bool is_locked() const { return m_locked.load(std::memory_order_relaxed); }

private:
    std::atomic<bool> m_locked{false};
};

class SpinlockGuard {
public:
    explicit SpinlockGuard(Spinlock& l) : m_lock(l) { m_lock.lock(); }
    ~SpinlockGuard() { m_lock.unlock(); }
    SpinlockGuard(const SpinlockGuard&) = delete;
    SpinlockGuard& operator=(const SpinlockGuard&) = delete;

private:
    Spinlock& m_lock;
};
