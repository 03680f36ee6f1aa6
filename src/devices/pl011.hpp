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
#include "kernel/timer.hpp"
#include "vintc/irq_line.hpp"

// Where completed output lines go. write() gets one whole prefixed line ending in '\n' per call and
// is called with the device lock held (lock order: UART -> console), from the vCPU's CPU.
struct Pl011Sink {
    void (*write)(void* ctx, const char* s, usize n);
    void* ctx;
    // Live output (set_live): console_write_piece's contract (kernel/log.hpp). Null: the device
    // stays line-buffered even when live.
    void (*piece)(void* ctx, const void* owner, const char* head, usize head_len, const char* s, usize n) = nullptr;
};
// The default sink: the hypervisor console (console_write from kernel/log.hpp).
Pl011Sink console_sink();

class Pl011 final : public MmioDevice {
public:
    static constexpr u64 WindowSize = 0x1000; // 4 KiB PrimeCell window, IDs at its top
    static constexpr usize LineMax = 160;     // longer lines are broken (emitted) at this length
    static constexpr usize RxFifoDepth = 32;  // r1p5 FIFO depth (r1p0-r1p4 have 16)
    static constexpr usize VmNameMax = 31;    // longer VM names are truncated in the prefix

    // Called once (then forgotten) after push_input refused a character, as soon as the FIFO has
    // room again. Runs on the CPU of the guest access that made room, with no lock held.
    using Waker = void (*)();

    // `name` must outlive the device; `vm_name` is copied. Called by the VM builder.
    Pl011(const char* name, GuestPhysAddr base, const char* vm_name, Pl011Sink sink = console_sink());

    // UARTINTR drives `line` from now on: set(level) whenever the level changes (and at once if
    // it is high). Called by the VM builder before the first vCPU runs. The line is driven with
    // the device lock held, as irq_line.hpp allows, so level changes reach the sink in order.
    void connect_irq(IrqLine line);
    // Live (the VM with console input): a line left unfinished for LiveIdleMs is shown as it is,
    // and the rest of that line character by character, so prompts and typed characters echo at
    // once; whole lines still come out whole, so lines of several VMs do not mix. Not live: output
    // is shown a whole line at a time. Any CPU.
    void set_live(bool live);
    static constexpr u64 LiveIdleMs = 30;
    ~Pl011();

    // MmioDevice contract (any vCPU, any CPU; takes the device lock).
    Result<u64> read(u64 offset, unsigned width_bytes) override;
    Result<void> write(u64 offset, unsigned width_bytes, u64 value) override;

    // One character typed on the host console for this VM. Called from any CPU with the console
    // input lock held (lock order: console input -> UART); takes the device lock.
    // Returns true when the character was taken. When the FIFO is full it returns false, keeps
    // nothing, flags nothing, and calls `waker` (if not null) once the guest has made room: the
    // caller keeps the character and offers it again then.
    // `overdue`: the caller has waited too long for room (the guest does not read its UART). Then
    // a full FIFO loses the character as the hardware would (overrun: RSR.OE, RIS.OERIS) and the
    // device keeps losing characters that find it full, without waiting, until the guest next reads
    // DR; push_input returns true for them.
    bool push_input(char c, Waker waker = nullptr, bool overdue = false);

    // Emits a partial line (with a '\n' added). Called when the VM stops, from any CPU.
    void flush();

    // Back to the reset state of DDI0183 3.2 (registers, empty FIFO, no interrupt), as when the
    // VM restarts; the line stays connected (and is driven low if it was high), and a refused
    // character is woken for, since the FIFO now has room. A partial output line is kept (flush
    // first to print it). Any CPU, no lock held.
    void reset();

    // Level of UARTINTR (UARTMIS != 0). Any CPU.
    bool irq_pending();

private:
    usize rx_depth() const;      // 32, or 1 with FIFOs off; caller holds m_lock
    usize rx_trigger() const;    // RXIFLSEL level in characters; caller holds m_lock
    void update_irq();           // drives the line if UARTINTR changed; caller holds m_lock
    Waker take_waker();          // the waker if the FIFO has room now; caller holds m_lock
    // Runs f() under m_lock, then drives the interrupt line and, outside the lock, the waker if
    // the change made room: every guest access and the reset go through it.
    template <typename F> auto change(F f);
    void emit_line();            // caller holds m_lock
    void emit_piece(const char* s, usize n); // live output; caller holds m_lock
    static void idle_expired(void* ctx);
    Result<u64> read_reg(u64 offset);
    Result<void> write_reg(u64 offset, u32 value);

    Spinlock m_lock;
    Pl011Sink m_sink;
    char m_prefix[VmNameMax + 4]; // "[" name "] " NUL
    usize m_prefix_len = 0;
    char m_line[LineMax];
    usize m_line_len = 0;
    bool m_live = false;
    bool m_open = false;      // part of the current line is on the console (live output)
    TimerEvent m_idle;        // shows an unfinished line of a live UART

    u16 m_rx[RxFifoDepth]; // data in bits 7:0, error flags as UARTDR bits 11:8 (only OE occurs)
    usize m_rx_head = 0, m_rx_count = 0;
    bool m_oe_pending = false; // an overrun happened: the next stored character carries DR.OE
    bool m_rx_overdue = false; // the host gave up waiting: full-FIFO input is lost until a DR read
    Waker m_waker = nullptr;   // set by a refused push_input, taken when there is room

    IrqLine m_irq;
    bool m_irq_level = false; // what m_irq was last driven to

    u32 m_rsr = 0;  // receive status: only OE is ever set
    u32 m_ris = 0;  // UARTRIS: each bit set and cleared by the events of DDI0183 3.4
    u32 m_ilpr = 0, m_ibrd = 0, m_fbrd = 0, m_lcr_h = 0;
    static constexpr u32 CrReset = 0x300; // UARTCR: TXE | RXE
    static constexpr u32 IflsReset = 0x12; // UARTIFLS: both trigger levels at 1/2
    u32 m_cr = CrReset;
    u32 m_ifls = IflsReset;
    u32 m_imsc = 0, m_dmacr = 0;
};
