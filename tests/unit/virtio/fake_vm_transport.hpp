// A virtio transport for tests with several VMs (the network device on a switch): each owns its
// queues over its own FakeGuestMemory, records used() and queue_fault() calls, goes not live on a
// queue fault as the real one does, and its DriverQueues play the driver side of any number of
// queues at chosen addresses by raw stores into the fake RAM. (fake_transport.hpp is the
// single-device one over a RingBuilder.)
#pragma once
#include "fake_guest_memory.hpp"
#include "virtio/device.hpp"

#include <gtest/gtest.h>
#include <vector>

// Every FakeVmTransport alive, so a test can check that a device never holds two devices' locks.
inline std::vector<class FakeVmTransport*>& fake_vm_transports() {
    static std::vector<FakeVmTransport*> all;
    return all;
}

// The driver side of one split queue (2.7) in fake RAM.
struct DriverQueue {
    FakeGuestMemory& mem;
    u16 size;
    u64 desc, avail, used;
    u16 avail_idx = 0;
    u16 used_seen = 0;
    u16 next_desc = 0;

    virtio::QueueConfig config(bool event_idx = false) const {
        return virtio::QueueConfig{size, desc, avail, used, event_idx, true};
    }
    struct Buf {
        u64 gpa;
        u32 len;
        bool writable;
    };
    // Writes a chain of descriptors (taken round-robin from the table) and offers it. Returns the head.
    u16 offer(const std::vector<Buf>& bufs) {
        const u16 head = next_desc;
        for (usize i = 0; i < bufs.size(); ++i) {
            const u16 d = next_desc;
            next_desc = static_cast<u16>((next_desc + 1) % size);
            const bool more = i + 1 < bufs.size();
            const u64 at = desc + 16ull * d;
            mem.put64(at, bufs[i].gpa);
            mem.put32(at + 8, bufs[i].len);
            mem.put16(at + 12, static_cast<u16>((more ? virtio::kDescFNext : 0) | (bufs[i].writable ? virtio::kDescFWrite : 0)));
            mem.put16(at + 14, next_desc);
        }
        mem.put16(avail + 4 + 2ull * (avail_idx % size), head);
        ++avail_idx;
        mem.put16(avail + 2, avail_idx);
        return head;
    }
    // The next used element, if the device returned one.
    bool take_used(u32& id, u32& len) {
        if (mem.get16(used + 2) == used_seen) return false;
        const u64 e = used + 4 + 8ull * (used_seen % size);
        id = mem.get32(e);
        len = mem.get32(e + 4);
        ++used_seen;
        return true;
    }
    u16 used_flags() { return mem.get16(used); }
};

class FakeVmTransport final : public virtio::Transport {
public:
    FakeVmTransport(FakeGuestMemory& mem, const char* vm) : m_mem(mem), m_vm(vm) {
        fake_vm_transports().push_back(this);
    }
    ~FakeVmTransport() { std::erase(fake_vm_transports(), this); }

    // Attach `d` and activate its queues (queue i's rings from `drivers[i]`), as a driver that
    // negotiated `features` and set DRIVER_OK.
    void start(virtio::Device& d, std::vector<DriverQueue*> drivers, u64 features) {
        m_dev = &d;
        d.attach(*this);
        for (usize i = 0; i < drivers.size(); ++i) {
            m_queues.emplace_back(std::make_unique<virtio::SplitQueue>(m_mem, d.queue_max_size(static_cast<u16>(i))));
            ASSERT_TRUE(m_queues.back()->activate(drivers[i]->config()).is_ok());
        }
        m_features = features;
        m_live = true;
        d.driver_ok(features);
    }
    // The driver's QueueNotify, with the device lock held as the real transport holds it.
    void notify(u16 index) {
        SpinlockGuard g(m_lock);
        m_dev->notify(index);
    }
    // Device reset (Status 0): the transport resets its queues and the device, under the lock.
    void reset() {
        SpinlockGuard g(m_lock);
        m_live = false;
        m_dev->reset();
        for (auto& q : m_queues) q->reset();
    }

    virtio::SplitQueue& queue(u16 index) override { return *m_queues.at(index); }
    virtio::GuestMemory& memory() override { return m_mem; }
    u64 features() const override { return m_features; }
    bool live() const override { return m_live; }
    void used(u16 index) override {
        if (check_locks) check_one_lock();
        ++used_calls.at(index);
    }
    void queue_fault(u16 index) override {
        ++faults.at(index);
        m_live = false; // DEVICE_NEEDS_RESET
    }
    void config_changed() override { ++config_changes; }
    Spinlock& lock() override { return m_lock; }
    const char* vm_name() const override { return m_vm; }
    const char* device_name() const override { return "eth0"; }

    void set_live(bool v) { m_live = v; }

    std::vector<int> used_calls = std::vector<int>(virtio::kMaxQueues, 0);
    std::vector<int> faults = std::vector<int>(virtio::kMaxQueues, 0);
    int config_changes = 0;
    int lock_violations = 0; // used() called while another device's lock (or not its own) was held
    bool check_locks = true; // off in multi-threaded tests (another thread may hold its own lock)

private:
    // Single-threaded tests only: when a device reports used buffers, exactly its own lock is held.
    void check_one_lock() {
        if (!m_lock.is_locked()) ++lock_violations;
        for (FakeVmTransport* t : fake_vm_transports())
            if (t != this && t->m_lock.is_locked()) ++lock_violations;
    }

    FakeGuestMemory& m_mem;
    const char* m_vm;
    virtio::Device* m_dev = nullptr;
    std::vector<std::unique_ptr<virtio::SplitQueue>> m_queues;
    u64 m_features = 0;
    bool m_live = false;
    Spinlock m_lock;
};
