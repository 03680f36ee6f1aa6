// The LoongArch PCH-PIC + EIOINTC model (veiointc.hpp).
#include "vintc/veiointc.hpp"
#include <new>

namespace veiointc {

Result<Veiointc*> Veiointc::create(const Config& c) {
    if (c.vcpu_count == 0 || c.vcpu_count > MaxVcpus) return Error::InvalidArgument;
    Veiointc* m = new (std::nothrow) Veiointc(c);
    if (!m) return Error::NoMemory;
    return m;
}

Result<Veiointc*> Veiointc::create_for_vm(const VintcSetup& setup) {
    if (setup.lines > Lines) return Error::InvalidArgument;
    Config c;
    c.vcpu_count = setup.vcpu_count;
    c.base = setup.base[0].value() ? setup.base[0] : GuestPhysAddr(DefaultBase);
    c.kick = setup.kick;
    c.kick_ctx = setup.kick_ctx;
    return create(c);
}

void Veiointc::reset() {
    SpinlockGuard g(m_lock);
    m_level = m_isr = 0;
    m_mask = ~0ull; // every line masked until the guest unmasks it
    m_edge = m_pol = m_htmsi_en = m_auto[0] = m_auto[1] = 0;
    for (u32 i = 0; i < Lines; ++i) m_route[i] = 0, m_vec[i] = 0;
    for (u32 w = 0; w < 4; ++w) {
        m_in[w] = m_enable[w] = m_bounce[w] = m_eisr[w] = 0;
        for (u32 c = 0; c < MaxVcpus; ++c) m_coreisr[c][w] = 0;
    }
    for (u8& b : m_ipmap) b = 0;
    for (u8& b : m_coremap) b = 0;
    for (u16& n : m_nodetype) n = 0;
    for (auto& h : m_hwi) h.store(0, std::memory_order_release);
}

u32 Veiointc::core_of(u32 vector) const {
    const u32 map = m_coremap[vector] & 0xF;
    const u32 core = map ? u32(__builtin_ctz(map)) : 0;
    return core < m_c.vcpu_count ? core : 0;
}
u32 Veiointc::pin_of(u32 vector) const {
    const u32 map = m_ipmap[vector / 32] & 0xF;
    return map ? u32(__builtin_ctz(map)) : 0;
}

// Each line's INT_ISR bit, unmasked, asserts its vector at the EIOINTC (two lines may share one).
void Veiointc::pic_update(VcpuSet& kick) {
    u64 in[4] = {};
    for (u64 s = m_isr & ~m_mask; s; s &= s - 1) {
        const u32 v = m_vec[__builtin_ctzll(s)];
        in[v / 64] |= 1ull << (v % 64);
    }
    for (u32 w = 0; w < 4; ++w) {
        const u64 rising = in[w] & ~m_in[w], falling = m_in[w] & ~in[w];
        m_in[w] = in[w];
        // An asserted, enabled vector is pending in ISR and its core's COREISR; one that drops
        // before the guest acknowledged it is no longer pending (level semantics, as QEMU's model).
        for (u64 s = rising & m_enable[w]; s; s &= s - 1) {
            const u32 v = w * 64 + u32(__builtin_ctzll(s));
            m_eisr[w] |= 1ull << (v % 64);
            m_coreisr[core_of(v)][w] |= 1ull << (v % 64);
        }
        m_eisr[w] &= ~falling;
        for (u32 c = 0; c < MaxVcpus; ++c) m_coreisr[c][w] &= ~falling;
    }
    eio_update(kick);
}

void Veiointc::eio_update(VcpuSet& kick) {
    for (u32 c = 0; c < m_c.vcpu_count; ++c) {
        u8 pins = 0;
        for (u32 w = 0; w < 4; ++w)
            for (u64 s = m_coreisr[c][w] & m_enable[w]; s; s &= s - 1) pins |= u8(1u << pin_of(w * 64 + u32(__builtin_ctzll(s))));
        if (m_hwi[c].exchange(pins, std::memory_order_acq_rel) != pins) kick.add(u16(c));
    }
}

Result<VcpuSet> Veiointc::set_line(u32 line, bool level, u16) {
    if (line >= Lines) return Error::OutOfRange;
    VcpuSet kick;
    SpinlockGuard g(m_lock);
    const u64 b = 1ull << line, was = m_level & b;
    m_level = level ? m_level | b : m_level & ~b;
    const bool active = level != bool(m_pol & b);
    if (m_edge & b) {
        if (level && !was) m_isr |= b; // a rising edge latches until INT_CLEAR
    } else {
        m_isr = active ? m_isr | b : m_isr & ~b;
    }
    pic_update(kick);
    return kick;
}

Result<VcpuSet> Veiointc::raise(u32 line) {
    if (line >= Lines) return Error::OutOfRange;
    VcpuSet kick;
    SpinlockGuard g(m_lock);
    m_isr |= 1ull << line; // one event: pending until acknowledged (INT_CLEAR, or the line level)
    pic_update(kick);
    return kick;
}

// --- PCH-PIC registers: 64-bit ones taken as 4 or 8 bytes (a 4-byte access is one half), the
// per-line byte arrays as 1, 2, 4 or 8 bytes. ---
namespace {
bool aligned(u64 off, u32 size) { return (size == 1 || size == 2 || size == 4 || size == 8) && off % size == 0; }
u64 half(u64 reg, u64 off, u32 size) { return size == 8 ? reg : reg >> (8 * (off & 4)) & 0xFFFF'FFFFull; }
u64 merge(u64 reg, u64 off, u32 size, u64 v) {
    if (size == 8) return v;
    const u32 sh = 8 * u32(off & 4);
    return (reg & ~(0xFFFF'FFFFull << sh)) | (v & 0xFFFF'FFFFull) << sh;
}
} // namespace

u64 Veiointc::pic_read(u64 off, u32 size) {
    SpinlockGuard g(m_lock);
    if (!aligned(off, size)) return count_unmodelled(), 0;
    if ((off >= PIC_ROUTE_ENTRY && off < PIC_ROUTE_ENTRY + Lines) || (off >= PIC_HTMSI_VEC && off < PIC_HTMSI_VEC + Lines)) {
        const u8* a = off >= PIC_HTMSI_VEC ? m_vec : m_route;
        const u64 i = off - (off >= PIC_HTMSI_VEC ? PIC_HTMSI_VEC : PIC_ROUTE_ENTRY);
        u64 v = 0;
        for (u32 k = 0; k < size && i + k < Lines; ++k) v |= u64(a[i + k]) << (8 * k);
        return v;
    }
    if (size < 4) return count_unmodelled(), 0;
    switch (off & ~7ull) {
    case PIC_INT_ID: return half(PIC_INT_ID_VALUE, off, size);
    case PIC_INT_MASK: return half(m_mask, off, size);
    case PIC_HTMSI_EN: return half(m_htmsi_en, off, size);
    case PIC_INT_EDGE: return half(m_edge, off, size);
    case PIC_AUTO_CTRL0: return half(m_auto[0], off, size);
    case PIC_AUTO_CTRL1: return half(m_auto[1], off, size);
    case PIC_INT_ISR: return half(m_isr & ~m_mask, off, size);
    case PIC_INT_POL: return half(m_pol, off, size);
    case PIC_INT_CLEAR: return 0; // write-only
    default: count_unmodelled(); return 0;
    }
}

void Veiointc::pic_write(u64 off, u32 size, u64 v, VcpuSet& kick) {
    SpinlockGuard g(m_lock);
    if (!aligned(off, size)) return count_unmodelled();
    if ((off >= PIC_ROUTE_ENTRY && off < PIC_ROUTE_ENTRY + Lines) || (off >= PIC_HTMSI_VEC && off < PIC_HTMSI_VEC + Lines)) {
        u8* a = off >= PIC_HTMSI_VEC ? m_vec : m_route;
        const u64 i = off - (off >= PIC_HTMSI_VEC ? PIC_HTMSI_VEC : PIC_ROUTE_ENTRY);
        for (u32 k = 0; k < size && i + k < Lines; ++k) a[i + k] = u8(v >> (8 * k));
        pic_update(kick);
        return;
    }
    if (size < 4) return count_unmodelled();
    switch (off & ~7ull) {
    case PIC_INT_MASK: m_mask = merge(m_mask, off, size, v); break;
    case PIC_HTMSI_EN: m_htmsi_en = merge(m_htmsi_en, off, size, v); break;
    case PIC_INT_EDGE: m_edge = merge(m_edge, off, size, v); break;
    case PIC_AUTO_CTRL0: m_auto[0] = merge(m_auto[0], off, size, v); break;
    case PIC_AUTO_CTRL1: m_auto[1] = merge(m_auto[1], off, size, v); break;
    case PIC_INT_POL: {
        m_pol = merge(m_pol, off, size, v);
        const u64 level_active = m_level ^ m_pol; // level lines follow the (new) polarity
        m_isr = (m_isr & m_edge) | (level_active & ~m_edge);
        break;
    }
    case PIC_INT_CLEAR: {
        const u64 clr = merge(0, off, size, v);
        m_isr &= ~(clr & m_edge); // an edge line's latch; a level line follows its input
        break;
    }
    case PIC_INT_ID:
    case PIC_INT_ISR: return; // read-only
    default: return count_unmodelled();
    }
    pic_update(kick);
}

// --- EIOINTC registers: IOCSR accesses of 1, 2, 4 or 8 bytes over byte arrays. ---
u64 Veiointc::iocsr_read(u32 vcpu, u64 addr, u32 size) {
    SpinlockGuard g(m_lock);
    if (!aligned(addr, size) || !is_eiointc(addr + size - 1)) return count_unmodelled(), 0;
    auto bytes = [&](const u8* p, u64 base, u64 len) -> u64 {
        u64 v = 0;
        for (u32 k = 0; k < size; ++k)
            if (addr - base + k < len) v |= u64(p[addr - base + k]) << (8 * k);
        return v;
    };
    const u32 me = vcpu < m_c.vcpu_count ? vcpu : 0;
    if (addr >= EIO_NODETYPE && addr < EIO_NODETYPE + 32) return bytes(reinterpret_cast<const u8*>(m_nodetype), EIO_NODETYPE, 32);
    if (addr >= EIO_IPMAP && addr < EIO_IPMAP + 8) return bytes(m_ipmap, EIO_IPMAP, 8);
    if (addr >= EIO_ENABLE && addr < EIO_ENABLE + 32) return bytes(reinterpret_cast<const u8*>(m_enable), EIO_ENABLE, 32);
    if (addr >= EIO_BOUNCE && addr < EIO_BOUNCE + 32) return bytes(reinterpret_cast<const u8*>(m_bounce), EIO_BOUNCE, 32);
    if (addr >= EIO_ISR && addr < EIO_ISR + 32) return bytes(reinterpret_cast<const u8*>(m_eisr), EIO_ISR, 32);
    if (addr >= EIO_COREISR && addr < EIO_COREISR + 32)
        return bytes(reinterpret_cast<const u8*>(m_coreisr[me]), EIO_COREISR, 32);
    if (addr >= EIO_COREMAP && addr < EIO_COREMAP + Vectors) return bytes(m_coremap, EIO_COREMAP, Vectors);
    count_unmodelled();
    return 0;
}

void Veiointc::iocsr_write(u32 vcpu, u64 addr, u32 size, u64 v, VcpuSet& kick) {
    SpinlockGuard g(m_lock);
    if (!aligned(addr, size) || !is_eiointc(addr + size - 1)) return count_unmodelled();
    auto put = [&](u8* p, u64 base, u64 len) {
        for (u32 k = 0; k < size; ++k)
            if (addr - base + k < len) p[addr - base + k] = u8(v >> (8 * k));
    };
    const u32 me = vcpu < m_c.vcpu_count ? vcpu : 0;
    if (addr >= EIO_NODETYPE && addr < EIO_NODETYPE + 32) return put(reinterpret_cast<u8*>(m_nodetype), EIO_NODETYPE, 32);
    if (addr >= EIO_BOUNCE && addr < EIO_BOUNCE + 32) return put(reinterpret_cast<u8*>(m_bounce), EIO_BOUNCE, 32);
    if (addr >= EIO_ISR && addr < EIO_ISR + 32) return; // read-only
    if (addr >= EIO_IPMAP && addr < EIO_IPMAP + 8) {
        put(m_ipmap, EIO_IPMAP, 8);
    } else if (addr >= EIO_COREMAP && addr < EIO_COREMAP + Vectors) {
        // A vector pending on its old core moves to the new one.
        u64 pending[4];
        for (u32 w = 0; w < 4; ++w) {
            pending[w] = 0;
            for (u32 c = 0; c < MaxVcpus; ++c) pending[w] |= m_coreisr[c][w];
        }
        put(m_coremap, EIO_COREMAP, Vectors);
        for (u32 w = 0; w < 4; ++w) {
            for (u32 c = 0; c < MaxVcpus; ++c) m_coreisr[c][w] = 0;
            for (u64 s = pending[w]; s; s &= s - 1) {
                const u32 vec = w * 64 + u32(__builtin_ctzll(s));
                m_coreisr[core_of(vec)][w] |= 1ull << (vec % 64);
            }
        }
    } else if (addr >= EIO_ENABLE && addr < EIO_ENABLE + 32) {
        u64 old[4];
        for (u32 w = 0; w < 4; ++w) old[w] = m_enable[w];
        put(reinterpret_cast<u8*>(m_enable), EIO_ENABLE, 32);
        // A vector enabled while its input is asserted becomes pending; one disabled stops being.
        for (u32 w = 0; w < 4; ++w) {
            for (u64 s = m_enable[w] & ~old[w] & m_in[w]; s; s &= s - 1) {
                const u32 vec = w * 64 + u32(__builtin_ctzll(s));
                m_eisr[w] |= 1ull << (vec % 64);
                m_coreisr[core_of(vec)][w] |= 1ull << (vec % 64);
            }
            const u64 off_now = old[w] & ~m_enable[w];
            m_eisr[w] &= ~off_now;
            for (u32 c = 0; c < MaxVcpus; ++c) m_coreisr[c][w] &= ~off_now;
        }
    } else if (addr >= EIO_COREISR && addr < EIO_COREISR + 32) {
        // Write 1 to acknowledge; a level vector still asserted is pending again at once.
        u64 ack[4] = {};
        put(reinterpret_cast<u8*>(ack), EIO_COREISR, 32);
        for (u32 w = 0; w < 4; ++w) {
            const u64 again = ack[w] & m_in[w] & m_enable[w];
            m_coreisr[me][w] = (m_coreisr[me][w] & ~ack[w]) | (again & m_coreisr[me][w]);
            m_eisr[w] = (m_eisr[w] & ~ack[w]) | (again & m_eisr[w]);
        }
    } else {
        return count_unmodelled();
    }
    eio_update(kick);
}

Result<u64> PchPicWindow::read(u64 offset, unsigned width) { return m_m.pic_read(offset, width); }
Result<void> PchPicWindow::write(u64 offset, unsigned width, u64 value) {
    VcpuSet kick;
    m_m.pic_write(offset, width, value, kick);
    if (!kick.empty() && m_m.config().kick) m_m.config().kick(m_m.config().kick_ctx, kick);
    return {};
}

} // namespace veiointc
