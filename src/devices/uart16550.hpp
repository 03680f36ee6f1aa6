// Emulated 16550A UART (National Semiconductor/TI PC16550D datasheet, "Registers" and "FIFO
// Interrupt Mode Operation"; register names as there): the ns16550a that QEMU virt gives riscv64
// guests and that Linux's 8250 driver, OpenSBI and small polled guests drive.
//
// Register map with reg-shift 0 (byte registers at consecutive offsets, QEMU virt: a 0x100 window
// at 0x1000_0000, PLIC source 10):
//   0  RBR (read) / THR (write); DLL when LCR.DLAB = 1
//   1  IER (ERBFI, ETBEI, ELSI, EDSSI); DLM when LCR.DLAB = 1
//   2  IIR (read) / FCR (write)
//   3  LCR (bit 7 = DLAB)   4  MCR (DTR, RTS, OUT1, OUT2, LOOP)   5  LSR   6  MSR   7  SCR
//
// What is modelled: a 16-character receive FIFO fed by the host console (a 1-character holding
// register with FIFOs off), instantaneous transmission (THR and the transmitter are always empty:
// LSR.THRE = LSR.TEMT = 1), the interrupt sources of the datasheet's "Interrupt Control
// Functions" table, prioritised in IIR, ORed into the level of INTR on the VM's IrqLine:
//   1 receiver line status (IIR 0x6, ELSI): LSR.OE (the only error that occurs); reset by an LSR read.
//   2 received data available (IIR 0x4, ERBFI): the FIFO at or above the FCR trigger level (1, 4,
//     8, 14; any character with FIFOs off); reset when reads take it below.
//     character timeout (IIR 0xC, ERBFI, FIFOs on): characters below the trigger level. The
//     hardware waits four character times without FIFO activity; host input arrives far apart
//     at any modelled baud rate, so the timeout counts as elapsed at once (as the PL011 model's
//     receive timeout). Reset by reading the FIFO empty.
//   3 THR empty (IIR 0x2, ETBEI): set when THR empties (at once after each THR write) and when
//     ETBEI is set while THR is empty (Linux's 8250 start_tx relies on it, and its THRE test at
//     startup checks IIR for it); reset by an IIR read that reports it, or a THR write.
//   4 modem status (IIR 0x0, EDSSI): MSR's delta bits; reset by an MSR read.
// IIR bits 7:6 read 11 while FCR.0 (FIFO enable) is set, which is how Linux tells a 16550A.
// Loopback (MCR.LOOP): transmitted characters go to the receiver instead of the console, and
// MSR's inputs follow MCR (CTS = RTS, DSR = DTR, RI = OUT1, DCD = OUT2). Outside loopback the
// modem inputs are those of a connected terminal: CTS, DSR and DCD asserted, RI not.
// Divisor, line control and SCR are stored and read back but have no effect; FCR's DMA mode and
// TX FIFO reset have nothing to act on.
//
// Host input and backpressure are the PL011 model's (devices/uart_base.hpp): a character that
// finds the FIFO full is refused and the host console woken once the guest made room; only when
// the host gives up waiting is it lost, as an overrun (LSR.OE). In loopback the receiver does not
// listen to the line, so host input is refused (woken when loopback ends). Following the
// datasheet, resetting the receive FIFO (FCR bit 1) or changing FCR.0 empties it: a guest that
// asks for it discards what it had not read.
//
// Accesses: byte registers, 1-byte accesses only: another width is InvalidArgument, an offset
// past SCR (8..0xFF) OutOfRange; the VM layer injects an access fault. LSR and MSR writes are
// ignored (the datasheet reserves them for factory test).
#pragma once
#include "devices/uart_base.hpp"

class Uart16550 final : public UartBase<Uart16550> {
public:
    static constexpr u64 WindowSize = 0x100; // QEMU virt's window; registers at 0..7
    static constexpr u64 PortWindowSize = 8; // a PC COM port in the I/O port space: the 8 registers
    static constexpr usize RxFifoDepth = 16;
    static_assert(RxFifoDepth <= UartRxFifo::Capacity);

    // `name` must outlive the device; `vm_name` is copied. Called by the VM builder. `window`:
    // WindowSize as an MMIO device, PortWindowSize in a VM's port space (vm_package DeviceSpace).
    // connect_irq (INTR), push_input, set_live, flush, irq_pending: UartBase.
    Uart16550(const char* name, GuestPhysAddr base, const char* vm_name, ConsoleSink sink = console_sink(),
              u64 window = WindowSize);

    // MmioDevice contract (any vCPU, any CPU; takes the device lock).
    Result<u64> read(u64 offset, unsigned width_bytes) override;
    Result<void> write(u64 offset, unsigned width_bytes, u64 value) override;

    // HC_PUTC: as a write of THR, whatever DLAB says.
    void put_output(char c) override;

    // Back to the datasheet's reset values (IER 0, IIR 0x01, FCR 0, LCR 0, MCR 0, LSR 0x60, no
    // MSR deltas; DLL, DLM and SCR, which reset does not define, to 0) with an empty FIFO, as when
    // the VM restarts. The line stays connected (driven low if it was high), a refused character
    // is woken for, and a partial output line is kept. Any CPU, no lock held.
    void reset();

private:
    friend class UartBase<Uart16550>;
    // UartBase hooks; caller holds m_lock.
    usize host_rx_depth() const { return loopback() ? 0 : rx_depth(); }
    u16 rx_entry(char c) const { return u8(c); }
    void rx_stored() {}
    // In loopback the receiver is disconnected from the line: what the host loses there is not
    // an overrun the guest could see.
    void rx_lost() { m_overrun = m_overrun || !loopback(); }
    bool irq_level() const { return interrupt_id() != IirNoInterrupt; }

    static constexpr u8 IirNoInterrupt = 0x01;
    bool fifo_on() const { return m_fcr & 1; }
    bool loopback() const { return m_mcr & 0x10; }
    usize rx_depth() const { return fifo_on() ? RxFifoDepth : 1; }
    usize rx_trigger() const;
    u8 interrupt_id() const; // IIR bits 3:0 of the highest-priority pending source
    u8 modem_inputs() const; // MSR bits 7:4
    void transmit(u8 c);
    void write_mcr(u8 value);
    Result<u64> read_reg(u64 offset);
    void write_reg(u64 offset, u8 value);

    u8 m_ier = 0, m_fcr = 0, m_lcr = 0, m_mcr = 0, m_scr = 0, m_dll = 0, m_dlm = 0;
    u8 m_msr_delta = 0;       // MSR bits 3:0 (DCTS, DDSR, TERI, DDCD) since the last MSR read
    bool m_overrun = false;   // LSR.OE since the last LSR read
    bool m_thr_pending = false; // the THR-empty interrupt is set (see the header comment)
};
