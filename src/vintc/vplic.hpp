// One VM's virtual PLIC (RISC-V Platform-Level Interrupt Controller Specification 1.0.0, "PLIC
// spec" below; sections cited by title): the interrupt gateways, the PLIC core's pending bits,
// per-context enables, thresholds and claim/complete, and each vCPU's external-interrupt
// notification (EIP) as the riscv64 vCPU backend presents it in hvip.VSEIP. Arch-neutral: nothing
// here touches a CSR; the backend reads external_pending(). (Supervisor software interrupts,
// SBI IPIs, are the backend's: they are not the PLIC's and exist in "no_irq" VMs too.)
//
// Register map and context numbering as QEMU virt's PLIC and Linux's irq-sifive-plic driver use
// them (PLIC spec "Memory Map"): priority 4*source at 0x0, pending bits at 0x1000, enables at
// 0x2000 + 0x80*ctx, threshold at 0x200000 + 0x1000*ctx and claim/complete at +4. Two contexts per
// vCPU h, as in QEMU's device tree: context 2h is the hart's M-mode context, which a guest never
// owns (its registers read as zero and ignore writes), and context 2h+1 is its S-mode context,
// the one the guest uses. The generated DT therefore says
// `interrupts-extended = <&cpu0 11 &cpu0 9 &cpu1 11 &cpu1 9 ...>`.
//
// Semantics:
//  - Gateways ("Interrupt Gateways"): one request per source in the core. A level source
//    (set_line) forwards a request when asserted and, after the completion, again if it is still
//    asserted; a request is never retracted when the line drops before the claim. An edge
//    (raise) forwards a request if the gateway is idle; an edge that arrives while the source is
//    claimed (in service) is latched and forwarded at the completion, so it is never lost (edges
//    during one service collapse into one request, which the spec allows). An edge while the
//    request is still pending is covered by that request.
//  - Priorities ("Interrupt Priorities"): WARL, the low `priority_bits` bits are kept; 0 means
//    never interrupt: such a source is neither notified nor claimed.
//  - Notification ("Interrupt Notifications", "Priority Thresholds"): a context's EIP is set
//    while some source is pending, enabled on it and has a priority above its threshold.
//    Multicast: every such context is notified; the first claim wins.
//  - Claim ("Interrupt Claim Process"): returns the highest-priority pending source enabled on
//    the context (ties: the lowest ID; 0 if none; not affected by the threshold) and clears its
//    pending bit. The source stays in service until completed.
//  - Completion ("Interrupt Completion"): a write of a source ID that is not enabled on the
//    context, or not in service, is silently ignored. Otherwise the gateway may forward the next
//    request (a level line still high, a latched edge: hvisor #129 lost interrupts by dropping
//    them here). A completed passthrough source (set_hw) completes the physical one through the
//    config's hw_complete callback.
//
// Accesses: the registers are 32 bits wide and taken with LW/SW only ("Memory Map"). Another
// width or an unaligned offset is InvalidArgument; an offset that names no implemented register
// (a source above `sources` or 0, an enable word or context the VM does not have, the gaps of a
// context's page) is OutOfRange. The VM layer injects an access fault for either; both are
// counted (bad_accesses) and never stop cxvisor. Pending-bit writes are ignored (read-only
// array); enable bits of sources not implemented read as zero.
//
// Locking: one spinlock per VM (m_lock) protects all state; every public member takes it and it
// is a leaf (nothing is called while it is held), so device models may call in with their own
// lock held. Kicks and hw_complete callbacks are made outside the lock: sources and the register
// model report the vCPUs whose external_pending() became true (VcpuSet), and the MMIO window
// calls the config's kick callback with them itself, as the vGIC's windows do. The per-vCPU
// notification bits are atomics, read without the lock before every entry.
#pragma once
#include "base/result.hpp"
#include "devices/mmio_device.hpp"
#include "kernel/spinlock.hpp"
#include "vintc/vgic_types.hpp"
#include "vintc/virt_intc.hpp"
#include <atomic>

