// Fake ISA binding for host unit tests: the names generic code takes from "arch.hpp", bound to
// recording/settable host state instead of registers. The test build puts this directory on the
// include path where the image build puts src/arch/<isa>. Nothing here decides anything generic
// code decides: each function only records its call or returns what the test set.
#pragma once
#include "abi/vm_package.hpp"
#include "base/result.hpp"
#include <vector>

class Fdt; // fdt/fdt.hpp
struct FdtNode;

namespace arch {

inline constexpr const char* NAME = "fake";
// The host tests build packages for the aarch64 guest board (its vGICv3 model is the one tested).
inline constexpr vm_package::Isa PACKAGE_ISA = vm_package::Isa::Aarch64;

void* percpu_pointer();
void set_percpu_pointer(void* p);

// Timer hardware: a settable counter and a recorded deadline register.
u64 counter();
u64 counter_frequency();
void timer_set_deadline(u64 deadline);
void timer_stop();

// Interrupt controller: IPIs are recorded; handle_pending_irqs dispatches raised interrupts
// (fake::raise_irq) through the generic irq_dispatch, as the real driver does after acknowledging.
void send_ipi(u64 target_hw_id);
inline u32 vintc_priority_bits() { return 5; } // QEMU's GICv3 CPU interface
void irq_enable(u32 intid, bool enable);
void irq_enable_shared_on(u32 intid, u64 target_hw_id);
u32 dt_device_irq(const Fdt& fdt, FdtNode n); // 0: the fake's devices have no DT interrupt
void irq_deactivate(u32 intid);
void handle_pending_irqs();
void wfi(); // runs fake::wfi_hook; with no hook the CPU would idle forever, so it panics

void system_off(); // counts in fake::system_offs and returns, as firmware without PSCI SYSTEM_OFF would
inline constexpr const char* SYSTEM_OFF_CALL = "fake SYSTEM_OFF";
inline void wfe() {}
inline void cpu_relax() {}
inline void dma_barrier() { __atomic_thread_fence(__ATOMIC_SEQ_CST); } // drivers/: no device to order against
inline void prepare_guest_dt(u8*, usize) {}
inline constexpr bool DMA_COHERENT_BY_DEFAULT = false; // as the aarch64 board the fake stands for

void clean_dcache_range(const void* p, usize size);
void zero_and_clean(void* p, usize size); // memset + clean_dcache_range
void invalidate_icache_all();

} // namespace arch

// Test controls and records of the fake hardware. fake::reset() restores the defaults.
namespace fake {

struct TimerHw {
    bool enabled = false;
    u64 deadline = 0;
    unsigned programs = 0; // timer_set_deadline + timer_stop calls
};
struct TlbCall {
    u64 vmid, addr, size; // size 0: invalidate_all
};

inline u64 counter_value = 0;
inline u64 frequency = 62'500'000;
inline TimerHw timer;
inline std::vector<u64> ipis;        // target hw ids, in order
inline std::vector<u32> pending_irqs; // raised, not yet dispatched
struct IrqCall {
    u32 intid;
    bool enabled;     // irq_enable(.., enable) or irq_enable_shared_on (true)
    u64 target = ~0ull; // irq_enable_shared_on's CPU
    bool operator==(const IrqCall&) const = default;
};
inline std::vector<IrqCall> irq_calls;  // irq_enable / irq_enable_shared_on, in order
inline std::vector<u32> deactivated;    // irq_deactivate
inline void (*wfi_hook)() = nullptr;
inline unsigned wfi_calls = 0;
inline unsigned system_offs = 0;
inline unsigned dcache_cleans = 0, icache_invalidations = 0, stage2_publishes = 0;
inline std::vector<TlbCall> tlb_calls;
inline std::vector<TlbCall> fault_retries; // Stage2Tlb::fault_retry(ipa): {vmid, ipa, 0}
inline u32 parange = 2; // ID_AA64MMFR0_EL1.PARange the fake CPU reports (40-bit IPA)

inline void raise_irq(u32 intid) { pending_irqs.push_back(intid); }
void reset();                 // all of the above to defaults; per-CPU pointer to g_percpu[0]
void use_cpu(unsigned index); // "run on" g_percpu[index] from now on

} // namespace fake
