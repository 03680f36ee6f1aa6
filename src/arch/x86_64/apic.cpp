// Local APIC, IOAPIC, PIT calibration, host interrupt dispatch and AP start-up (apic.hpp).
#include "apic.hpp"
#include "arch.hpp"
#include "asm_offsets.hpp"
#include "kernel/irq.hpp"
#include "kernel/log.hpp"
#include "kernel/spinlock.hpp"
#include "percpu_x86.hpp"

extern "C" char trampoline_start[], trampoline_end[], trampoline_entry[];
extern "C" u8 x86_x2apic; // boot.S: the APs' way to read their APIC id

namespace arch {

u64 g_tsc_hz = 1'000'000'000; // until apic_boot_init measures it (only deltas use it before)

namespace {

// Local APIC registers (16.3.2, table 16-2): xAPIC offsets; x2APIC MSR = 0x800 + offset / 16
// (Intel SDM vol. 3A, 11.12.1.2 "x2APIC Register Address Space").
constexpr u32 LAPIC_ID = 0x20, LAPIC_TPR = 0x80, LAPIC_EOI = 0xB0, LAPIC_SVR = 0xF0, LAPIC_ICR_LO = 0x300,
              LAPIC_ICR_HI = 0x310, LAPIC_LVT_TIMER = 0x320, LAPIC_LVT_LINT0 = 0x350, LAPIC_LVT_LINT1 = 0x360,
              LAPIC_LVT_ERROR = 0x370, LAPIC_TIMER_INIT = 0x380, LAPIC_TIMER_CUR = 0x390, LAPIC_TIMER_DIV = 0x3E0;
constexpr u32 SVR_ENABLE = 1u << 8, LVT_MASKED = 1u << 16, LVT_DELIVERY_NMI = 4u << 8;
constexpr u32 ICR_FIXED = 0u << 8, ICR_INIT = 5u << 8, ICR_STARTUP = 6u << 8, ICR_LEVEL_ASSERT = 1u << 14,
              ICR_PENDING = 1u << 12;
constexpr u32 TIMER_DIV_1 = 0xB; // 16.4.1 "APIC Timer Operation", divide configuration 1011b
constexpr u64 APIC_BASE_ENABLE = 1u << 11, APIC_BASE_X2APIC = 1u << 10;

u64 g_lapic;            // xAPIC register window (identity-mapped)
bool g_x2apic;
u64 g_lapic_timer_hz;
u64 g_timer_mult;       // LAPIC timer ticks per TSC tick, 32.32 fixed point
const AcpiInfo* g_acpi;

u32 lapic_read(u32 reg) {
    if (g_x2apic) return u32(x86::rdmsr(0x800 + reg / 16));
    return *reinterpret_cast<volatile u32*>(g_lapic + reg);
}
void lapic_write(u32 reg, u32 v) {
    if (g_x2apic) x86::wrmsr(0x800 + reg / 16, v);
    else *reinterpret_cast<volatile u32*>(g_lapic + reg) = v;
}
void lapic_eoi() { lapic_write(LAPIC_EOI, 0); }

// One interprocessor interrupt (16.5): in x2APIC mode the ICR is one MSR with the destination in
// bits 63:32; in xAPIC mode the destination goes to ICR high first, and the write of ICR low sends.
void send_icr(u32 dest, u32 low) {
    if (g_x2apic) {
        x86::wrmsr(0x830, u64(dest) << 32 | low);
        return;
    }
    while (lapic_read(LAPIC_ICR_LO) & ICR_PENDING) x86::mfence();
    lapic_write(LAPIC_ICR_HI, dest << 24);
    lapic_write(LAPIC_ICR_LO, low);
    while (lapic_read(LAPIC_ICR_LO) & ICR_PENDING) x86::mfence();
}

// --- PIT channel 2 (8254 datasheet; the gate and OUT2 are port 0x61 bits 0 and 5 on a PC) ---
constexpr u64 PIT_HZ = 1'193'182;
constexpr u64 CALIBRATE_MS = 20, CALIBRATE_RUNS = 5;

// --- IOAPIC (82093AA datasheet 3.2): IOREGSEL at +0, IOWIN at +0x10; version register 1 bits
// 23:16 = the last redirection entry; entry n at registers 0x10 + 2n (low) and 0x11 + 2n (high).
constexpr u32 IOAPIC_VER = 1, IOAPIC_REDTBL = 0x10;
constexpr u32 RTE_LOW_ACTIVE = 1u << 13, RTE_LEVEL = 1u << 15, RTE_MASKED = 1u << 16;
Spinlock g_ioapic_lock;
u32 g_ioapic_pins[AcpiInfo::kMaxIoApics];

u32 ioapic_read(u64 base, u32 reg) {
    *reinterpret_cast<volatile u32*>(base) = reg;
    return *reinterpret_cast<volatile u32*>(base + 0x10);
}
void ioapic_write(u64 base, u32 reg, u32 v) {
    *reinterpret_cast<volatile u32*>(base) = reg;
    *reinterpret_cast<volatile u32*>(base + 0x10) = v;
}

// The IOAPIC pin of a GSI, and how the line signals (ISA overrides from the MADT; an ISA line
// without one is edge / active high; any other GSI is a PCI line: level / active low).
struct Pin {
    u64 base;
    u32 pin;
    bool level, active_low;
};
bool gsi_pin(u32 gsi, Pin* out) {
    for (u32 i = 0; g_acpi && i < g_acpi->ioapic_count; ++i) {
        const auto& io = g_acpi->ioapics[i];
        if (gsi < io.gsi_base || gsi - io.gsi_base >= g_ioapic_pins[i]) continue;
        bool level = gsi >= 16, low = gsi >= 16;
        for (u32 o = 0; o < g_acpi->override_count; ++o)
            if (g_acpi->overrides[o].gsi == gsi) {
                const GsiRoute r = acpi_isa_irq(*g_acpi, g_acpi->overrides[o].irq);
                level = r.level, low = r.active_low;
            }
        *out = {io.base, gsi - io.gsi_base, level, low};
        return true;
    }
    return false;
}

void route_gsi(u32 gsi, bool enable, u32 apic_id) {
    Pin p;
    if (!gsi_pin(gsi, &p)) {
        kprint("cxvisor: x86_64: GSI %u is on no IOAPIC; not enabled\n", gsi);
        return;
    }
    u32 low = (VECTOR_GSI_BASE + gsi) | (p.level ? RTE_LEVEL : 0) | (p.active_low ? RTE_LOW_ACTIVE : 0);
    if (!enable) low |= RTE_MASKED;
    SpinlockGuard guard(g_ioapic_lock);
    ioapic_write(p.base, IOAPIC_REDTBL + 2 * p.pin, RTE_MASKED); // masked while the entry changes
    ioapic_write(p.base, IOAPIC_REDTBL + 2 * p.pin + 1, apic_id << 24); // physical destination
    ioapic_write(p.base, IOAPIC_REDTBL + 2 * p.pin, low);
}

u32 vector_to_irq(u32 v) {
    if (v >= VECTOR_GSI_BASE && v < VECTOR_GSI_BASE + IRQ_GSI_COUNT) return v - VECTOR_GSI_BASE;
    if (v == VECTOR_TIMER) return IRQ_TIMER;
    if (v == VECTOR_KICK) return IRQ_KICK;
    return ~0u;
}

} // namespace

void apic_boot_init(const ApicSetup& s) {
    g_lapic = s.lapic_base;
    g_x2apic = s.x2apic;
    g_acpi = s.acpi;
    x86_x2apic = s.x2apic;
    // The 8259 PICs stay masked: SeaBIOS leaves IRQ0 unmasked, and with the LAPIC's LINT0 in
    // ExtINT mode it would reach the CPU (platform notes).
    x86::outb(0x21, 0xFF);
    x86::outb(0xA1, 0xFF);
    irq_cpu_init(); // this CPU's LAPIC on, for the calibration below

    // PIT channel 2, mode 0 (interrupt on terminal count), counting CALIBRATE_MS: OUT2 rises at
    // the end. The TSC and the LAPIC timer (one-shot, masked, from 0xFFFFFFFF) run meanwhile; both
    // are read right before the write that starts the count and right after OUT2 rose, so a delay
    // on either side (an emulator's CPU thread descheduled, an SMI) can only lengthen a window:
    // of CALIBRATE_RUNS windows the shortest is the truest.
    const u8 p61 = x86::inb(0x61);
    x86::outb(0x61, u8((p61 & ~0x02) | 0x01)); // gate 2 on, speaker off
    const u32 count = u32(PIT_HZ * CALIBRATE_MS / 1000);
    lapic_write(LAPIC_TIMER_DIV, TIMER_DIV_1);
    lapic_write(LAPIC_LVT_TIMER, VECTOR_TIMER | LVT_MASKED);
    u64 best_tsc = ~0ull, best_lapic = 0;
    for (u32 run = 0; run < CALIBRATE_RUNS; ++run) {
        x86::outb(0x43, 0xB0); // channel 2, lobyte/hibyte, mode 0, binary
        x86::outb(0x42, u8(count));
        lapic_write(LAPIC_TIMER_INIT, 0xFFFF'FFFF);
        const u64 t0 = x86::rdtsc();
        x86::outb(0x42, u8(count >> 8)); // counting starts with the high byte
        while (!(x86::inb(0x61) & 0x20)) {}
        const u64 t1 = x86::rdtsc();
        const u32 left = lapic_read(LAPIC_TIMER_CUR);
        if (t1 - t0 < best_tsc) best_tsc = t1 - t0, best_lapic = 0xFFFF'FFFFu - left;
    }
    lapic_write(LAPIC_TIMER_INIT, 0);
    x86::outb(0x61, p61);
    g_tsc_hz = best_tsc * 1000 / CALIBRATE_MS;
    g_lapic_timer_hz = best_lapic * 1000 / CALIBRATE_MS;
    if (!g_tsc_hz || !g_lapic_timer_hz) panic("x86_64: the TSC or LAPIC timer did not advance during PIT calibration");
    g_timer_mult = (g_lapic_timer_hz << 32) / g_tsc_hz;
}

bool apic_x2apic() { return g_x2apic; }
u64 apic_timer_hz() { return g_lapic_timer_hz; }

u32 apic_this_id() {
    if (g_x2apic) return x86::cpuid(0xB).d;
    return x86::cpuid(1).b >> 24;
}

void udelay(u64 us) {
    const u64 end = x86::rdtsc() + us * g_tsc_hz / 1'000'000;
    while (x86::rdtsc() < end) cpu_relax();
}

void ioapic_init() {
    for (u32 i = 0; i < g_acpi->ioapic_count; ++i) {
        const u64 base = g_acpi->ioapics[i].base;
        g_ioapic_pins[i] = ((ioapic_read(base, IOAPIC_VER) >> 16) & 0xFF) + 1;
        for (u32 pin = 0; pin < g_ioapic_pins[i]; ++pin) ioapic_write(base, IOAPIC_REDTBL + 2 * pin, RTE_MASKED);
    }
}

// Each CPU: the LAPIC on (x2APIC mode first where used: 16.3.1 and Intel SDM 11.12.1), TPR 0,
// the spurious vector, LINT0 (the 8259's ExtINT wiring) and the error LVT masked. LINT1 is where a
// PC wires the platform's NMI (the MADT's Local APIC NMI structure names it; QEMU's `nmi` monitor
// command arrives there): it delivers an NMI (16.4.2, message type 100b), which trap.cpp reports.
void irq_cpu_init() {
    u64 base = x86::rdmsr(x86::MSR_APIC_BASE) | APIC_BASE_ENABLE;
    if (g_x2apic) base |= APIC_BASE_X2APIC;
    x86::wrmsr(x86::MSR_APIC_BASE, base);
    lapic_write(LAPIC_TPR, 0);
    lapic_write(LAPIC_LVT_LINT0, LVT_MASKED);
    lapic_write(LAPIC_LVT_LINT1, LVT_DELIVERY_NMI);
    lapic_write(LAPIC_LVT_ERROR, LVT_MASKED);
    lapic_write(LAPIC_TIMER_DIV, TIMER_DIV_1);
    lapic_write(LAPIC_LVT_TIMER, VECTOR_TIMER); // one-shot, unmasked; counts only once armed
    lapic_write(LAPIC_SVR, SVR_ENABLE | VECTOR_SPURIOUS);
}

// The LAPIC count for the time left until the TSC deadline, rounded up so that the interrupt
// never comes before it (an early one is re-armed by the timer queue anyway).
void timer_set_deadline(u64 deadline) {
    const u64 now = x86::rdtsc();
    u64 ticks = 1;
    if (deadline > now) {
        const unsigned __int128 t = (unsigned __int128)(deadline - now) * g_timer_mult;
        const u64 whole = u64(t >> 32) + 1;
        ticks = whole > 0xFFFF'FFFFull ? 0xFFFF'FFFFull : whole;
    }
    lapic_write(LAPIC_TIMER_INIT, u32(ticks));
}
void timer_stop() { lapic_write(LAPIC_TIMER_INIT, 0); } // a zero initial count stops the timer (16.4.1)

void send_ipi(u64 target_hw_id) { send_icr(u32(target_hw_id), VECTOR_KICK | ICR_FIXED | ICR_LEVEL_ASSERT); }

void irq_enable(u32 id, bool enable) {
    if (id < IRQ_GSI_COUNT) route_gsi(id, enable, apic_this_id());
    // The LAPIC's own interrupts (timer, IPI) are enabled in irq_cpu_init.
}
void irq_enable_shared_on(u32 id, u64 target_hw_id) {
    if (id < IRQ_GSI_COUNT) route_gsi(id, true, u32(target_hw_id));
}
void irq_deactivate(u32) {} // nothing is forwarded (arch.hpp)

// Opens the interrupt window once (STI's shadow covers the NOP: anything pending is taken after
// it, before CLI), then dispatches what the stubs recorded, highest vector first, each followed by
// its EOI (16.4.5: EOI ends the highest-priority interrupt in service, which is this one). Ends
// when a window brings nothing new.
void handle_pending_irqs() {
    X86Cpu& c = this_x86_cpu();
    for (u32 round = 0; round < 16; ++round) {
        asm volatile("sti; nop; cli" ::: "memory");
        bool any = false;
        for (int w = 3; w >= 0; --w) {
            while (c.pending[w]) {
                const u32 bitno = 63 - __builtin_clzll(c.pending[w]);
                c.pending[w] &= ~(u64(1) << bitno);
                const u32 v = u32(w) * 64 + bitno;
                any = true;
                const u32 id = vector_to_irq(v);
                if (id != ~0u) irq_dispatch(id);
                lapic_eoi();
            }
        }
        if (!any) return;
    }
}

// Each CPU at boot (host_cpu_init): its LAPIC timer and a fixed IPI really interrupt it, through
// the IDT stub and dispatch like every later one. A timer set 1 ms ahead must be taken within 1 s
// of its deadline; a kick sent to its own APIC id must arrive within 1 s. The timer is
// ended (EOI) before the IPI is sent: both sit in priority class 0xE, so an unended timer would
// hold the kick back (16.6). The waits poll with interrupt windows instead of HLT: an interrupt
// that never comes must end in the message, not in a CPU halted for good.
Result<u64> apic_check_this_cpu(const char** what) {
    auto open_window = [] { asm volatile("sti; nop; cli; pause" ::: "memory"); };
    X86Cpu& c = this_x86_cpu();
    auto taken = [&](u32 v) { return (c.pending[v / 64] >> (v % 64)) & 1; };
    const u64 deadline = x86::rdtsc() + g_tsc_hz / 1000, limit = deadline + g_tsc_hz;
    timer_set_deadline(deadline);
    while (!taken(VECTOR_TIMER) && x86::rdtsc() < limit) open_window();
    const u64 at = x86::rdtsc();
    const bool timer_ok = taken(VECTOR_TIMER);
    handle_pending_irqs(); // the timer queue's handler (nothing queued: it stops the timer) and the EOI
    if (!timer_ok) {
        timer_stop();
        *what = "the LAPIC timer did not interrupt within 1 s of its deadline";
        return Error::Unsupported;
    }
    send_ipi(apic_this_id());
    const u64 ipi_limit = x86::rdtsc() + g_tsc_hz;
    while (!taken(VECTOR_KICK) && x86::rdtsc() < ipi_limit) open_window();
    const bool ipi_ok = taken(VECTOR_KICK);
    handle_pending_irqs();
    if (!ipi_ok) {
        *what = "an IPI to its own APIC id did not arrive within 1 s";
        return Error::Unsupported;
    }
    // Signed: the count is converted from the TSC with the calibrated ratio, so it may end a few
    // microseconds early, which the timer queue absorbs (it re-arms until the deadline has passed).
    return u64(i64(at - deadline) * 1'000'000 / i64(g_tsc_hz));
}

// --- AP start-up ---

namespace {
u64 g_trampoline_entry; // what smp_prepare_trampoline patched in (low memory is unmapped later)
}

void smp_prepare_trampoline(u64 entry) {
    g_trampoline_entry = entry;
    const usize size = usize(trampoline_end - trampoline_start);
    auto* dst = reinterpret_cast<u8*>(u64(TRAMPOLINE_BASE));
    __builtin_memcpy(dst, trampoline_start, size);
    *reinterpret_cast<u64*>(dst + (trampoline_entry - trampoline_start)) = entry;
    x86::mfence();
}

// INIT, then two startup IPIs naming the trampoline's page (16.5 "Interprocessor Interrupts";
// the MP start-up sequence waits 10 ms after INIT and 200 us between the SIPIs). The AP finds its
// PerCpu itself (boot.S secondary_entry): `arg` is not passed.
Result<void> start_cpu(u64 hw_id, u64 entry, u64) {
    if (!g_trampoline_entry || entry != g_trampoline_entry) return Error::InvalidArgument; // it continues elsewhere
    const u32 dest = u32(hw_id);
    send_icr(dest, ICR_INIT | ICR_LEVEL_ASSERT);
    udelay(10'000);
    for (int i = 0; i < 2; ++i) {
        send_icr(dest, ICR_STARTUP | (TRAMPOLINE_BASE >> 12));
        udelay(200);
    }
    return {};
}

} // namespace arch
