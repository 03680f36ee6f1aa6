// One VM's LoongArch interrupt controllers as QEMU's LoongArch virt board has them, the chain Linux
// programs on that board: device lines into the PCH-PIC (an MMIO window, Loongson 7A1000 bridge
// user manual v2.0, 5 "Interrupt controller", as QEMU's hw/intc/loongarch_pch_pic.c lays it out at
// 0x1000_0000), which sends each unmasked line as a vector (its HTMSI_VEC byte) to the EIOINTC (the
// extended I/O interrupt controller in IOCSR space, Loongson 3A5000 user manual v1.03, 11.2, at
// QEMU's addresses 0x1400-0x1cff), which routes each enabled vector to one core (COREMAP) and one of
// its interrupt pins IP0-3 (IPMAP, per group of 32 vectors). Pin n of a core is the guest's
// hardware interrupt line HWI n (ESTAT.IS[2 + n], LoongArch Reference Manual Vol. 1 v1.10, 7.4.5),
// which the loongarch64 vCPU backend presents through GINTC (arch/loongarch64/lvz_irq.hpp).
// Arch-neutral: nothing here touches a CSR; the backend reads hwi_lines() before every entry and
// hands its IOCSR accesses in the EIOINTC's range to iocsr_read/iocsr_write.
//
// Semantics (what the test guests and Linux's irq-loongson-pch-pic / irq-loongson-eiointc use):
//  - PCH-PIC: INT_MASK (reset: all masked), INT_EDGE (1: edge, latched in INT_ISR on a rising edge
//    until INT_CLEAR; 0: level, INT_ISR follows the line), INT_POL (1: active low), HTMSI_VEC (the
//    vector per line). A line's vector is asserted at the EIOINTC while its INT_ISR bit is set and
//    it is unmasked. ROUTE_ENTRY, HTMSI_EN, AUTO_CTRL0/1 are kept and read back (they steer the
//    7A1000's HT messages, which this model has no choice about).
//  - EIOINTC: a vector's level comes from the PCH-PIC. While asserted and enabled (ENABLE) it is
//    pending in ISR and in its core's COREISR; a write of 1s to COREISR clears those bits (the
//    guest's acknowledgement), and a level vector still asserted then is pending again at once.
//    COREMAP bytes name the core by their lowest set bit among [3:0] (0: core 0), IPMAP bytes the
//    pin by their lowest set bit among [3:0] (0: IP0). BOUNCE and NODETYPE are kept and read back.
//  - Everything else in the two ranges reads 0 and ignores writes, counted in unmodelled(); an
//    access of a width a register does not take is counted the same way. Nothing stops the VM.
//
// Locking: one spinlock per VM, a leaf; the per-vCPU HWI bytes are atomics read without it.
// Kicks: set_line and register writes return the vCPUs whose HWI lines changed (to kick).
#pragma once
#include "base/result.hpp"
#include "devices/mmio_device.hpp"
#include "kernel/spinlock.hpp"
#include "vintc/vgic_types.hpp"
#include "vintc/virt_intc.hpp"
#include <atomic>

