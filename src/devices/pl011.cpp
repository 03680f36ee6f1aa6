#include "devices/pl011.hpp"
#include "base/string.hpp"
#include "kernel/log.hpp"
#include "arch.hpp"

namespace {
// Register offsets (DDI0183 3.2 "Summary of registers").
enum Reg : u64 {
    DR = 0x000, RSR_ECR = 0x004, FR = 0x018, ILPR = 0x020, IBRD = 0x024, FBRD = 0x028,
    LCR_H = 0x02C, CR = 0x030, IFLS = 0x034, IMSC = 0x038, RIS = 0x03C, MIS = 0x040,
    ICR = 0x044, DMACR = 0x048, PERIPH_ID0 = 0xFE0, PCELL_ID3 = 0xFFC,
};

// UARTFR bits. TXFF (bit 5) always reads 0: the transmitter takes every character at once.
constexpr u32 FR_RXFE = 1u << 4, FR_RXFF = 1u << 6, FR_TXFE = 1u << 7;
// UARTDR error bit and UARTRSR bit for an overrun (3.3.1, 3.3.2).
constexpr u16 DR_OE = 1u << 11;
constexpr u32 RSR_OE = 1u << 3;
// UARTIMSC/RIS/MIS/ICR bits (3.3.10-3.3.13): RXIM/RXRIS/RXMIS/RXIC share a position, and so on.
constexpr u32 INT_RX = 1u << 4, INT_TX = 1u << 5, INT_RT = 1u << 6, INT_OE = 1u << 10;
constexpr u32 INT_ALL = 0x7FF;
constexpr u32 LCR_H_FEN = 1u << 4;

// UARTPeriphID0-3 then UARTPCellID0-3. PeriphID: part 0x011, designer 0x41 (ARM), revision 3
// (r1p5). Linux derives the FIFO depth from the revision (< 3 means 16 entries), so it must
// match our 32-entry FIFO.
constexpr u8 IdRegs[8] = {0x11, 0x10, 0x34, 0x00, 0x0D, 0xF0, 0x05, 0xB1};
} // namespace

Pl011::Pl011(const char* name, GuestPhysAddr base, const char* vm_name, Pl011Sink sink)
    : UartBase(name, base, WindowSize, vm_name, sink) {
    fast_publish();
}

u32 Pl011::fr() const {
    u32 fr = FR_TXFE; // TX drains instantly: never full, never busy
    if (m_rx.count() == 0) fr |= FR_RXFE;
    if (m_rx.count() >= rx_depth()) fr |= FR_RXFF;
    return fr;
}

// A DR write sets RIS.TXRIS and adds the character to the output (write_reg): once TXRIS is set,
// the output is its only effect, which is what the vector may do alone.
void Pl011::fast_publish() { m_fast.publish(fr(), (m_ris & INT_TX) != 0); }

void Pl011::fast_drain() {
    m_fast.drain([&](char c) { m_out.put(c); });
}

Result<u64> Pl011::read(u64 offset, unsigned width_bytes) {
    if (width_bytes > 4 || !is_aligned(offset, 4)) return Error::InvalidArgument;
    return change([&] { return read_reg(offset); });
}

Result<void> Pl011::write(u64 offset, unsigned width_bytes, u64 value) {
    if (width_bytes > 4 || !is_aligned(offset, 4)) return Error::InvalidArgument;
    return change([&] { return write_reg(offset, u32(value)); });
}

usize Pl011::rx_depth() const { return (m_lcr_h & LCR_H_FEN) ? RxFifoDepth : 1; }

usize Pl011::rx_trigger() const {
    // RXIFLSEL (UARTIFLS bits 5:3): 1/8, 1/4, 1/2, 3/4, 7/8 of the FIFO; the reserved encodings
    // are taken as 1/2. With FIFOs off the one-character holding register triggers when full.
    static constexpr usize Trigger[8] = {4, 8, 16, 24, 28, 16, 16, 16};
    return (m_lcr_h & LCR_H_FEN) ? Trigger[(m_ifls >> 3) & 7] : 1;
}

