// What the emulated UARTs (PL011, 16550) share: the receive FIFO fed by the host console with the
// backpressure contract of ConsolePort::push_input, the output line (ConsoleLine), the interrupt
// line driven only when its level changes, and the locking pattern around every access (device
// lock; line update under it; the console's waker called after it is released).
//
// UartBase<Uart> is a CRTP base: the device supplies, all called with m_lock held,
//   usize host_rx_depth() const  characters the FIFO takes from the host now (its depth, 1 with
//                                FIFOs off, 0 while the host cannot reach the receiver at all);
//   u16 rx_entry(char c)         the FIFO entry for a received character (may add error flags);
//   void rx_stored()             a received character was stored (interrupt state);
//   void rx_lost()               a character was lost at a full FIFO (overrun);
//   bool irq_level() const       the level of the device's interrupt output.
// and optionally (a device with an exit-vector fast block, devices/uart_fast.hpp):
//   void fast_drain()            take what the vector wrote, before the device handles an access;
//   void fast_publish()          make the block true again after a change.
#pragma once
#include "devices/console_line.hpp"
#include "devices/console_port.hpp"
#include "devices/mmio_device.hpp"
#include "kernel/spinlock.hpp"
#include "vintc/irq_line.hpp"

// A UART's receive FIFO: up to Capacity entries, of which `depth` (the device's current FIFO
// depth) are usable. Not locked: the owning device's lock protects it.
class UartRxFifo {
public:
    static constexpr usize Capacity = 32; // the largest FIFO modelled (PL011 r1p5)
    enum class Push : u8 { Stored, Refused, Lost };

    // One character from the host console (ConsolePort::push_input's contract). Full: Refused,
    // keeping `waker` to call once there is room (take_waker), unless the host is overdue or was
    // overdue since the guest last read: then Lost, and input keeps being lost, without waiting,
    // until the guest reads (pop).
    Push push(u16 entry, usize depth, ConsolePort::Waker waker, bool overdue) {
        if (m_count >= depth) {
            if (!overdue && !m_overdue) {
                m_waker = waker; // the caller keeps the character and offers it again then
                return Push::Refused;
            }
            m_overdue = true;
            m_waker = nullptr; // the caller let go of its character: nothing waits any more
            return Push::Lost;
        }
        store(entry);
        return Push::Stored;
    }
    // A character from inside the device (loopback): stored if there is room, else false.
    bool store_if_room(u16 entry, usize depth) {
        if (m_count >= depth) return false;
        store(entry);
        return true;
    }
    // The guest reads the oldest entry (0 when empty); input is waited for again.
    u16 pop() {
        if (m_count == 0) return 0;
        u16 e = m_buf[m_head];
        m_head = (m_head + 1) % Capacity;
        --m_count;
        m_overdue = false;
        return e;
    }
    usize count() const { return m_count; }
    // Empties the FIFO (device reset, FIFO reset). A refused character's waker stays, so the
    // host offers it again at once.
    void clear() {
        m_head = m_count = 0;
        m_overdue = false;
    }
    // The waker of a refused character, once the FIFO has room for host input (then forgotten).
    ConsolePort::Waker take_waker(usize depth) {
        if (!m_waker || m_count >= depth) return nullptr;
        ConsolePort::Waker w = m_waker;
        m_waker = nullptr;
        return w;
    }

private:
    void store(u16 entry) {
        m_buf[(m_head + m_count) % Capacity] = entry;
        ++m_count;
    }
    u16 m_buf[Capacity];
    usize m_head = 0, m_count = 0;
    bool m_overdue = false; // the host gave up waiting: input that finds the FIFO full is lost
    ConsolePort::Waker m_waker = nullptr;
};

template <typename Uart>
class UartBase : public MmioDevice, public ConsolePort {
public:
    static constexpr usize LineMax = ConsoleLine::LineMax;     // longer lines are broken (emitted)
    static constexpr usize VmNameMax = ConsoleLine::VmNameMax; // longer VM names are truncated
    static constexpr u64 LiveIdleMs = ConsoleLine::LiveIdleMs;

    // The interrupt output drives `line` from now on: set(level) whenever the level changes (and
    // at once if it is high). Called by the VM builder before the first vCPU runs. The line is
    // driven with the device lock held, as irq_line.hpp allows, so level changes reach the sink
    // in order.
    void connect_irq(IrqLine line) {
        SpinlockGuard guard(m_lock);
        m_irq = line;
        m_irq_level = false; // a new line starts low; drive it if the output is already high
        update_irq();
    }

    // ConsolePort. push_input: from any CPU with the console input lock held (lock order:
    // console input -> UART); takes the device lock. See ConsolePort and UartRxFifo::push.
    bool push_input(char c, Waker waker = nullptr, bool overdue = false) override {
        SpinlockGuard guard(m_lock);
        switch (m_rx.push(uart().rx_entry(c), uart().host_rx_depth(), waker, overdue)) {
        case UartRxFifo::Push::Refused: return false;
        case UartRxFifo::Push::Lost: uart().rx_lost(); break;
        case UartRxFifo::Push::Stored: uart().rx_stored(); break;
        }
        update_irq();
        publish();
        return true;
    }
    // Live (the VM with console input): see ConsoleLine. Any CPU.
    void set_live(bool live) override { m_out.set_live(live); }
    // Emits a partial line (with a '\n' added). Called when the VM stops, from any CPU.
    void flush() override {
        {
            SpinlockGuard guard(m_lock);
            drain();
        }
        m_out.flush();
    }
    const char* port_name() const override { return name(); }

    // Level of the interrupt output. Any CPU.
    bool irq_pending() {
        SpinlockGuard guard(m_lock);
        return uart().irq_level();
    }

protected:
    // `name` must outlive the device; `vm_name` is copied.
    UartBase(const char* name, GuestPhysAddr base, u64 size, const char* vm_name, ConsoleSink sink)
        : MmioDevice(name, base, size), m_out(vm_name, sink) {}
    ~UartBase() = default;

    // Runs f() under m_lock, then drives the interrupt line and, outside the lock, the waker if
    // the change made room for host input: every guest access and the reset go through it.
    template <typename F>
    auto change(F f) {
        Waker waker = nullptr;
        auto r = [&] {
            SpinlockGuard guard(m_lock);
            drain(); // what the exit vector took went before this access
            auto v = f();
            update_irq();
            publish();
            waker = m_rx.take_waker(uart().host_rx_depth());
            return v;
        }();
        // Outside the lock: the waker offers the held character again, which takes this lock.
        if (waker) waker();
        return r;
    }

    // Drives the line if the output level changed (no controller lock round trip otherwise).
    // Caller holds m_lock.
    void update_irq() {
        const bool level = uart().irq_level();
        if (level == m_irq_level) return;
        m_irq_level = level;
        m_irq.set(level);
    }

    // The optional fast-block hooks (above). Caller holds m_lock.
    void drain() {
        if constexpr (requires(Uart& u) { u.fast_drain(); }) uart().fast_drain();
    }
    void publish() {
        if constexpr (requires(Uart& u) { u.fast_publish(); }) uart().fast_publish();
    }

    Spinlock m_lock;
    ConsoleLine m_out; // transmitted characters, by line (its lock nests inside m_lock)
    UartRxFifo m_rx;
    IrqLine m_irq;
    bool m_irq_level = false; // what m_irq was last driven to

private:
    Uart& uart() { return static_cast<Uart&>(*this); }
    const Uart& uart() const { return static_cast<const Uart&>(*this); }
};
