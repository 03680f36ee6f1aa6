#include "devices/uart16550.hpp"

namespace {
// Register offsets (PC16550D, "Register Addresses", with reg-shift 0).
enum Reg : u64 { RBR_THR_DLL = 0, IER_DLM = 1, IIR_FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7 };

constexpr u8 IER_ERBFI = 1u << 0, IER_ETBEI = 1u << 1, IER_ELSI = 1u << 2, IER_EDSSI = 1u << 3;
constexpr u8 IIR_RLS = 0x6, IIR_RDA = 0x4, IIR_CTI = 0xC, IIR_THRE = 0x2, IIR_MS = 0x0;
constexpr u8 IIR_FIFOS_ENABLED = 0xC0;
constexpr u8 FCR_FIFO_ENABLE = 1u << 0, FCR_RX_RESET = 1u << 1;
constexpr u8 FCR_STORED = 0xC9; // RCVR trigger (7:6), DMA mode (3), FIFO enable (0); 1, 2 self-clear
constexpr u8 LCR_DLAB = 1u << 7;
constexpr u8 MCR_DTR = 1u << 0, MCR_RTS = 1u << 1, MCR_OUT1 = 1u << 2, MCR_OUT2 = 1u << 3;
constexpr u8 MCR_MASK = 0x1F;
constexpr u8 LSR_DR = 1u << 0, LSR_OE = 1u << 1, LSR_THRE = 1u << 5, LSR_TEMT = 1u << 6;
constexpr u8 MSR_DCTS = 1u << 0, MSR_DDSR = 1u << 1, MSR_TERI = 1u << 2, MSR_DDCD = 1u << 3;
constexpr u8 MSR_CTS = 1u << 4, MSR_DSR = 1u << 5, MSR_RI = 1u << 6, MSR_DCD = 1u << 7;
} // namespace

Uart16550::Uart16550(const char* name, GuestPhysAddr base, const char* vm_name, ConsoleSink sink, u64 window)
    : UartBase(name, base, window, vm_name, sink) {}

Result<u64> Uart16550::read(u64 offset, unsigned width_bytes) {
    if (width_bytes != 1) return Error::InvalidArgument;
    if (offset > SCR) return Error::OutOfRange;
    return change([&] { return read_reg(offset); });
}

Result<void> Uart16550::write(u64 offset, unsigned width_bytes, u64 value) {
    if (width_bytes != 1) return Error::InvalidArgument;
    if (offset > SCR) return Error::OutOfRange;
    change([&] {
        write_reg(offset, u8(value));
        return true;
    });
    return {};
}

void Uart16550::put_output(char c) {
    change([&] {
        transmit(u8(c));
        return true;
    });
}

usize Uart16550::rx_trigger() const {
    // FCR bits 7:6, "RCVR FIFO Trigger Level (Bytes)": 01, 04, 08, 14. With FIFOs off the holding
    // register counts as full with one character.
    static constexpr usize Trigger[4] = {1, 4, 8, 14};
    return fifo_on() ? Trigger[m_fcr >> 6] : 1;
}

u8 Uart16550::interrupt_id() const {
    // "Interrupt Control Functions": the highest-priority pending source is the one IIR names.
    if ((m_ier & IER_ELSI) && m_overrun) return IIR_RLS;
    if ((m_ier & IER_ERBFI) && m_rx.count() > 0) return m_rx.count() >= rx_trigger() ? IIR_RDA : IIR_CTI;
    if ((m_ier & IER_ETBEI) && m_thr_pending) return IIR_THRE;
    if ((m_ier & IER_EDSSI) && m_msr_delta) return IIR_MS;
    return IirNoInterrupt;
}

u8 Uart16550::modem_inputs() const {
    if (!loopback()) return MSR_CTS | MSR_DSR | MSR_DCD; // a connected terminal
    // "Modem Control Register", bit 4: in loopback the four modem control outputs drive the four
    // modem status inputs.
    u8 in = 0;
    if (m_mcr & MCR_RTS) in |= MSR_CTS;
    if (m_mcr & MCR_DTR) in |= MSR_DSR;
    if (m_mcr & MCR_OUT1) in |= MSR_RI;
    if (m_mcr & MCR_OUT2) in |= MSR_DCD;
    return in;
}

