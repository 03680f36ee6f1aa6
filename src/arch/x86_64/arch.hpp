// The binding of generic names to the x86_64 implementation (cxvisor in long mode at CPL 0, loaded
// by Multiboot from QEMU's SeaBIOS; docs/porting.md "x86_64"). The build puts exactly one ISA's
// directory on the include path, so generic code writes `#include "arch.hpp"` and `arch::...`.
// The vCPU backend is bound in arch_vcpu.hpp, the nested-paging format in arch_stage2.hpp.
#pragma once
#include "abi/vm_package.hpp"
#include "asm_offsets.hpp" // CPU_STACK_SIZE, for the boot flow's stacks (vmm/main.cpp)
#include "base/result.hpp"
#include "cpu.hpp"

class Fdt; // fdt/fdt.hpp
struct FdtNode;

namespace arch {

inline constexpr const char* NAME = "x86_64";
inline constexpr vm_package::Isa PACKAGE_ISA = vm_package::Isa::X86_64;

// Host interrupt numbers (docs/porting.md "x86_64"): an IOAPIC line keeps its global system
// interrupt number (GSI 0..IRQ_GSI_COUNT-1, ACPI 6.5 section 5.2.13), delivered at vector
// VECTOR_GSI_BASE + GSI; the local APIC's own interrupts, which have no GSI, are numbered from
// 1024 (as riscv64 numbers its hart-local ones), so no GSI can collide with them.
inline constexpr u32 IRQ_GSI_COUNT = 64;
inline constexpr u32 IRQ_LOCAL_BASE = 1024;
inline constexpr u32 IRQ_TIMER = IRQ_LOCAL_BASE + 0; // the LAPIC timer: cxvisor's timer queue
inline constexpr u32 IRQ_KICK = IRQ_LOCAL_BASE + 1;  // the fixed IPI between CPUs (send_ipi)
// IDT vectors (APM vol. 2 rev. 3.42, 16.6 "Interrupt Priority": the priority class is vector
// bits 7:4, so the local interrupts sit above every device line). 0-31 are exceptions.
inline constexpr u32 VECTOR_GSI_BASE = 0x30;
inline constexpr u32 VECTOR_TIMER = 0xE0, VECTOR_KICK = 0xE1, VECTOR_SPURIOUS = 0xFF;

// The running CPU's PerCpu: the first word of its x86 per-CPU area (percpu_x86.hpp), which GS
// points at (IA32_GS_BASE, APM vol. 2, 4.5.3): one GS-relative load, no MSR read.
inline void* percpu_pointer() {
    void* p;
    asm volatile("mov %%gs:0, %0" : "=r"(p));
    return p;
}
void set_percpu_pointer(void* p);

// The TSC (APM vol. 2, 13.2.4 "Time-Stamp Counter"): invariant on the CPUs and QEMU models cxvisor
// runs on; its rate is calibrated against the PIT at boot (lapic.cpp).
inline u64 counter() { return x86::rdtsc(); }
extern u64 g_tsc_hz;
inline u64 counter_frequency() { return g_tsc_hz; }
// cxvisor's one-shot timer: the local APIC timer in one-shot mode, its count converted from the
// TSC deadline (lapic.cpp). A deadline beyond the 32-bit count fires early and is re-armed by the
// generic timer queue.
void timer_set_deadline(u64 deadline);
void timer_stop();

// Host interrupt controller: each CPU's local APIC plus the IOAPICs (interrupts.cpp, lapic.cpp,
// ioapic.cpp). cxvisor runs with RFLAGS.IF = 0; an interrupt is taken only inside wfi() (and
// handle_pending_irqs' window), where the IDT stub records its vector for handle_pending_irqs.
void irq_cpu_init();
void send_ipi(u64 target_hw_id); // fixed IPI at VECTOR_KICK to that APIC id
void handle_pending_irqs();
// A GSI is routed (IOAPIC redirection entry) to the calling CPU's APIC (irq_enable) or to the
// named one (irq_enable_shared_on); a local number needs no routing.
void irq_enable(u32 id, bool enable);
void irq_enable_shared_on(u32 id, u64 target_hw_id);
// No interrupt is ever forwarded to a guest yet (no vCPU backend): nothing is left active.
void irq_deactivate(u32 id);
inline bool ppi_active(u32) { return false; }
inline void ppi_set_active(u32, bool) {}
// The local APIC's priority class is 4 bits (16.6: vector bits 7:4).
inline u32 vintc_priority_bits() { return 4; }

// HLT with interrupts enabled for exactly that instruction: STI's one-instruction shadow (APM
// vol. 3, "STI") means an interrupt already pending is taken after HLT starts, so it wakes it
// instead of being lost between the two. IF is 0 again on return.
inline void wfi() { asm volatile("sti; hlt; cli" ::: "memory"); }
inline void wfe() { wfi(); }
inline void cpu_relax() { asm volatile("pause" ::: "memory"); }

// x86 caches are coherent with other CPUs and with DMA, and instruction fetches snoop stores
// (APM vol. 2, 7.6.1 "Cache Coherency", 7.6.2 "Self-Modifying Code"): what remains is ordering,
// which MFENCE gives for every kind of access.
inline void clean_dcache_range(const void*, usize) { x86::mfence(); }
inline void zero_and_clean(void* p, usize size) {
    __builtin_memset(p, 0, size);
    x86::mfence();
}
inline void invalidate_icache_all() { x86::mfence(); }
inline void dma_barrier() { x86::mfence(); }
// A VM's device tree before its first boot (vm.cpp): x86 guests get no device tree from cxvisor.
inline void prepare_guest_dt(u8*, usize) {}
// Host devices described by a device tree (the host disk's probe, drivers/virtio_blk_host.cpp):
// an x86 host has none (Multiboot and ACPI describe it), so nothing calls this with a node; a DT
// interrupt would not name an x86 interrupt either.
u32 dt_device_irq(const Fdt& fdt, FdtNode n); // 0 (host.cpp)
// Device DMA is cache-coherent on x86 (AMD64 APM vol. 2, 7.3: caches snoop DMA).
inline constexpr bool DMA_COHERENT_BY_DEFAULT = true;

// Start the CPU with that APIC id: INIT-SIPI-SIPI through the real-mode trampoline (smp.cpp). It
// finds its PerCpu by APIC id, as riscv64 harts do by hart id; `entry` is where the trampoline's
// long-mode code continues.
Result<void> start_cpu(u64 hw_id, u64 entry, u64 arg);
// ACPI soft-off: SLP_TYPa of \_S5 with SLP_EN into PM1a_CNT (ACPI 6.5, 7.4.2 "\_Sx (System
// States)", 4.8.3.2.1 "PM1 Control Registers"); returns only if the machine stays on.
void system_off();
inline constexpr const char* SYSTEM_OFF_CALL = "ACPI S5 through PM1a_CNT";

} // namespace arch
