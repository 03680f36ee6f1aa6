// The vLAPIC register model (vlapic.hpp). Intel SDM vol. 3A (325462-080) chapter 11 and AMD64 APM
// vol. 2 (24593 rev. 3.42) chapter 16; each rule cites its section.
#include "vintc/vlapic.hpp"
#include <new>

namespace vlapic {
namespace {

constexpr u64 NONE = ~0ull;
constexpr u32 TIMER_MODE_SHIFT = 17, TIMER_PERIODIC = 1, TIMER_TSC_DEADLINE = 2; // 11.5.4, LVT timer bits 18:17
// ICR fields (11.6.1, figure 11-12).
constexpr u32 ICR_MODE_FIXED = 0, ICR_MODE_LOWEST = 1, ICR_MODE_INIT = 5, ICR_MODE_SIPI = 6;
constexpr u32 ICR_DEST_LOGICAL = 1u << 11, ICR_LEVEL_ASSERT = 1u << 14, ICR_TRIGGER_LEVEL = 1u << 15;
constexpr u32 SH_NONE = 0, SH_SELF = 1, SH_ALL = 2, SH_OTHERS = 3;

bool test_bit(const u32 (&w)[8], u32 v) { return (w[v / 32] >> (v % 32)) & 1; }
void set_bit(u32 (&w)[8], u32 v, bool on) {
    if (on) w[v / 32] |= 1u << (v % 32);
    else w[v / 32] &= ~(1u << (v % 32));
}
// The highest vector set, or -1.
int highest(const u32 (&w)[8]) {
    for (int i = 7; i >= 0; --i)
        if (w[i]) return i * 32 + 31 - __builtin_clz(w[i]);
    return -1;
}

} // namespace

Result<Vlapic*> Vlapic::create(const VlapicConfig& c) {
    if (c.vcpu_count == 0 || c.vcpu_count > MaxVcpus || c.lines > MaxLines || c.host_hz == 0)
        return Error::InvalidArgument;
    Vlapic* l = new (std::nothrow) Vlapic(c);
    if (!l) return Error::NoMemory;
    return l;
}

Vlapic::Vlapic(const VlapicConfig& c)
    : m_cfg(c), m_vcpu_count(c.vcpu_count), m_lines(c.lines), m_window(*this, c.base) {
    for (u32 i = 0; i < MaxVcpus; ++i) m_host_timer[i].owner = this, m_host_timer[i].vcpu = i;
    reset();
}

Vlapic::~Vlapic() {
    for (u32 i = 0; i < m_vcpu_count; ++i) arm(i, NONE);
}

void Vlapic::arm(u32 vcpu, u64 deadline) {
    if (m_cfg.arm_timer) m_cfg.arm_timer(*this, vcpu, deadline);
}

// 11.4.7.1 "Local APIC State After Power-Up or Reset" (and after INIT, which keeps the ID): IRR,
// ISR, TMR, ICR, LDR, TPR, the timer counts and the divide register 0; DFR all ones; every LVT
// entry masked; SVR 0xFF (software disabled).
void Vlapic::reset_apic(u32 vcpu, bool keep_run) {
    Apic& a = m_apic[vcpu];
    const Run run = a.run;
    __builtin_memset(&a, 0, sizeof a);
    a.dfr = 0xFFFF'FFFF;
    a.svr = 0xFF;
    a.lvt_timer = a.lvt_thermal = a.lvt_perf = a.lvt_lint0 = a.lvt_lint1 = a.lvt_error = a.lvt_cmci = LVT_MASKED;
    a.timer_deadline = NONE;
    a.run = keep_run ? run : vcpu == 0 ? Run::Running : Run::WaitSipi;
    arm(vcpu, NONE);
    update(vcpu);
}

void Vlapic::reset() {
    SpinlockGuard g(m_lock);
    for (u32 i = 0; i < m_vcpu_count; ++i) reset_apic(i, false);
    m_start_requests.store(0, std::memory_order_release);
}

// 11.8.3.1 "Task and Processor Priorities": PPR = TPR if TPR[7:4] >= ISRV[7:4], else ISRV[7:4]:0.
u32 Vlapic::ppr(const Apic& a) const {
    const int isrv = highest(a.isr);
    const u32 isr_class = isrv < 0 ? 0 : u32(isrv) & 0xF0;
    return (a.tpr & 0xF0) >= isr_class ? a.tpr & 0xFF : isr_class;
}

// 11.8.3: the APIC presents the highest-priority IRR vector only if its class is above the PPR's.
// A software-disabled APIC presents nothing (11.4.7.2).
void Vlapic::update(u32 vcpu) {
    const Apic& a = m_apic[vcpu];
    const int v = highest(a.irr);
    u8 d = 0;
    if (enabled(a) && v >= 16 && (u32(v) & 0xF0) > (ppr(a) & 0xF0)) d = u8(v);
    m_deliverable[vcpu].store(d, std::memory_order_release);
}

// 11.8.4 "Interrupt Acceptance for Fixed Interrupts": the IRR bit is set (several requests for one
// vector collapse into it), TMR says level or edge. Vectors 0-15 are illegal (11.5.3: "Received
// Illegal Vector"). A software-disabled APIC accepts none (11.4.7.2, as KVM implements it).
bool Vlapic::accept(u32 vcpu, u8 vector, bool level) {
    Apic& a = m_apic[vcpu];
    if (!enabled(a)) return false;
    if (vector < 16) {
        a.esr_pending |= ESR_RECV_ILLEGAL;
        return false;
    }
    set_bit(a.irr, vector, true);
    set_bit(a.tmr, vector, level);
    update(vcpu);
    return m_deliverable[vcpu].load(std::memory_order_relaxed) != 0;
}

u8 Vlapic::acknowledge(u32 vcpu) {
    if (vcpu >= m_vcpu_count) return 0;
    SpinlockGuard g(m_lock);
    const u8 v = m_deliverable[vcpu].load(std::memory_order_relaxed);
    if (!v) return 0;
    Apic& a = m_apic[vcpu];
    set_bit(a.irr, v, false);
    set_bit(a.isr, v, true);
    update(vcpu);
    return v;
}

// 11.8.5 "Signaling Interrupt Servicing Completion": the EOI ends the highest ISR vector. For a
// level-triggered one (TMR set) the source is told: a device line still high is asserted again,
// as the IOAPIC does when its remote IRR clears.
void Vlapic::eoi(u32 vcpu) {
    Apic& a = m_apic[vcpu];
    const int v = highest(a.isr);
    if (v < 0) return;
    set_bit(a.isr, u32(v), false);
    const bool level = test_bit(a.tmr, u32(v));
    set_bit(a.tmr, u32(v), false);
    update(vcpu);
    const u32 gsi = u32(v) - LineVectorBase;
    if (level && vcpu == 0 && u32(v) > LineVectorBase && gsi <= m_lines && m_line_level[gsi]) (void)line_asserted(gsi);
}

VcpuSet Vlapic::line_asserted(u32 gsi) {
    const u8 vector = u8(LineVectorBase + gsi);
    // Like an IOAPIC's remote IRR: a level request already accepted is not sent again before its EOI.
    if (m_line_level[gsi] && (test_bit(m_apic[0].irr, vector) || test_bit(m_apic[0].isr, vector))) return {};
    return accept(0, vector, m_line_level[gsi]) ? VcpuSet::of(0) : VcpuSet{};
}

Result<VcpuSet> Vlapic::set_line(u32 gsi, bool level, u16) {
    if (!is_shared_line(gsi)) return Error::OutOfRange;
    SpinlockGuard g(m_lock);
    const bool was = m_line_level[gsi];
    m_line_level[gsi] = level;
    if (!level || was) return VcpuSet{};
    return line_asserted(gsi);
}

Result<VcpuSet> Vlapic::raise(u32 gsi) {
    if (!is_shared_line(gsi)) return Error::OutOfRange;
    SpinlockGuard g(m_lock);
    return accept(0, u8(LineVectorBase + gsi), false) ? VcpuSet::of(0) : VcpuSet{};
}

bool Vlapic::take_start(u32& vcpu, u8& vector) {
    SpinlockGuard g(m_lock);
    const u32 req = m_start_requests.load(std::memory_order_relaxed);
    if (!req) return false;
    vcpu = u32(__builtin_ctz(req));
    vector = m_sipi_vector[vcpu];
    m_start_requests.store(req & (req - 1), std::memory_order_release);
    return true;
}

// 11.6.1 "Interrupt Command Register (ICR)" and 11.6.2 "Determining IPI Destination".
VcpuSet Vlapic::send_ipi(u32 from, u64) {
    Apic& s = m_apic[from];
    const u32 lo = s.icr_lo, vector = lo & 0xFF, mode = (lo >> 8) & 7, shorthand = (lo >> 18) & 3;
    const u32 dest = s.icr_hi >> 24;
    u32 targets = 0;
    const u32 all = (m_vcpu_count == 32 ? ~0u : (1u << m_vcpu_count) - 1);
    switch (shorthand) {
    case SH_SELF: targets = 1u << from; break;
    case SH_ALL: targets = all; break;
    case SH_OTHERS: targets = all & ~(1u << from); break;
    case SH_NONE:
        if (!(lo & ICR_DEST_LOGICAL)) {
            // Physical: the APIC ID, 0xFF all (11.6.2.1).
            targets = dest == 0xFF ? all : dest < m_vcpu_count ? 1u << dest : 0;
        } else {
            // Logical, flat model (11.6.2.2): a destination whose LDR[31:24] shares a bit with
            // the MDA. The cluster model (DFR[31:28] = 0) is not emulated.
            for (u32 i = 0; i < m_vcpu_count; ++i) {
                if ((m_apic[i].dfr >> 28) != 0xF) {
                    m_unsupported_ipis.fetch_add(1, std::memory_order_relaxed);
                    return {};
                }
                if ((m_apic[i].ldr >> 24) & dest) targets |= 1u << i;
            }
        }
        break;
    }
    VcpuSet kick;
    switch (mode) {
    case ICR_MODE_LOWEST:
        // Lowest priority (11.6.2.4): the arbitration is the implementation's; here the lowest-numbered
        // destination takes it.
        targets &= targets ? (targets & (0 - targets)) : 0;
        [[fallthrough]];
    case ICR_MODE_FIXED:
        if (vector < 16) { // 11.5.3 "Send Illegal Vector"
            s.esr_pending |= ESR_SEND_ILLEGAL;
            return {};
        }
        for (u32 t = targets; t; t &= t - 1) {
            const u32 i = u32(__builtin_ctz(t));
            if (accept(i, u8(vector), lo & ICR_TRIGGER_LEVEL)) kick.add(u16(i));
        }
        return kick;
    case ICR_MODE_INIT:
        // INIT level de-assert (level 0, trigger level) only synchronizes arbitration IDs on old
        // processors: no effect (11.6.1).
        if (!(lo & ICR_LEVEL_ASSERT) && (lo & ICR_TRIGGER_LEVEL)) return {};
        for (u32 t = targets; t; t &= t - 1) {
            const u32 i = u32(__builtin_ctz(t));
            if (m_apic[i].run == Run::WaitSipi) reset_apic(i, true); // waits for its SIPI with a fresh APIC
            else m_unsupported_ipis.fetch_add(1, std::memory_order_relaxed); // resetting a running vCPU
        }
        return {};
    case ICR_MODE_SIPI:
        // A waiting processor starts at vector * 4 KiB in real mode (vol. 3A 8.4.4.2); a running one
        // ignores it (Linux sends two: the second finds it running).
        for (u32 t = targets; t; t &= t - 1) {
            const u32 i = u32(__builtin_ctz(t));
            if (m_apic[i].run != Run::WaitSipi) continue;
            m_apic[i].run = Run::Running;
            m_sipi_vector[i] = u8(vector);
            m_start_requests.fetch_or(1u << i, std::memory_order_acq_rel);
        }
        return {};
    default: // SMI, NMI, reserved modes
        m_unsupported_ipis.fetch_add(1, std::memory_order_relaxed);
        return {};
    }
}

// 11.5.4 "APIC Timer", figure 11-10: divide value bits 3,1:0; 111 is divide by 1, else 2^(n+1).
u64 Vlapic::timer_divisor(const Apic& a) const {
    const u32 n = (a.timer_div & 3) | ((a.timer_div >> 1) & 4);
    return n == 7 ? 1 : 2ull << n;
}

// A periodic count shorter than MinPeriodUs is stretched to it: a guest that asked for a period of
// a few host ticks would otherwise keep the host CPU in its timer interrupts (KVM has the same
// floor, its min_timer_period_us). A one-shot count is not: each needs a guest write to re-arm.
u64 Vlapic::timer_period(const Apic& a) const {
    if (!a.timer_initial) return 0;
    const unsigned __int128 t = static_cast<unsigned __int128>(a.timer_initial) * timer_divisor(a) * m_cfg.host_hz / TimerHz;
    u64 p = t == 0 ? 1 : t > (NONE >> 2) ? NONE >> 2 : u64(t);
    const u64 floor = m_cfg.host_hz / 1'000'000 * MinPeriodUs;
    if (((a.lvt_timer >> TIMER_MODE_SHIFT) & 3) == TIMER_PERIODIC && p < floor) p = floor;
    return p;
}

void Vlapic::timer_start(u32 vcpu, u64 now) {
    Apic& a = m_apic[vcpu];
    const u32 mode = (a.lvt_timer >> TIMER_MODE_SHIFT) & 3;
    const u64 period = timer_period(a);
    a.timer_start = now;
    a.timer_deadline = period && mode != TIMER_TSC_DEADLINE ? now + period : NONE;
    arm(vcpu, a.timer_deadline);
}

// The current count (11.5.4): what is left of the count at the timer's rate, 0 once a one-shot
// count has expired or when the timer is stopped.
u32 Vlapic::timer_current(const Apic& a, u64 now) const {
    const u64 period = timer_period(a);
    if (!period || a.timer_deadline == NONE) return 0;
    u64 elapsed = now - a.timer_start;
    if (now < a.timer_start) elapsed = 0;
    if (((a.lvt_timer >> TIMER_MODE_SHIFT) & 3) == TIMER_PERIODIC) elapsed %= period;
    if (elapsed >= period) return 0;
    const unsigned __int128 left = static_cast<unsigned __int128>(period - elapsed) * TimerHz /
                                   (static_cast<unsigned __int128>(m_cfg.host_hz) * timer_divisor(a));
    return left > a.timer_initial ? a.timer_initial : u32(left);
}

u64 Vlapic::timer_deadline(u32 vcpu) const {
    if (vcpu >= m_vcpu_count) return NONE;
    SpinlockGuard g(m_lock);
    return m_apic[vcpu].timer_deadline;
}

VcpuSet Vlapic::timer_fired(u32 vcpu, u64 now) {
    if (vcpu >= m_vcpu_count) return {};
    SpinlockGuard g(m_lock);
    Apic& a = m_apic[vcpu];
    if (a.timer_deadline == NONE) return {};
    if (now < a.timer_deadline) { // early (a host timer rounded): wait for the rest
        arm(vcpu, a.timer_deadline);
        return {};
    }
    VcpuSet kick;
    if (!(a.lvt_timer & LVT_MASKED) && accept(vcpu, u8(a.lvt_timer & 0xFF), false)) kick.add(u16(vcpu));
    const u64 period = timer_period(a);
    if (((a.lvt_timer >> TIMER_MODE_SHIFT) & 3) == TIMER_PERIODIC && period) {
        // Periods missed while the host was late collapse into this one interrupt (the IRR bit
        // would collapse them too); the count stays in phase with the first load.
        a.timer_start += (now - a.timer_start) / period * period;
        a.timer_deadline = a.timer_start + period;
    } else {
        a.timer_deadline = NONE;
    }
    arm(vcpu, a.timer_deadline);
    return kick;
}

Result<u64> Vlapic::read_locked(u32 vcpu, u64 off, u64 now) {
    const Apic& a = m_apic[vcpu];
    if (off >= ISR0 && off < ISR0 + 0x80) return a.isr[(off - ISR0) / 16];
    if (off >= TMR0 && off < TMR0 + 0x80) return a.tmr[(off - TMR0) / 16];
    if (off >= IRR0 && off < IRR0 + 0x80) return a.irr[(off - IRR0) / 16];
    switch (off) {
    case ID: return u64(vcpu) << 24; // 11.4.6: xAPIC ID in bits 31:24
    case VER: return Version;
    case TPR: return a.tpr;
    case APR: return 0;              // arbitration priority: no bus arbitration here
    case PPR: return ppr(a);
    case EOI: return 0;              // write-only
    case RRD: return 0;              // remote read is not supported (version 0x14 has none)
    case LDR: return a.ldr;
    case DFR: return a.dfr;
    case SVR: return a.svr;
    case ESR: return a.esr;
    case LVT_CMCI: return a.lvt_cmci;
    case ICR_LO: return a.icr_lo;    // delivery status (bit 12) 0: every IPI is delivered at once
    case ICR_HI: return a.icr_hi;
    case LVT_TIMER: return a.lvt_timer;
    case LVT_THERMAL: return a.lvt_thermal;
    case LVT_PERF: return a.lvt_perf;
    case LVT_LINT0: return a.lvt_lint0;
    case LVT_LINT1: return a.lvt_lint1;
    case LVT_ERROR: return a.lvt_error;
    case TIMER_INIT: return a.timer_initial;
    case TIMER_CUR: return timer_current(a, now);
    case TIMER_DIV: return a.timer_div;
    default: return Error::InvalidArgument;
    }
}

Result<VcpuSet> Vlapic::write_locked(u32 vcpu, u64 off, u32 v, u64 now) {
    Apic& a = m_apic[vcpu];
    // 11.4.7.2: while software-disabled, the LVT mask bits cannot be cleared.
    const u32 force_mask = enabled(a) ? 0 : LVT_MASKED;
    switch (off) {
    case TPR: a.tpr = v & 0xFF; update(vcpu); return VcpuSet::of(u16(vcpu));
    case EOI: eoi(vcpu); return m_deliverable[0].load(std::memory_order_relaxed) ? VcpuSet::of(0) : VcpuSet{};
    case LDR: a.ldr = v & 0xFF00'0000; return VcpuSet{};
    case DFR: a.dfr = v | 0x0FFF'FFFF; return VcpuSet{};
    case SVR:
        a.svr = v & 0x13FF; // vector, APIC enable (8), focus check (9), EOI broadcast suppression (12)
        if (!enabled(a)) { // 11.4.7.2: disabling masks every LVT entry
            a.lvt_timer |= LVT_MASKED, a.lvt_thermal |= LVT_MASKED, a.lvt_perf |= LVT_MASKED;
            a.lvt_lint0 |= LVT_MASKED, a.lvt_lint1 |= LVT_MASKED, a.lvt_error |= LVT_MASKED, a.lvt_cmci |= LVT_MASKED;
        }
        update(vcpu);
        return VcpuSet::of(u16(vcpu));
    case ESR: // 11.5.3: a write moves the errors seen since the last write into the ESR
        a.esr = a.esr_pending;
        a.esr_pending = 0;
        return VcpuSet{};
    case LVT_CMCI: a.lvt_cmci = (v & 0x107FF) | force_mask; return VcpuSet{};
    case ICR_HI: a.icr_hi = v & 0xFF00'0000; return VcpuSet{};
    case ICR_LO: a.icr_lo = v & ~u32(1u << 12) & 0x000C'CFFF; return send_ipi(vcpu, now);
    case LVT_TIMER: {
        const u32 old_mode = (a.lvt_timer >> TIMER_MODE_SHIFT) & 3;
        a.lvt_timer = (v & 0x600FF) | (v & LVT_MASKED) | force_mask;
        const u32 mode = (a.lvt_timer >> TIMER_MODE_SHIFT) & 3;
        // 11.5.4.1: a change to or from TSC-deadline mode disarms the timer.
        if (mode != old_mode && (mode == TIMER_TSC_DEADLINE || old_mode == TIMER_TSC_DEADLINE)) {
            a.timer_initial = 0;
            a.timer_deadline = NONE;
            arm(vcpu, NONE);
        }
        return VcpuSet{};
    }
    case LVT_THERMAL: a.lvt_thermal = (v & 0x107FF) | force_mask; return VcpuSet{};
    case LVT_PERF: a.lvt_perf = (v & 0x107FF) | force_mask; return VcpuSet{};
    case LVT_LINT0: a.lvt_lint0 = (v & 0x1A7FF) | force_mask; return VcpuSet{};
    case LVT_LINT1: a.lvt_lint1 = (v & 0x1A7FF) | force_mask; return VcpuSet{};
    case LVT_ERROR: a.lvt_error = (v & 0x100FF) | force_mask; return VcpuSet{};
    case TIMER_INIT: // 11.5.4: a write (re)starts the count; 0 stops the timer
        a.timer_initial = v;
        timer_start(vcpu, now);
        return VcpuSet{};
    case TIMER_DIV: {
        // The count goes on from what is left at the new rate.
        const u32 left = timer_current(a, now);
        a.timer_div = v & 0xB;
        if (a.timer_deadline != NONE) {
            const u64 period = timer_period(a);
            const unsigned __int128 t = static_cast<unsigned __int128>(left) * timer_divisor(a) * m_cfg.host_hz / TimerHz;
            a.timer_deadline = now + u64(t);
            a.timer_start = a.timer_deadline - period;
            arm(vcpu, a.timer_deadline);
        }
        return VcpuSet{};
    }
    case ID: case VER: case APR: case PPR: case RRD: case TIMER_CUR:
        m_bad.fetch_add(1, std::memory_order_relaxed); // read-only: ignored, as an xAPIC does
        return VcpuSet{};
    default:
        if (off >= ISR0 && off < IRR0 + 0x80) {
            m_bad.fetch_add(1, std::memory_order_relaxed);
            return VcpuSet{};
        }
        return Error::InvalidArgument;
    }
}

Result<u64> Vlapic::mmio_read(u32 vcpu, u64 offset, unsigned width, u64 now) {
    if (vcpu >= m_vcpu_count || width != 4 || offset % 16 || offset >= WindowSize) {
        m_bad.fetch_add(1, std::memory_order_relaxed);
        return Error::InvalidArgument;
    }
    SpinlockGuard g(m_lock);
    auto r = read_locked(vcpu, offset, now);
    if (r.is_error()) m_bad.fetch_add(1, std::memory_order_relaxed);
    return r;
}

Result<VcpuSet> Vlapic::mmio_write(u32 vcpu, u64 offset, unsigned width, u64 value, u64 now) {
    if (vcpu >= m_vcpu_count || width != 4 || offset % 16 || offset >= WindowSize) {
        m_bad.fetch_add(1, std::memory_order_relaxed);
        return Error::InvalidArgument;
    }
    SpinlockGuard g(m_lock);
    auto r = write_locked(vcpu, offset, u32(value), now);
    if (r.is_error()) m_bad.fetch_add(1, std::memory_order_relaxed);
    return r;
}

Result<u64> VlapicWindow::read(u64 offset, unsigned width) {
    const VlapicConfig& c = m_l.m_cfg;
    const u32 vcpu = c.current_vcpu ? c.current_vcpu(c.ctx) : ~0u;
    return m_l.mmio_read(vcpu, offset, width, c.clock ? c.clock() : 0);
}

Result<void> VlapicWindow::write(u64 offset, unsigned width, u64 value) {
    const VlapicConfig& c = m_l.m_cfg;
    const u32 vcpu = c.current_vcpu ? c.current_vcpu(c.ctx) : ~0u;
    auto r = m_l.mmio_write(vcpu, offset, width, value, c.clock ? c.clock() : 0);
    if (r.is_error()) return r.error();
    if (c.kick && !r.value().empty()) c.kick(c.ctx, r.value());
    return {};
}

} // namespace vlapic
