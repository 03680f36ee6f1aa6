// Host interrupts on loongarch64: the core's own lines (constant timer, IPI) in ESTAT.IS, and
// device lines through the bridge's PCH-PIC into the extended I/O interrupt controller (EIOINTC),
// which raises a core's HWI line. cxvisor runs with CRMD.IE = 0 and polls ESTAT here (arch.hpp).
// Sources: LoongArch Reference Manual Vol. 1 v1.10 ("LA Vol. 1") 6.1 "Interrupts", 7.4.4 ECFG,
// 7.4.5 ESTAT, 7.6 timer CSRs; the EIOINTC and IPI IOCSR registers and the PCH-PIC registers are
// the Loongson 3A5000 / 7A1000 bridge's (Loongson 3A5000 user manual v1.03, 11.2 "Extended I/O
// interrupts", 10.4 "Inter-processor interrupts"; 7A1000 bridge user manual v2.00, 5
// "Interrupt controller"), which QEMU virt models (hw/intc/loongarch_{ipi,extioi,pch_pic}.c).
#include "arch.hpp"
#include "intc.hpp"
#include "kernel/irq.hpp"
#include "kernel/log.hpp"
#include "kernel/percpu.hpp"
#include "kernel/spinlock.hpp"

namespace arch {

u64 g_counter_hz = 100'000'000; // until host_discover reads CPUCFG4/5 (QEMU virt's rate)

namespace {

// EIOINTC IOCSR registers (3A5000 manual 11.2): vector -> HWI pin map (one byte per 32 vectors),
// enables, per-core ISR (reads and write-1-to-clear this core's), route (one byte per vector: the
// target core as a bit mask in its low nibble).
constexpr u64 EIOINTC_IPMAP = 0x14C0, EIOINTC_ENABLE = 0x1600, EIOINTC_BOUNCE = 0x1680, EIOINTC_ISR = 0x1800,
              EIOINTC_ROUTE = 0x1C00;
// The HWI pin cxvisor routes every vector to: HWI0, ESTAT.IS[2].
constexpr u32 EIOINTC_PIN = 0;
// PCH-PIC registers (7A1000 manual 5.2): 64 lines; INT_MASK (1 = masked), HTMSI_EN, INT_EDGE,
// INT_CLEAR, ROUTE_ENTRY (byte per line), HTMSI_VEC (byte per line: the EIOINTC vector), INT_POL.
constexpr u64 PIC_INT_MASK = 0x20, PIC_HTMSI_EN = 0x40, PIC_INT_EDGE = 0x60, PIC_INT_CLEAR = 0x80,
              PIC_ROUTE_ENTRY = 0x100, PIC_HTMSI_VEC = 0x200, PIC_INT_POL = 0x3E0;
constexpr u32 PIC_LINES = 64;

volatile u8* g_pic;          // the PCH-PIC's registers (identity-mapped device window)
Spinlock g_pic_lock;         // INT_MASK read-modify-writes from any core
u32 g_timer_bits = 48;       // TCFG.InitVal width (PRCFG1.TimerBits + 1, LA Vol. 1 chapter 7, PRCFG1)

u64 pic_read64(u64 reg) { return *reinterpret_cast<volatile u64*>(g_pic + reg); }
void pic_write64(u64 reg, u64 v) { *reinterpret_cast<volatile u64*>(g_pic + reg) = v; }

void pic_mask(u32 line, bool masked) {
    SpinlockGuard g(g_pic_lock);
    u64 m = pic_read64(PIC_INT_MASK);
    m = masked ? m | (1ull << line) : m & ~(1ull << line);
    pic_write64(PIC_INT_MASK, m);
}

// The route byte names cores as a bit mask in its low nibble, within the node in its high nibble
// (3A5000 manual 11.2): cores 0-3 of node 0, all QEMU 7.2's virt has (-smp 4 at most).
// The EIOINTC route and pin-map bytes are written as 32-bit words, the width Linux's EIOINTC
// driver uses for them, so a route byte is a read-modify-write of its word. (Checked by hand:
// with the console routed to core 1 its input reaches the shell.)
bool route_vector(u32 vector, u64 core) {
    if (core > 3) return false;
    SpinlockGuard g(g_pic_lock);
    const u64 reg = EIOINTC_ROUTE + (vector & ~3u);
    const u32 shift = (vector & 3) * 8;
    la::iocsr_write32(reg, (la::iocsr_read32(reg) & ~(0xFFu << shift)) | (1u << core) << shift);
    return true;
}
void enable_vector(u32 vector, bool on) {
    SpinlockGuard g(g_pic_lock);
    const u64 reg = EIOINTC_ENABLE + (vector / 32) * 4;
    u32 v = la::iocsr_read32(reg);
    v = on ? v | (1u << (vector % 32)) : v & ~(1u << (vector % 32));
    la::iocsr_write32(reg, v);
}

} // namespace

Result<void> intc_init(u64 pch_pic_base) {
    g_pic = reinterpret_cast<volatile u8*>(pch_pic_base);
    // Every line masked, level-triggered, active high, not through HT MSI; line n raises EIOINTC
    // vector n (QEMU virt wires PCH-PIC output n to EIOINTC input n; the vector byte says which
    // output).
    pic_write64(PIC_INT_MASK, ~0ull);
    pic_write64(PIC_INT_EDGE, 0);
    pic_write64(PIC_INT_POL, 0);
    pic_write64(PIC_HTMSI_EN, 0);
    pic_write64(PIC_INT_CLEAR, ~0ull);
    for (u32 i = 0; i < PIC_LINES; ++i) {
        g_pic[PIC_ROUTE_ENTRY + i] = 1; // the bridge's output 0 (the 7A's only route on virt)
        g_pic[PIC_HTMSI_VEC + i] = u8(i);
    }
    // EIOINTC: every vector off, no bouncing between cores, every group of 32 vectors on HWI0.
    for (u32 i = 0; i < IRQ_EIOINTC_COUNT / 32; ++i) {
        la::iocsr_write32(EIOINTC_ENABLE + i * 4, 0);
        la::iocsr_write32(EIOINTC_BOUNCE + i * 4, 0);
    }
    for (u32 i = 0; i < IRQ_EIOINTC_COUNT / 32; i += 4) la::iocsr_write32(EIOINTC_IPMAP + i, 0x01010101u << EIOINTC_PIN);
    // TCFG.InitVal's width: PRCFG1.TimerBits [19:12] is the width minus one (LA Vol. 1 chapter 7, PRCFG1).
    g_timer_bits = u32((la::csr_read<la::CSR_PRCFG1>() >> 12) & 0xFF) + 1;
    return {};
}

void irq_cpu_init() {
    // IPIs: every vector of this core's IPI status may interrupt (IPI_EN), stale ones cleared.
    la::iocsr_write32(IOCSR_IPI_EN, ~0u);
    la::iocsr_write32(IOCSR_IPI_CLEAR, la::iocsr_read32(IOCSR_IPI_STATUS));
    // This core's EIOINTC pin is a line cxvisor always takes; the timer and IPI are enabled by
    // irq_enable as the boot flow registers them.
    la::csr_xchg<la::CSR_ECFG>(1u << (la::IS_HWI0 + EIOINTC_PIN), 1u << (la::IS_HWI0 + EIOINTC_PIN));
}

void irq_enable(u32 id, bool enable) {
    if (id >= IRQ_LOCAL_BASE) {
        const u64 bit = 1ull << (id - IRQ_LOCAL_BASE);
        la::csr_xchg<la::CSR_ECFG>(enable ? bit : 0, bit);
        return;
    }
    if (id >= PIC_LINES) return; // only PCH-PIC lines are device vectors here
    if (enable) irq_enable_shared_on(id, this_cpu().hw_id);
    else {
        pic_mask(id, true);
        enable_vector(id, false);
    }
}

void irq_enable_shared_on(u32 id, u64 target_hw_id) {
    if (id >= PIC_LINES) return;
    if (!route_vector(id, target_hw_id)) {
        kprint("cxvisor: loongarch64: interrupt %u not enabled: EIOINTC routing to core %lu (beyond node 0's cores "
               "0-3) is not written\n",
               id, target_hw_id);
        return;
    }
    enable_vector(id, true);
    pic_mask(id, false);
}

void irq_deactivate(u32) {} // nothing is forwarded (no vCPU backend)

void send_ipi(u64 target_hw_id) {
    // IPI_SEND (3A5000 manual 10.4): bits [4:0] the status bit to set, [25:16] the target core.
    la::iocsr_write32(IOCSR_IPI_SEND, u32(target_hw_id << 16) | 0);
}

void handle_pending_irqs() {
    const u64 pending = (la::csr_read<la::CSR_ESTAT>() & la::csr_read<la::CSR_ECFG>()) & 0x1FFF;
    if (pending & (1u << la::IS_IPI)) {
        // Cleared before the handler (write-1-to-clear), so an IPI sent while it runs is not lost.
        la::iocsr_write32(IOCSR_IPI_CLEAR, la::iocsr_read32(IOCSR_IPI_STATUS));
        irq_dispatch(IRQ_IPI);
    }
    if (pending & (1u << la::IS_TIMER)) {
        la::csr_write<la::CSR_TICLR>(1); // TICLR.CLR (7.6.5): the timer's ESTAT bit
        irq_dispatch(IRQ_TIMER);
    }
    if (pending & (1u << (la::IS_HWI0 + EIOINTC_PIN))) {
        // This core's pending vectors (ISR is per core). A level line that stays asserted after its
        // handler would not assert again at the bridge: it is masked at the PCH-PIC for the
        // handler, its ISR bit cleared, and unmasked after, which re-raises it if still asserted.
        for (u32 group = 0; group < IRQ_EIOINTC_COUNT / 64; ++group) {
            u64 bits = la::iocsr_read64(EIOINTC_ISR + group * 8);
            while (bits) {
                const u32 vector = group * 64 + u32(__builtin_ctzll(bits));
                bits &= bits - 1;
                const bool line = vector < PIC_LINES;
                if (line) pic_mask(vector, true);
                la::iocsr_write64(EIOINTC_ISR + group * 8, 1ull << (vector % 64));
                irq_dispatch(vector);
                if (line) pic_mask(vector, false);
            }
        }
    }
}

// The constant timer (LA Vol. 1 7.6.2 TCFG): one-shot, counting down from InitVal (a multiple of
// 4) at the stable counter's rate; it raises ESTAT.IS[11] at zero until TICLR clears it.
void timer_set_deadline(u64 deadline) {
    const u64 now = counter();
    u64 ticks = deadline > now ? deadline - now : 4;
    const u64 max = (g_timer_bits >= 64 ? ~0ull : (1ull << g_timer_bits) - 1) & ~3ull;
    if (ticks > max) ticks = max; // fires early: the generic timer queue re-arms it
    ticks = (ticks + 3) & ~3ull;
    la::csr_write<la::CSR_TCFG>(ticks | la::TCFG_EN);
}
void timer_stop() {
    la::csr_write<la::CSR_TCFG>(0);
    la::csr_write<la::CSR_TICLR>(1);
}

} // namespace arch
