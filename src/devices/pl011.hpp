// Emulated ARM PrimeCell UART PL011 r1p5 (ARM DDI0183, chapter 3 "Programmers Model").
//
// What is modelled: the full register map with reset values (3.2 "Summary of registers"), a
// 32-entry RX FIFO fed by the host console, and instantaneous TX (the TX FIFO is always empty, FR.BUSY is 0).
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
#include "devices/mmio_device.hpp"
#include "kernel/spinlock.hpp"

// Where completed output lines go. write() gets one whole prefixed line ending in '\n' per call and
// is called with the device lock held (lock order: UART -> console), from the vCPU's CPU.
struct Pl011Sink {
    void (*write)(void* ctx, const char* s, usize n);
    void* ctx;
};
// The default sink: the hypervisor console (console_write from kernel/log.hpp).
Pl011Sink console_sink();

class Pl011 final : public MmioDevice {
public:
    static constexpr u64 WindowSize = 0x1000; // 4 KiB PrimeCell window, IDs at its top
    static constexpr usize LineMax = 160;     // longer lines are broken (emitted) at this length
    static constexpr usize RxFifoDepth = 32;  // r1p5 FIFO depth (r1p0-r1p4 have 16)
    static constexpr usize VmNameMax = 31;    // longer VM names are truncated in the prefix

    // `name` must outlive the device; `vm_name` is copied. Called by the VM builder.
    Pl011(const char* name, GuestPhysAddr base, const char* vm_name, Pl011Sink sink = console_sink());

    // MmioDevice contract (any vCPU, any CPU; takes the device lock).
    Result<u64> read(u64 offset, unsigned width_bytes) override;
    Result<void> write(u64 offset, unsigned width_bytes, u64 value) override;

    // One character typed on the host console for this VM. Called from the host console CPU, takes
    // the device lock. Returns false when the RX FIFO is full: the character is lost and an overrun
    // is flagged (RSR.OE, RIS.OEIS), as on the hardware.
    bool push_input(char c);

    // Emits a partial line (with a '\n' added). Called when the VM stops, from any CPU.
    void flush();

    // Level of the UARTINTR combined interrupt: MIS = RIS & IMSC != 0 (UARTMIS). Any CPU. Nothing delivers
    // it yet: the vGIC will poll this after each access/push_input and drive the guest's SPI.
    bool irq_pending();

private:
    u32 raw_interrupts() const; // RIS; caller holds m_lock
    void emit_line();            // caller holds m_lock
    Result<u64> read_reg(u64 offset);
    Result<void> write_reg(u64 offset, u32 value);

    Spinlock m_lock;
    Pl011Sink m_sink;
    char m_prefix[VmNameMax + 4]; // "[" name "] " NUL
    usize m_prefix_len = 0;
    char m_line[LineMax];
    usize m_line_len = 0;

    char m_rx[RxFifoDepth];
    usize m_rx_head = 0, m_rx_count = 0;

    u32 m_rsr = 0;        // receive status: only OE is ever set
    u32 m_ris_latch = 0;  // TXRIS and OERIS; RX/RT status is derived from the FIFO level
    u32 m_ilpr = 0, m_ibrd = 0, m_fbrd = 0, m_lcr_h = 0;
    u32 m_cr = 0x300;     // UARTCR reset: TXE | RXE
    u32 m_ifls = 0x12;    // UARTIFLS reset: both trigger levels at 1/2
    u32 m_imsc = 0, m_dmacr = 0;
};