Result<u64> Pl011::read_reg(u64 offset) {
    switch (offset) {
    case DR: {
        // Pop the oldest character. Reading an empty FIFO returns 0 (the hardware's value is stale).
        if (m_rx.count() == 0) return u64(0);
        u16 entry = m_rx.pop(); // the guest reads its input again: wait for it once more
        if (m_rx.count() < rx_trigger()) m_ris &= ~INT_RX; // read below the trigger level
        if (m_rx.count() == 0) m_ris &= ~INT_RT;           // the FIFO became empty
        return u64(entry);
    }
    case RSR_ECR: return u64(m_rsr);
    case FR: return u64(fr());
    case ILPR: return u64(m_ilpr);
    case IBRD: return u64(m_ibrd);
    case FBRD: return u64(m_fbrd);
    case LCR_H: return u64(m_lcr_h);
    case CR: return u64(m_cr);
    case IFLS: return u64(m_ifls);
    case IMSC: return u64(m_imsc);
    case RIS: return u64(m_ris);
    case MIS: return u64(m_ris & m_imsc);
    case ICR: return u64(0); // write-only
    case DMACR: return u64(m_dmacr);
    default:
        if (offset >= PERIPH_ID0 && offset <= PCELL_ID3) return u64(IdRegs[(offset - PERIPH_ID0) / 4]);
        return Error::OutOfRange; // reserved or integration-test registers
    }
}

Result<void> Pl011::write_reg(u64 offset, u32 value) {
    switch (offset) {
    case DR: {
        m_ris |= INT_TX; // the character leaves the FIFO at once: the FIFO passes the TX trigger
        m_out.put(char(value & 0xFF));
        break;
    }
    case RSR_ECR: m_rsr = 0; break; // any write to ECR clears the error flags
    case ILPR: m_ilpr = value & 0xFF; break;
    case IBRD: m_ibrd = value & 0xFFFF; break;
    case FBRD: m_fbrd = value & 0x3F; break;
    // Changing FEN keeps what the FIFO holds (QEMU empties it; we never drop host input): with
    // FIFOs off, more than one character may wait, and FR.RXFF stays set until reads drain them.
    case LCR_H: m_lcr_h = value & 0xFF; break;
    case CR: m_cr = value & 0xFF87; break; // bits 6:3 are reserved
    case IFLS: m_ifls = value & 0x3F; break;
    case IMSC: m_imsc = value & INT_ALL; break;
    case ICR: m_ris &= ~(value & INT_ALL); break;
    case DMACR: m_dmacr = value & 0x7; break;
    case FR: case RIS: case MIS: break; // read-only: writes are ignored
    default:
        if (offset >= PERIPH_ID0 && offset <= PCELL_ID3) break;
        return Error::OutOfRange;
    }
    return {};
}

// The character after an overrun carries DR.OE, where the stream has a hole (3.3.1).
u16 Pl011::rx_entry(char c) { return u16(u8(c)) | (m_oe_pending ? DR_OE : 0); }

void Pl011::rx_stored() {
    m_oe_pending = false; // the stored character carried DR.OE
    if (m_rx.count() == rx_trigger()) m_ris |= INT_RX; // the FIFO reaches the trigger level
    m_ris |= INT_RT;                                   // and the receive timeout counts as elapsed
}

void Pl011::rx_lost() {
    // The guest left its full FIFO unread past the host's patience: the character is lost as on
    // the wire.
    m_rsr |= RSR_OE;
    m_oe_pending = true;
    m_ris |= INT_OE;
}

void Pl011::reset() {
    change([&] {
        m_rx.clear();
        m_oe_pending = false;
        m_rsr = m_ris = m_ilpr = m_ibrd = m_fbrd = m_lcr_h = m_imsc = m_dmacr = 0;
        m_cr = CrReset;
        m_ifls = IflsReset;
        return true;
    });
}