namespace vplic {

using vgic::VcpuSet;

inline constexpr u32 MaxSources = 1023; // PLIC spec "Introduction": sources 1..1023, 0 = none
inline constexpr u32 MaxVcpus = vgic::MaxVcpus;
inline constexpr u32 MaxPriorityBits = 8;

struct VplicConfig {
    u32 vcpu_count = 1;    // 1..MaxVcpus; contexts 2h (M, unused) and 2h+1 (S) per vCPU h
    u32 sources = 0;       // 1..MaxSources (the DT's riscv,ndev)
    u32 priority_bits = 3; // 1..MaxPriorityBits implemented priority/threshold bits (QEMU: 3)
    GuestPhysAddr base{};  // where the VM sees the register window
    // Called by the MMIO window, outside the lock, with the vCPUs a register write made an
    // interrupt deliverable to (the VM wakes or IPIs them). May be null (nothing to kick).
    void (*kick)(void* ctx, VcpuSet vcpus) = nullptr;
    void* kick_ctx = nullptr;
    // Passthrough: called outside the lock, on the CPU of the guest's completion write (or of
    // reset()), when the physical source `psource` linked by set_hw must be completed in the host
    // PLIC. Required for set_hw.
    void (*hw_complete)(void* ctx, u32 psource) = nullptr;
    void* hw_complete_ctx = nullptr;
};

class Vplic;

// The register window as a device on the VM's MMIO bus.
class VplicWindow final : public MmioDevice {
public:
    VplicWindow(Vplic& p, GuestPhysAddr base, u64 size) : MmioDevice("vplic", base, size), m_p(p) {}
    ~VplicWindow() = default;
    Result<u64> read(u64 offset, unsigned width) override;
    Result<void> write(u64 offset, unsigned width, u64 value) override;

private:
    Vplic& m_p;
};

class Vplic {
public:
    // Register map (PLIC spec "Memory Map").
    static constexpr u64 PriorityBase = 0x0;
    static constexpr u64 PendingBase = 0x1000;
    static constexpr u64 EnableBase = 0x2000;
    static constexpr u64 EnableStride = 0x80;
    static constexpr u64 ContextBase = 0x200000;
    static constexpr u64 ContextStride = 0x1000;
    static constexpr u64 ClaimOffset = 4; // in a context's page, after the threshold

    static constexpr u32 contexts(u32 vcpus) { return 2 * vcpus; }
    static constexpr u32 s_context(u32 vcpu) { return 2 * vcpu + 1; }
    // Bytes of the window: up to the last context's page (as QEMU's VIRT_PLIC_SIZE).
    static constexpr u64 window_size(u32 vcpus) { return ContextBase + ContextStride * contexts(vcpus); }

    // Allocates a Vplic in its power-on state (new (std::nothrow); delete it with `delete`, which
    // frees its window). InvalidArgument for a vCPU count, source count or priority_bits outside
    // the ranges of VplicConfig; NoMemory. Called by the VM builder.
    static Result<Vplic*> create(const VplicConfig& config);
    // The VM's model (VirtIntcModel, vintc/virt_intc.hpp): setup.lines sources, its window at
    // setup.base[0], setup.priority_bits (the riscv64 backend's arch::vintc_priority_bits(): a
    // model with no hardware interface behind it, so QEMU's PLIC's 3), passthrough completions
    // through setup.hw_end.
    static Result<Vplic*> create_for_vm(const VintcSetup& setup) {
        VplicConfig c;
        c.vcpu_count = setup.vcpu_count;
        c.sources = setup.lines;
        c.priority_bits = setup.priority_bits;
        c.base = setup.base[0];
        c.kick = setup.kick;
        c.kick_ctx = setup.kick_ctx;
        c.hw_complete = setup.hw_end;
        c.hw_complete_ctx = setup.kick_ctx;
        return create(c);
    }

    // The register window(s) for the VM's bus (one). Null for i >= window_count().
    usize window_count() const { return 1; }
    MmioDevice* window(usize i) { return i == 0 ? &m_window : nullptr; }

    // --- Interrupt sources (devices, passthrough). Any CPU, device locks may be held. ---
    // Return the vCPUs whose external_pending() became true (to kick); OutOfRange for a source
    // outside 1..sources.
    // The level of a level-sensitive input (`vcpu` is unused: PLIC sources are shared lines).
    Result<VcpuSet> set_line(u32 source, bool level, u16 vcpu = 0);
    // One edge request (also how the host forwards a claimed physical interrupt of a hw source).
    Result<VcpuSet> raise(u32 source);
    // Links `vsource` to the host PLIC's `psource` (1..MaxSources): when the guest completes
    // vsource, hw_complete(psource) is called. The link is wiring: reset() keeps it.
    // OutOfRange for bad sources, InvalidArgument without a hw_complete callback.
    Result<void> set_hw(u32 vsource, u32 psource);

