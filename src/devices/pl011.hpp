// Emulated ARM PrimeCell UART PL011 r1p5 (ARM DDI0183 G, chapter 3 "Programmers Model").
//
// What is modelled: the full register map with reset values (3.2 "Summary of registers"), a
// 32-entry RX FIFO fed by the host console (a 1-character holding register while LCR_H.FEN = 0),
// instantaneous TX (the TX FIFO is always empty, FR.BUSY is 0), and the interrupts of 3.4
// "Interrupts" combined into UARTINTR, which drives the VM's interrupt line (connect_irq):
//   RXRIS  set when a received character makes the FIFO reach the IFLS.RXIFLSEL trigger level (any
//          character with FIFOs off); cleared when reads take it below that level, or by ICR.RXIC.
//          A transition, not a level: ICR clears it although the FIFO stays at the level (Linux's
//          amba-pl011 relies on this and drains the FIFO when it enables RXIM).
//   RTRIS  receive timeout. The hardware asserts it when the FIFO is not empty and nothing more
//          arrives for 32 bit periods. Host input comes a character at a time, far apart at any
//          modelled baud rate, so the timeout counts as elapsed the moment a character arrives: set
//          by every received character, cleared when reads empty the FIFO, or by ICR.RTIC. This is
//          what delivers a single typed character to a driver whose trigger level is higher.
//   TXRIS  set each time written data leaves the FIFO, which here is at once: every DR write
//          passes the FIFO through the TXIFLSEL level (3.4 "UARTTXINTR": a transition, so it is 0
//          after reset until the first write); cleared only by ICR.TXIC, because the FIFO never
//          fills above the level. A driver that fills the FIFO and then unmasks TXIM gets its
//          interrupt at once, so its output never stalls.
//   OERIS  set when a character arrives at a full FIFO (RSR.OE too, and bit 11 of the next
//          character read from DR); cleared by ICR.OEIC (RSR.OE by a write to ECR).
//   Modem-status, framing, parity and break interrupts never occur (there is no line).
//   UARTMIS = UARTRIS & UARTIMSC; UARTINTR = (UARTMIS != 0).
//
// Host input and backpressure: push_input() refuses a character while the FIFO is full (the host
// console then keeps it and stops reading its own UART) and calls the waker once a guest access
// has made room, as QEMU's PL011 does with its character backend. Nothing typed is lost unless the
// guest leaves a full FIFO unread for so long that the host gives up waiting (see push_input).
//
// The FIFO, the backpressure contract, the output line and the interrupt-line plumbing are shared
// with the 16550 model (devices/uart_base.hpp).
//
// Transmitted characters are collected per line and emitted as one "[<vm>] <line>\n" write, so
// output of different VMs never interleaves mid-line. Baud rate, line control and DMA registers
// are stored and read back but have no effect; TX and RX work even with CR.UARTEN = 0 because
// bare-metal guests often write DR without programming the UART first (QEMU behaves the same).
//
// Accesses: the registers are 32 bits wide, but Linux earlycon and bare-metal code use 8/16-bit
// accesses on DR/FR, so 1, 2 and 4-byte accesses are accepted at a 4-byte aligned register offset
// and see its low bytes. 8-byte accesses (InvalidArgument), offsets not 4-byte aligned
// (InvalidArgument) and reserved/test offsets (OutOfRange) are rejected so the VM layer can inject
// an external abort. Writes to read-only registers are ignored and reads of the write-only ICR
// return 0, as the hardware does.
#pragma once
#include "devices/uart_base.hpp"
#include "devices/uart_fast.hpp"

// Output lines go through a ConsoleLine (devices/console_line.hpp), shared with virtio-console.
using Pl011Sink = ConsoleSink;

class Pl011 final : public UartBase<Pl011> {
public:
    static constexpr u64 WindowSize = 0x1000; // 4 KiB PrimeCell window, IDs at its top
    static constexpr usize RxFifoDepth = 32;  // r1p5 FIFO depth (r1p0-r1p4 have 16)
    static_assert(RxFifoDepth <= UartRxFifo::Capacity);

    // ConsolePort::Waker: called once after push_input refused a character, as soon as the FIFO
    // has room again, on the CPU of the guest access that made room, with no lock held.
    // connect_irq (UARTINTR = UARTMIS != 0), push_input, set_live, flush, irq_pending: UartBase.
    // push_input with `overdue`: a full FIFO loses the character as the hardware would (overrun:
    // RSR.OE, RIS.OERIS, DR.OE on the next character stored).

    // `name` must outlive the device; `vm_name` is copied. Called by the VM builder.
    Pl011(const char* name, GuestPhysAddr base, const char* vm_name, Pl011Sink sink = console_sink());

    // MmioDevice contract (any vCPU, any CPU; takes the device lock).
    Result<u64> read(u64 offset, unsigned width_bytes) override;
    Result<void> write(u64 offset, unsigned width_bytes, u64 value) override;

    // HC_PUTC: as a write of DR.
    void put_output(char c) override { (void)write(0, 1, u8(c)); }

    // The block an exit vector serves FR reads and DR writes from (devices/uart_fast.hpp); the VM
    // gives it to its vCPUs (Vcpu::attach_uart_fast, where the ISA has one).
    UartFastBlock* fast_block() { return &m_fast; }
    // The run loop, after each exit of one of the VM's vCPUs: output the vector collected, if any
    // (a relaxed test without the lock when there is none). Any CPU.
    void take_fast_output() {
        if (!m_fast.pending()) return;
        SpinlockGuard guard(m_lock);
        fast_drain();
    }

    // Back to the reset state of DDI0183 3.2 (registers, empty FIFO, no interrupt), as when the
    // VM restarts; the line stays connected (and is driven low if it was high), and a refused
    // character is woken for, since the FIFO now has room. A partial output line is kept (flush
    // first to print it). Any CPU, no lock held.
    void reset();

private:
    friend class UartBase<Pl011>;
    // UartBase hooks; caller holds m_lock.
    usize host_rx_depth() const { return rx_depth(); }
    u16 rx_entry(char c);
    void rx_stored();
    void rx_lost();
    bool irq_level() const { return (m_ris & m_imsc) != 0; }
    void fast_drain();
    void fast_publish();

    u32 fr() const;              // UARTFR now; caller holds m_lock
    usize rx_depth() const;      // 32, or 1 with FIFOs off; caller holds m_lock
    usize rx_trigger() const;    // RXIFLSEL level in characters; caller holds m_lock
    Result<u64> read_reg(u64 offset);
    Result<void> write_reg(u64 offset, u32 value);

    // m_rx entries: data in bits 7:0, error flags as UARTDR bits 11:8 (only OE occurs)
    bool m_oe_pending = false; // an overrun happened: the next stored character carries DR.OE

    u32 m_rsr = 0;  // receive status: only OE is ever set
    u32 m_ris = 0;  // UARTRIS: each bit set and cleared by the events of DDI0183 3.4
    u32 m_ilpr = 0, m_ibrd = 0, m_fbrd = 0, m_lcr_h = 0;
    static constexpr u32 CrReset = 0x300; // UARTCR: TXE | RXE
    static constexpr u32 IflsReset = 0x12; // UARTIFLS: both trigger levels at 1/2
    u32 m_cr = CrReset;
    u32 m_ifls = IflsReset;
    u32 m_imsc = 0, m_dmacr = 0;
    UartFastBlock m_fast;
};