void Uart16550::transmit(u8 c) {
    // In loopback the serial output is looped back to the receiver; a full receiver overruns.
    if (loopback()) {
        if (!m_rx.store_if_room(c, rx_depth())) m_overrun = true;
    } else {
        m_out.put(char(c));
    }
    m_thr_pending = true; // THR empties at once: the THRE interrupt follows every write
}

void Uart16550::write_mcr(u8 value) {
    const u8 before = modem_inputs();
    m_mcr = value & MCR_MASK;
    const u8 after = modem_inputs();
    // "Modem Status Register": DCTS, DDSR, DDCD on any change of CTS, DSR, DCD; TERI when RI goes
    // from asserted to not asserted.
    const u8 changed = before ^ after;
    if (changed & MSR_CTS) m_msr_delta |= MSR_DCTS;
    if (changed & MSR_DSR) m_msr_delta |= MSR_DDSR;
    if ((before & MSR_RI) && !(after & MSR_RI)) m_msr_delta |= MSR_TERI;
    if (changed & MSR_DCD) m_msr_delta |= MSR_DDCD;
}

Result<u64> Uart16550::read_reg(u64 offset) {
    const bool dlab = m_lcr & LCR_DLAB;
    switch (offset) {
    case RBR_THR_DLL:
        if (dlab) return u64(m_dll);
        return u64(m_rx.pop() & 0xFF); // the guest reads its input: the host is waited for again
    case IER_DLM: return u64(dlab ? m_dlm : m_ier);
    case IIR_FCR: {
        const u8 id = interrupt_id();
        if (id == IIR_THRE) m_thr_pending = false; // reading IIR resets the THRE source it reports
        return u64(id | (fifo_on() ? IIR_FIFOS_ENABLED : 0));
    }
    case LCR: return u64(m_lcr);
    case MCR: return u64(m_mcr);
    case LSR: {
        u8 lsr = LSR_THRE | LSR_TEMT;
        if (m_rx.count() > 0) lsr |= LSR_DR;
        if (m_overrun) lsr |= LSR_OE;
        m_overrun = false; // error bits are reset by reading LSR
        return u64(lsr);
    }
    case MSR: {
        const u8 msr = modem_inputs() | m_msr_delta;
        m_msr_delta = 0; // delta bits are reset by reading MSR
        return u64(msr);
    }
    default: return u64(m_scr); // SCR (the callers checked the offset)
    }
}

void Uart16550::write_reg(u64 offset, u8 value) {
    const bool dlab = m_lcr & LCR_DLAB;
    switch (offset) {
    case RBR_THR_DLL:
        if (dlab) m_dll = value;
        else transmit(value);
        break;
    case IER_DLM:
        if (dlab) {
            m_dlm = value;
            break;
        }
        // Enabling ETBEI while THR is empty (always, here) raises the THRE interrupt.
        if ((value & IER_ETBEI) && !(m_ier & IER_ETBEI)) m_thr_pending = true;
        m_ier = value & 0x0F;
        break;
    case IIR_FCR: {
        // "FIFO Control Register": FCR0 must be 1 for the other bits to be programmed; changing
        // it clears both FIFOs, and FCR1 clears the receiver FIFO (self-clearing).
        const u8 fcr = (value & FCR_FIFO_ENABLE) ? (value & FCR_STORED) : 0;
        const bool mode_change = (fcr ^ m_fcr) & FCR_FIFO_ENABLE;
        if (mode_change || ((fcr & FCR_FIFO_ENABLE) && (value & FCR_RX_RESET))) m_rx.clear();
        m_fcr = fcr;
        break;
    }
    case LCR: m_lcr = value; break;
    case MCR: write_mcr(value); break;
    case LSR: case MSR: break; // factory test only: ignored
    default: m_scr = value; break; // SCR
    }
}

void Uart16550::reset() {
    change([&] {
        m_rx.clear();
        m_ier = m_fcr = m_lcr = m_mcr = m_scr = m_dll = m_dlm = m_msr_delta = 0;
        m_overrun = m_thr_pending = false;
        return true;
    });
}
