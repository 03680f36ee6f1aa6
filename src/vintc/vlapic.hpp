// One VM's emulated local APICs (xAPIC, memory-mapped): Intel SDM vol. 3A (order no. 325462-080,
// June 2023) chapter 11 "Advanced Programmable Interrupt Controller (APIC)", and AMD64 APM vol. 2
// (24593 rev. 3.42) chapter 16 "Advanced Programmable Interrupt Controller (APIC)"; sections cited
// where each rule is implemented. Arch-neutral: nothing here touches a VMCB or VMCS. The x86 vCPU
// backend asks the model *what* to deliver (deliverable(), acknowledge()) and decides *how*
// (SVM EVENTINJ / an interrupt window, or VMX's VM-entry interruption information).
//
// What a guest gets (docs/porting.md "x86 VMs: interrupts"):
//  - one local APIC per vCPU at the page `base` (0xFEE0_0000 by default); each vCPU reaches its own
//    through the same page. APIC ID = the vCPU index (read-only), version 0x14 with 6 LVT entries.
//  - TPR/PPR/APR, EOI, SVR (software enable, SDM 11.4.7.2: while disabled, fixed interrupts are
//    not accepted and the LVT mask bits stay set), ISR/TMR/IRR, ESR (write-then-read, 11.5.3),
//    LDR/DFR (flat logical model only), ICR (11.6.1): fixed and lowest-priority (delivered to the
//    lowest-numbered destination), INIT, start-up (SIPI); physical and flat logical destinations,
//    the self / all / all-but-self shorthands. NMI and SMI IPIs are not delivered (counted in
//    unsupported_ipis()).
//  - the LVT timer (11.5.4): one-shot and periodic with the divide configuration, counting at
//    TimerHz (documented to the guest through CPUID 0x4000_0010 EBX, in kHz) derived from the host
//    counter; TSC-deadline mode is not offered (CPUID.1:ECX[24] clear) and counts as disabled.
//    A periodic period is at least MinPeriodUs (a guest cannot flood the host with timer events).
//    Current count reads the time left. LVT thermal, performance, LINT0/1, error and CMCI hold
//    what is written and never deliver.
//  - device lines ("lines"): GSIs 1..lines of the VM's emulated devices (its 16550 on 4), each
//    delivered as a fixed interrupt at vector LineVectorBase + GSI to vCPU 0's APIC, edge (raise)
//    or level (set_line: asserted again after the EOI of that vector while the line is still
//    high, as an IOAPIC's remote IRR would). No IOAPIC is emulated: the line is enabled at the
//    device (the 16550's IER).
//  - INIT/SIPI: the boot vCPU starts running, the others wait for a start-up IPI (11.4.6,
//    8.4.4.1 in vol. 3A: APs wait for SIPI after reset). An INIT to a vCPU that waits resets its
//    APIC; a SIPI to a waiting vCPU queues a start request (the backend turns it into a CpuUp exit
//    that starts the vCPU in real mode at vector * 4 KiB, 8.4.4.2). An INIT to a running vCPU is
//    not emulated (counted in unsupported_ipis()), a SIPI to one is ignored, as on hardware.
//
// Accesses: 32-bit loads and stores at 16-byte aligned offsets (11.4.1: "All 32-bit registers
// should be accessed using 128-bit aligned 32-bit loads or stores"); other widths and offsets are
// refused (InvalidArgument: the VM injects #GP) and counted. Writes to read-only registers (ID,
// which stays the vCPU index, version, PPR, ISR/TMR/IRR, current count) are ignored, as an xAPIC
// ignores them, and counted too.
//
// Locking: one spinlock per VM protects every APIC; every public member takes it, and it is a leaf
// except for the host-timer arm callback (order: model lock, then the timer queue's). Kicks are
// returned as VcpuSets (the window calls the kick callback itself, outside the lock).
#pragma once
#include "base/result.hpp"
#include "devices/mmio_device.hpp"
#include "kernel/spinlock.hpp"
#include "kernel/timer.hpp"
#include "vintc/layout.hpp"
#include "vintc/vgic_types.hpp"
#include "vintc/virt_intc.hpp"
#include <atomic>