    // Power-on state (VM restart; no vCPU of the VM running): priorities, enables, thresholds 0,
    // nothing pending or in service. Links and line levels are wiring, owned by
    // their sources, and are kept: a level line still high forwards a new request. A passthrough
    // source that was pending or in service has its physical source completed (hw_complete,
    // outside the lock), since the host claimed it and the guest never will complete it now.
    void reset();

    u32 vcpu_count() const { return m_vcpu_count; }
    u32 source_count() const { return m_sources; }
    // Every PLIC source is a shared (platform) line, routed by the per-context enables.
    bool is_shared_line(u32 source) const { return source >= 1 && source <= m_sources; }

    // The vCPU's S-mode context has a deliverable source (its EIP: hvip.VSEIP). Lock-free and
    // cheap: the riscv64 backend calls it before every guest entry. False for unknown vCPUs.
    bool external_pending(u32 vcpu) const {
        return vcpu < m_vcpu_count && m_eip[vcpu].load(std::memory_order_acquire);
    }

    // --- Register model (any vCPU, any CPU). `offset` is relative to the window. A read of a
    // claim register claims. The write returns the vCPUs to kick (the window kicks them). ---
    Result<u64> mmio_read(u64 offset, unsigned width);
    Result<VcpuSet> mmio_write(u64 offset, unsigned width, u64 value);

    // Rejected accesses (bad width, alignment or offset) so far, and the last such offset.
    u64 bad_accesses() const { return m_bad_count.load(std::memory_order_relaxed); }
    u64 last_bad_offset() const { return m_bad_last.load(std::memory_order_relaxed); }

    ~Vplic() = default;

private:
    static constexpr u32 Words = (MaxSources + 1 + 31) / 32; // 32-bit words of a source bitmap
    static constexpr u16 NoPsource = 0;

    struct Source {
        u8 priority = 0;
        bool line = false;       // level input as the source drives it
        bool in_service = false; // the gateway forwarded a request and awaits its completion
        bool edge_latched = false; // an edge arrived in service: forwarded at the completion
        u16 psource = NoPsource; // passthrough: the host PLIC source completed with this one
    };
    struct Context { // one vCPU's S-mode context
        u32 enable[Words] = {};
        u32 threshold = 0;
    };

    explicit Vplic(const VplicConfig& config);
    void reset_locked();
    Source* lookup(u32 source) { return source >= 1 && source <= m_sources ? &m_src[source] : nullptr; }
    bool pending(u32 s) const { return (m_ip[s / 32] >> (s % 32)) & 1; }
    void set_pending(u32 s, bool on) {
        if (on) m_ip[s / 32] |= 1u << (s % 32); else m_ip[s / 32] &= ~(1u << (s % 32));
    }
    // The gateway forwards a request to the core if it is idle ("Interrupt Gateways").
    void forward(u32 s);
    bool deliverable(const Context& c) const;
    u32 best_pending(const Context& c) const;
    // Recomputes every vCPU's EIP after a change; returns those that became true.
    VcpuSet update_eip();
    void count_bad(u64 offset);
    // Enable/pending word `w` exists: it holds bits of sources 0..m_sources.
    bool word_implemented(u64 w) const { return w <= m_sources / 32; }
    u32 word_mask(u64 w) const; // bits of word w that name implemented sources
    // One register access: a read if `wv` is null, else a write of *wv. Caller holds m_lock. A
    // completion of a passthrough source stores its physical source in *hw_done.
    Result<u64> access(u64 offset, unsigned width, const u64* wv, u32* hw_done);

    Spinlock m_lock;
    u32 m_vcpu_count;
    u32 m_sources;
    u32 m_pri_mask;
    void (*m_hw_complete)(void*, u32);
    void* m_hw_complete_ctx;
    void (*m_kick)(void*, VcpuSet);
    void* m_kick_ctx;
    u32 m_ip[Words] = {};           // the core's pending (IP) bits
    Source m_src[MaxSources + 1];   // index = source ID; [0] unused
    Context m_ctx[MaxVcpus];        // S-mode contexts, by vCPU
    std::atomic<bool> m_eip[MaxVcpus] = {};
    std::atomic<u64> m_bad_count{0};
    std::atomic<u64> m_bad_last{0};
    VplicWindow m_window;

    friend class VplicWindow;
};

static_assert(VirtIntcModel<Vplic>, "the vPLIC is riscv64's VM interrupt-controller model");

} // namespace vplic
