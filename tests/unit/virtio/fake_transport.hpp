// A virtio Transport for device tests: one or more SplitQueues over a RingBuilder's fake RAM,
// activated as a driver would after writing QueueReady, and counters for what the device asked of
// the transport (used-buffer interrupts, queue faults, configuration changes).
#pragma once
#include "ring_builder.hpp"
#include "virtio/device.hpp"

#include <memory>
#include <vector>

class FakeTransport final : public virtio::Transport {
public:
    FakeTransport(RingBuilder& ring, virtio::Device& dev, u64 features = virtio::kFVersion1)
        : m_ring(ring), m_dev(dev), m_features(features) {
        for (u16 i = 0; i < dev.queue_count(); ++i)
            m_queues.push_back(std::make_unique<virtio::SplitQueue>(ring.mem, dev.queue_max_size(i)));
        dev.attach(*this);
    }
    // Queue 0 on the ring builder's rings (the driver's QueueReady = 1).
    bool activate(bool event_idx = false) {
        return m_queues[0]->activate(m_ring.config(event_idx, true)).is_ok();
    }

    virtio::SplitQueue& queue(u16 index) override { return *m_queues.at(index); }
    virtio::GuestMemory& memory() override { return m_ring.mem; }
    u64 features() const override { return m_features; }
    bool live() const override { return true; }
    void used(u16) override { ++used_calls; }
    void queue_fault(u16) override { ++faults; }
    void config_changed() override { ++config_changes; }
    Spinlock& lock() override { return m_lock; }
    const char* vm_name() const override { return "testvm"; }
    const char* device_name() const override { return "vda"; }

    unsigned used_calls = 0, faults = 0, config_changes = 0;

private:
    RingBuilder& m_ring;
    virtio::Device& m_dev;
    u64 m_features;
    std::vector<std::unique_ptr<virtio::SplitQueue>> m_queues;
    Spinlock m_lock;
};