namespace vlapic {

using vgic::VcpuSet;

inline constexpr u32 MaxVcpus = vgic::MaxVcpus;
inline constexpr u64 DefaultBase = 0xFEE0'0000; // SDM 11.4.1: the APIC base at power-up
inline constexpr u64 WindowSize = 0x1000;
inline constexpr u32 MaxLines = 23;             // GSIs 1..23, the ISA IRQs and the first PCI ones of a PC
static_assert(lapic_layout(1).window_size[0] == WindowSize && lapic_layout(1).max_lines == MaxLines &&
              lapic_layout(1).first_line == 1);
inline constexpr u32 LineVectorBase = 0x20;     // GSI n -> vector 0x20 + n (IRQ 4, COM1: 0x24)
inline constexpr u64 TimerHz = 100'000'000;     // the APIC timer's input clock as the guest sees it
inline constexpr u64 MinPeriodUs = 100;         // the shortest periodic timer period (vlapic.cpp)
inline constexpr u32 Version = 0x0005'0014;     // 11.4.8: version 0x14, max LVT entry 5 (6 entries)

// Register offsets (SDM table 11-1; APM table 16-2).
enum Reg : u32 {
    ID = 0x20, VER = 0x30, TPR = 0x80, APR = 0x90, PPR = 0xA0, EOI = 0xB0, RRD = 0xC0, LDR = 0xD0, DFR = 0xE0,
    SVR = 0xF0, ISR0 = 0x100, TMR0 = 0x180, IRR0 = 0x200, ESR = 0x280, LVT_CMCI = 0x2F0, ICR_LO = 0x300,
    ICR_HI = 0x310, LVT_TIMER = 0x320, LVT_THERMAL = 0x330, LVT_PERF = 0x340, LVT_LINT0 = 0x350,
    LVT_LINT1 = 0x360, LVT_ERROR = 0x370, TIMER_INIT = 0x380, TIMER_CUR = 0x390, TIMER_DIV = 0x3E0,
};
inline constexpr u32 LVT_MASKED = 1u << 16;
inline constexpr u32 SVR_ENABLE = 1u << 8;
inline constexpr u32 ESR_SEND_ILLEGAL = 1u << 5, ESR_RECV_ILLEGAL = 1u << 6; // 11.5.3

class Vlapic;

struct VlapicConfig {
    u32 vcpu_count = 1; // 1..MaxVcpus; APIC ID i = vCPU i
    u32 lines = 0;      // device lines GSI 1..lines (0..MaxLines)
    GuestPhysAddr base{DefaultBase};
    u64 host_hz = 0;    // rate of the host counter the `now` arguments are in (non-zero)
    // Reads the host counter (the window's accesses). Required for the window.
    u64 (*clock)() = nullptr;
    // Which vCPU of the VM is making the window access running on this CPU (the window is one page
    // every vCPU reaches). Returns ~0u if none: the access is refused.
    u32 (*current_vcpu)(void* ctx) = nullptr;
    // Arms (deadline in host counter ticks) or disarms (~0) vCPU `vcpu`'s host timer; when it fires
    // the owner calls timer_fired(vcpu, now). Called with the model lock held. May be null (tests
    // that drive timer_fired themselves).
    void (*arm_timer)(Vlapic& l, u32 vcpu, u64 deadline) = nullptr;
    // The window's writes that made interrupts deliverable kick those vCPUs through this (outside
    // the lock); may be null.
    void (*kick)(void* ctx, VcpuSet vcpus) = nullptr;
    void* ctx = nullptr;
};

class Vlapic;

class VlapicWindow final : public MmioDevice {
public:
    VlapicWindow(Vlapic& l, GuestPhysAddr base) : MmioDevice("vlapic", base, WindowSize), m_l(l) {}
    ~VlapicWindow() = default;
    Result<u64> read(u64 offset, unsigned width) override;
    Result<void> write(u64 offset, unsigned width, u64 value) override;

private:
    Vlapic& m_l;
};

class Vlapic {
public:
    // Allocates the model in its power-on state (new (std::nothrow), `delete` frees it).
    // InvalidArgument for a vCPU or line count outside the ranges of VlapicConfig or host_hz 0.
    static Result<Vlapic*> create(const VlapicConfig& config);
    // The VM's model (VirtIntcModel): host timers from the kernel's timer queues, the host counter
    // as the clock, the VM's run loop naming the accessing vCPU (vlapic_vm.cpp, image only).
    static Result<Vlapic*> create_for_vm(const VintcSetup& setup);
    ~Vlapic();

    usize window_count() const { return 1; }
    MmioDevice* window(usize i) { return i == 0 ? &m_window : nullptr; }

    // --- Device lines (any CPU, device locks may be held). OutOfRange outside 1..lines. ---
    Result<VcpuSet> set_line(u32 gsi, bool level, u16 vcpu = 0);
    Result<VcpuSet> raise(u32 gsi);
    // No host interrupt is forwarded to x86 VMs (no passthrough devices yet).
    Result<void> set_hw(u32, u32) { return Error::Unsupported; }
    bool is_shared_line(u32 gsi) const { return gsi >= 1 && gsi <= m_lines; }
    // Power-on state of every APIC (a new life of the VM; none of its vCPUs runs): registers as
    // after RESET (11.4.7.1), timers stopped, nothing pending, vCPU 0 running and the others
    // waiting for SIPI, no start request. Line levels are the devices' and are kept.
    void reset();

