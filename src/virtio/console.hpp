// virtio-console with one port (virtio spec v1.2, 5.3 "Console Device"; no VIRTIO_CONSOLE_F_MULTIPORT,
// so queue 0 is port 0's receiveq and queue 1 its transmitq, 5.3.2).
//
// transmitq: what the guest writes goes to the VM's console output a line at a time with the
// "[<vm>] " prefix, through the same ConsoleLine as the PL011 (live output when the VM has the
// console input). receiveq: what the operator types (ConsolePort::push_input) is kept in a small
// buffer and copied into the driver's receive buffers as they become available: input is never
// lost because the receive queue happens to be empty. When the buffer is full the port refuses
// input like a full PL011 FIFO and wakes the console input once the driver has taken some (the
// console then offers the held character again); only a driver that takes nothing for the console's
// patience period loses input.
//
// VIRTIO_CONSOLE_F_EMERG_WRITE (5.3.3) is offered: a 32-bit write of emerg_wr outputs a character
// before the queues are up.
//
// Locking: everything runs under the transport's lock (device.hpp): register accesses through the
// transport, console input through push_input. The input waker runs outside it (after_access).
#pragma once
#include "devices/console_line.hpp"
#include "devices/console_port.hpp"
#include "virtio/device.hpp"
#include <atomic>

namespace virtio {

class ConsoleDevice final : public Device, public ConsolePort {
public:
    static constexpr u16 QueueSize = 128;
    static constexpr usize InputBuffer = 256; // characters typed but not yet in a receive buffer
    static constexpr u32 TxBudgetBytes = 16 * 1024; // output per notification; more is dropped
    static constexpr u64 kFEmergWrite = 1ull << 2; // VIRTIO_CONSOLE_F_EMERG_WRITE (5.3.3)
    static constexpr u16 ReceiveQ = 0, TransmitQ = 1;

    // `name` must outlive the device (the package's device name); `vm_name` is copied.
    ConsoleDevice(const char* name, const char* vm_name, ConsoleSink sink = console_sink());

    // Device
    u32 device_id() const override { return kDeviceIdConsole; }
    u64 device_features() const override { return kFEmergWrite; }
    u16 queue_count() const override { return 2; }
    u16 queue_max_size(u16) const override { return QueueSize; }
    u32 config_read(u32 offset, unsigned width) override;
    void config_write(u32 offset, unsigned width, u32 value) override;
    void driver_ok(u64 features) override;
    void reset() override;
    void notify(u16 index) override;
    void after_access() override;
    ConsolePort* console_port() override { return this; }

    // ConsolePort
    bool push_input(char c, Waker waker = nullptr, bool overdue = false) override;
    void set_live(bool live) override { m_out.set_live(live); }
    void flush() override { m_out.flush(); }
    void put_output(char c) override { m_out.put(c); }
    const char* port_name() const override { return m_name; }

    // Characters typed and not yet delivered (tests, `vm show`). Takes the transport's lock.
    usize pending_input();

private:
    void transmit();   // caller holds the transport's lock
    void receive();    // caller holds the transport's lock
    // Pops the next chain of queue `index` into m_chain; with EVENT_IDX/NO_NOTIFY it asks the
    // driver for a notification before reporting the queue empty (2.7.10). false: empty or
    // faulted (then reported through the transport).
    bool next_chain(u16 index, bool& armed);

    const char* m_name;
    ConsoleLine m_out;
    Chain m_chain;
    char m_in[InputBuffer];
    usize m_in_head = 0, m_in_count = 0;
    bool m_in_overdue = false; // the console gave up waiting: input finding the buffer full is lost
    Waker m_waker = nullptr;   // a refused push_input waits for room
    std::atomic<Waker> m_wake_now{nullptr}; // room was made under the lock: after_access calls it
};

} // namespace virtio
