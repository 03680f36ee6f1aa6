// The binding of generic names to the loongarch64 implementation (cxvisor at PLV0 on QEMU's
// LoongArch `virt` board, loaded as an ELF by -kernel; docs/porting.md "loongarch64"). The build
// puts exactly one ISA's directory on the include path, so generic code writes `#include
// "arch.hpp"` and `arch::...`. The vCPU backend is bound in arch_vcpu.hpp, the GPA-table format
// in arch_stage2.hpp.
// Manual: LoongArch Reference Manual Volume 1: Basic Architecture, v1.10 (cited as "LA Vol. 1").
#pragma once
#include "abi/vm_package.hpp"
#include "asm_offsets.hpp" // CPU_STACK_SIZE, for the boot flow's stacks (vmm/main.cpp)
#include "base/result.hpp"
#include "csr.hpp"

class Fdt; // fdt/fdt.hpp
struct FdtNode;

namespace arch {

inline constexpr const char* NAME = "loongarch64";
inline constexpr vm_package::Isa PACKAGE_ISA = vm_package::Isa::Loongarch64;

// Host interrupt numbers (docs/porting.md "loongarch64"): an EIOINTC vector keeps its number
// (0..255; QEMU virt wires PCH-PIC line n to vector n, intc.cpp), the core-local interrupts, which
// have no EIOINTC vector, are 1024 + their ESTAT.IS bit (LA Vol. 1, 7.4.5), as riscv64 numbers
// its hart-local ones, so no vector can collide with them.
inline constexpr u32 IRQ_EIOINTC_COUNT = 256;
inline constexpr u32 IRQ_LOCAL_BASE = 1024;
inline constexpr u32 IRQ_TIMER = IRQ_LOCAL_BASE + la::IS_TIMER; // the constant timer: the timer queue
inline constexpr u32 IRQ_IPI = IRQ_LOCAL_BASE + la::IS_IPI;     // the IPI between cores (send_ipi)

// The running CPU's PerCpu lives in $tp (r2), which freestanding code never uses otherwise (no TLS),
// and in KScratch SAVE0, where an exception or a future guest exit finds it (7.4.15: software's own).
inline void* percpu_pointer() {
    void* p;
    asm volatile("move %0, $tp" : "=r"(p));
    return p;
}
inline void set_percpu_pointer(void* p) {
    asm volatile("move $tp, %0" ::"r"(p) : "memory");
    la::csr_write<la::CSR_SAVE0>(u64(p));
}

// The stable counter (RDTIME.D, LA Vol. 1 2.2.10.4) at CPUCFG word 4 (crystal frequency) times
// CPUCFG5 multiplier / divisor (2.2.10.5, table 2-12): 100 MHz on QEMU virt.
inline u64 counter() { return la::rdtime(); }
extern u64 g_counter_hz;
inline u64 counter_frequency() { return g_counter_hz; }
// cxvisor's one-shot timer: the core's constant timer (TCFG/TVAL/TICLR, 7.6), counting down at the
// stable counter's rate; timer.cpp converts the deadline.
void timer_set_deadline(u64 deadline);
void timer_stop();

// Host interrupts (intc.cpp): the core's ESTAT lines (timer, IPI) and the extended I/O interrupt
// controller (EIOINTC, over IOCSR) behind which the bridge's PCH-PIC delivers device lines.
// cxvisor runs with CRMD.IE = 0 and handle_pending_irqs polls ESTAT; wfi() opens IE for the IDLE
// alone (boot.S cxv_la_wfi), where an interrupt only ends the wait.
void irq_cpu_init();
void send_ipi(u64 target_hw_id); // IPI_SEND to that core (its ESTAT.IS[12])
void handle_pending_irqs();
// A device vector is routed to exactly one core (EIOINTC route byte): the calling core
// (irq_enable) or the named one (irq_enable_shared_on). A core-local number sets its ECFG.LIE bit.
void irq_enable(u32 id, bool enable);
void irq_enable_shared_on(u32 id, u64 target_hw_id);
// Nothing is ever forwarded to a guest yet (no vCPU backend: arch_vcpu.hpp).
void irq_deactivate(u32 id);
inline bool ppi_active(u32) { return false; }
inline void ppi_set_active(u32, bool) {}
// No interrupt priorities in EIOINTC (it routes, it does not prioritise): one bit, "pending".
inline u32 vintc_priority_bits() { return 1; }
// A host device node's interrupt: QEMU 7.2's LoongArch DT gives none (its serial node has no
// `interrupts`), and a host disk there is PCI: 0, the caller polls.
u32 dt_device_irq(const Fdt& fdt, FdtNode n);

extern "C" void cxv_la_wfi(); // boot.S
inline void wfi() { cxv_la_wfi(); }
inline void wfe() { wfi(); }
inline void cpu_relax() { asm volatile("nop" ::: "memory"); }

// LoongArch keeps caches coherent between cores and with coherent DMA ("cc" memory, LA Vol. 1
// 2.1.7 "Storage access types"): what remains is ordering, which DBAR 0 gives.
inline void clean_dcache_range(const void*, usize) { la::dbar(); }
inline void zero_and_clean(void* p, usize size) {
    __builtin_memset(p, 0, size);
    la::dbar();
}
// Instruction fetches are not coherent with stores until IBAR (2.2.8.2); other cores fetch anew
// after their own IBAR, which every exception return and core start implies here (no VM code yet).
inline void invalidate_icache_all() { la::ibar(); }
inline void dma_barrier() { la::dbar(); }
// QEMU virt's LoongArch DT marks its PCI host `dma-coherent`; a node that says nothing is taken as
// coherent, as Linux does on LoongArch (ARCH_DMA_DEFAULT_COHERENT).
inline constexpr bool DMA_COHERENT_BY_DEFAULT = true;
// No guest device trees exist yet for loongarch64 (no guest board, no VMs).
inline void prepare_guest_dt(u8*, usize) {}

// Start a parked core: its mail buffers get entry and argument, then an IPI wakes it (host.cpp;
// every core enters the image at reset on QEMU virt and parks in boot.S until then).
Result<void> start_cpu(u64 hw_id, u64 entry, u64 arg);
// QEMU virt's ACPI generic event device (GED) sleep control register: SLP_TYP = S5 with SLP_EN
// (ACPI 6.4, 4.8.3.7 "Sleep Control and Status Registers"); returns only if the machine stays on.
void system_off();
inline constexpr const char* SYSTEM_OFF_CALL = "the GED sleep control register (ACPI S5)";

} // namespace arch