    // --- The backend's side: what to deliver (any CPU; `vcpu` is the caller's own). ---
    // The vector the APIC would present to the CPU now (11.8.3: the highest IRR vector whose
    // priority class is above the PPR's), or 0. Lock-free: read before every guest entry.
    u8 deliverable(u32 vcpu) const {
        return vcpu < m_vcpu_count ? m_deliverable[vcpu].load(std::memory_order_acquire) : 0;
    }
    // The CPU takes the interrupt (INTA, 11.8.4): the highest deliverable vector moves from IRR to
    // ISR. Returns it, or 0 if nothing is deliverable any more.
    u8 acknowledge(u32 vcpu);
    // Start requests from SIPIs (11.6.1 "start-up"): bit i = vCPU i has one. Lock-free.
    u32 start_requests() const { return m_start_requests.load(std::memory_order_acquire); }
    // Takes one: true with the target and its SIPI vector (the start page number).
    bool take_start(u32& vcpu, u8& vector);

    // --- Registers (any CPU). `vcpu` is the APIC's owner, `now` the host counter. ---
    Result<u64> mmio_read(u32 vcpu, u64 offset, unsigned width, u64 now);
    Result<VcpuSet> mmio_write(u32 vcpu, u64 offset, unsigned width, u64 value, u64 now);
    // The host timer of `vcpu` fired (at or after its deadline): the timer's interrupt, and the
    // next period. Returns the vCPUs to kick.
    VcpuSet timer_fired(u32 vcpu, u64 now);
    // The timer's next expiry in host counter ticks, ~0 if none (tests, wake-ups).
    u64 timer_deadline(u32 vcpu) const;

    u32 vcpu_count() const { return m_vcpu_count; }
    u32 line_count() const { return m_lines; }
    u64 bad_accesses() const { return m_bad.load(std::memory_order_relaxed); }
    u64 unsupported_ipis() const { return m_unsupported_ipis.load(std::memory_order_relaxed); }
    const VlapicConfig& config() const { return m_cfg; }

private:
    friend class VlapicWindow;
    enum class Run : u8 { Running, WaitSipi };
    struct Apic {
        u32 irr[8], isr[8], tmr[8];
        u32 tpr, ldr, dfr, svr, esr, esr_pending, icr_lo, icr_hi;
        u32 lvt_timer, lvt_thermal, lvt_perf, lvt_lint0, lvt_lint1, lvt_error, lvt_cmci;
        u32 timer_initial, timer_div;
        u64 timer_start;    // host counter when the current count was last (re)loaded
        u64 timer_deadline; // host counter of the next expiry, ~0 when stopped or expired
        Run run;
    };

    explicit Vlapic(const VlapicConfig& config);
    void reset_apic(u32 vcpu, bool keep_run);
    bool enabled(const Apic& a) const { return a.svr & SVR_ENABLE; }
    u32 ppr(const Apic& a) const;
    // Accepts a fixed interrupt (11.8.3 / 11.8.4 acceptance); true if it changed what is
    // deliverable (the vCPU must be kicked).
    bool accept(u32 vcpu, u8 vector, bool level);
    void update(u32 vcpu);       // recompute m_deliverable[vcpu]
    void eoi(u32 vcpu);
    VcpuSet send_ipi(u32 from, u64 now);
    VcpuSet line_asserted(u32 gsi);
    u64 timer_divisor(const Apic& a) const;
    u64 timer_period(const Apic& a) const; // host ticks of one full count, 0 if stopped
    void timer_start(u32 vcpu, u64 now);
    u32 timer_current(const Apic& a, u64 now) const;
    void arm(u32 vcpu, u64 deadline);
    Result<u64> read_locked(u32 vcpu, u64 offset, u64 now);
    Result<VcpuSet> write_locked(u32 vcpu, u64 offset, u32 value, u64 now);

    VlapicConfig m_cfg;
    u32 m_vcpu_count;
    u32 m_lines;
    mutable Spinlock m_lock;
    Apic m_apic[MaxVcpus];
    bool m_line_level[MaxLines + 1] = {};
    std::atomic<u8> m_deliverable[MaxVcpus] = {};
    std::atomic<u32> m_start_requests{0};
    u8 m_sipi_vector[MaxVcpus] = {};
    std::atomic<u64> m_bad{0};
    std::atomic<u64> m_unsupported_ipis{0};
    VlapicWindow m_window;

public:
    // Image glue (vlapic_vm.cpp): each vCPU's host timer event and what its callback needs.
    struct HostTimer {
        TimerEvent event;
        Vlapic* owner = nullptr;
        u32 vcpu = 0;
    };
    HostTimer m_host_timer[MaxVcpus];
};

static_assert(VirtIntcModel<Vlapic>, "the vLAPIC is x86_64's VM interrupt-controller model");

} // namespace vlapic