namespace veiointc {

using vgic::VcpuSet;

inline constexpr u32 Lines = 64;                    // PCH-PIC inputs
inline constexpr u32 Vectors = 256;                 // EIOINTC vectors
inline constexpr u32 MaxVcpus = 4;                  // COREMAP's bitmap form names cores 0-3
inline constexpr u64 DefaultBase = 0x1000'0000;     // QEMU virt's VIRT_PCH_REG_BASE
inline constexpr u64 WindowSize = 0x1000;           // the PCH-PIC's registers end below 0x400

// PCH-PIC register offsets (64-bit registers; HTMSI_VEC and ROUTE_ENTRY one byte per line).
inline constexpr u64 PIC_INT_ID = 0x000, PIC_INT_MASK = 0x020, PIC_HTMSI_EN = 0x040, PIC_INT_EDGE = 0x060,
                     PIC_INT_CLEAR = 0x080, PIC_AUTO_CTRL0 = 0x0C0, PIC_AUTO_CTRL1 = 0x0E0, PIC_ROUTE_ENTRY = 0x100,
                     PIC_HTMSI_VEC = 0x200, PIC_INT_ISR = 0x3A0, PIC_INT_POL = 0x3E0;
// INT_ID as QEMU's model reads it: ID 7 in [31:24] of the low word, the line count - 1 in [23:16]
// and version 1 of the high word.
inline constexpr u64 PIC_INT_ID_VALUE = u64(0x0007'0000) << 8 | u64((Lines - 1) << 16 | 1) << 32;

// EIOINTC IOCSR addresses.
inline constexpr u64 EIO_BASE = 0x1400, EIO_END = 0x1D00;
inline constexpr u64 EIO_NODETYPE = 0x14A0, EIO_IPMAP = 0x14C0, EIO_ENABLE = 0x1600, EIO_BOUNCE = 0x1680,
                     EIO_ISR = 0x1700, EIO_COREISR = 0x1800, EIO_COREMAP = 0x1C00;
inline constexpr bool is_eiointc(u64 iocsr) { return iocsr >= EIO_BASE && iocsr < EIO_END; }

struct Config {
    u32 vcpu_count = 1;   // 1..MaxVcpus
    GuestPhysAddr base{}; // the PCH-PIC window
    void (*kick)(void* ctx, VcpuSet vcpus) = nullptr; // the window's writes: vCPUs whose lines changed
    void* kick_ctx = nullptr;
};

class Veiointc;
class PchPicWindow final : public MmioDevice {
public:
    PchPicWindow(Veiointc& m, GuestPhysAddr base) : MmioDevice("pch-pic", base, WindowSize), m_m(m) {}
    ~PchPicWindow() = default;
    Result<u64> read(u64 offset, unsigned width) override;
    Result<void> write(u64 offset, unsigned width, u64 value) override;

private:
    Veiointc& m_m;
};

class Veiointc {
public:
    // InvalidArgument for a vCPU count outside 1..MaxVcpus.
    static Result<Veiointc*> create(const Config& c);
    // The VM's model (VirtIntcModel): all Lines inputs whatever setup.lines (at most Lines) says,
    // the window at setup.base[0] (0: DefaultBase).
    static Result<Veiointc*> create_for_vm(const VintcSetup& setup);

    usize window_count() const { return 1; }
    MmioDevice* window(usize i) { return i == 0 ? &m_window : nullptr; }

    // A PCH-PIC input (any CPU): its level, or one edge. OutOfRange for a line >= Lines.
    Result<VcpuSet> set_line(u32 line, bool level, u16 vcpu = 0);
    Result<VcpuSet> raise(u32 line);
    Result<void> set_hw(u32, u32) { return Error::Unsupported; } // no host line is forwarded
    void reset();
    bool is_shared_line(u32 line) const { return line < Lines; }

    // --- the vCPU backend ---
    // HWI0-3 of `vcpu` (bit n: pin IPn), read before every entry.
    u8 hwi_lines(u32 vcpu) const { return vcpu < MaxVcpus ? m_hwi[vcpu].load(std::memory_order_acquire) : 0; }
    // An IOCSR access in [EIO_BASE, EIO_END) by `vcpu` (COREISR is the accessing core's). Reads
    // return the value; both return the vCPUs whose lines changed in `kick`.
    u64 iocsr_read(u32 vcpu, u64 addr, u32 size);
    void iocsr_write(u32 vcpu, u64 addr, u32 size, u64 value, VcpuSet& kick);

    // --- the PCH-PIC window ---
    u64 pic_read(u64 offset, u32 size);
    void pic_write(u64 offset, u32 size, u64 value, VcpuSet& kick);

    // Accesses to registers the model does not have, or with a width they do not take.
    u64 unmodelled() const { return m_unmodelled.load(std::memory_order_relaxed); }
    const Config& config() const { return m_c; }

private:
    explicit Veiointc(const Config& c) : m_c(c), m_window(*this, c.base) { reset(); }

    // Under m_lock.
    void pic_update(VcpuSet& kick);  // the PCH-PIC's vectors -> the EIOINTC's inputs
    void eio_update(VcpuSet& kick);  // pending vectors -> each core's pins
    u32 core_of(u32 vector) const;
    u32 pin_of(u32 vector) const;
    bool bit(const u64* a, u32 i) const { return a[i / 64] >> (i % 64) & 1; }
    void count_unmodelled() { m_unmodelled.fetch_add(1, std::memory_order_relaxed); }

    Config m_c;
    PchPicWindow m_window;
    mutable Spinlock m_lock;
    // PCH-PIC
    u64 m_level = 0;  // the inputs as the devices drive them
    u64 m_isr = 0;    // INT_ISR: level lines as driven (after INT_POL), edge lines latched
    u64 m_mask = 0, m_edge = 0, m_pol = 0, m_htmsi_en = 0, m_auto[2] = {};
    u8 m_route[Lines] = {}, m_vec[Lines] = {};
    // EIOINTC (256-bit arrays as four words)
    u64 m_in[4] = {};      // each vector's level from the PCH-PIC
    u64 m_enable[4] = {}, m_bounce[4] = {}, m_eisr[4] = {};
    u64 m_coreisr[MaxVcpus][4] = {};
    u8 m_ipmap[8] = {}, m_coremap[Vectors] = {};
    u16 m_nodetype[16] = {};
    std::atomic<u8> m_hwi[MaxVcpus] = {};
    std::atomic<u64> m_unmodelled{0};
};

static_assert(VirtIntcModel<Veiointc>);

} // namespace veiointc
