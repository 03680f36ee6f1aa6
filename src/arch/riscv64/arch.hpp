// The binding of generic names to the riscv64 implementation (cxvisor in HS-mode under an SBI
// firmware such as OpenSBI). The build puts exactly one ISA's directory on the include path, so
// generic code writes `#include "arch.hpp"` and `arch::...` (docs/porting.md, the contract table).
// The vCPU backend is bound in arch_vcpu.hpp, the G-stage format in arch_stage2.hpp.
#pragma once
#include "abi/vm_package.hpp"
#include "base/result.hpp"
#include "asm_offsets.hpp" // CPU_STACK_SIZE, for the boot flow's stacks (vmm/main.cpp)
#include "csr.hpp"

class Fdt; // fdt/fdt.hpp
struct FdtNode;

namespace arch {

inline constexpr const char* NAME = "riscv64";
// The guest board VM packages for this image are built for (cxv-vmconfig --arch riscv64).
inline constexpr vm_package::Isa PACKAGE_ISA = vm_package::Isa::Riscv64;

// Host interrupt numbers (docs/porting.md "riscv64"): PLIC sources keep their numbers (1..1023,
// PLIC spec 1.0.0 chapter 1); the hart-local interrupts, which have no PLIC number, are
// 1024 + their scause code (Privileged Spec 20211203, 4.1.9 table 4.2), so no PLIC source can
// collide with them. kernel/irq.hpp's MAX_IRQS covers both ranges.
inline constexpr u32 IRQ_LOCAL_BASE = 1024;
inline constexpr u32 IRQ_SOFT = IRQ_LOCAL_BASE + IRQ_CAUSE_S_SOFT;   // SSIP: the IPI (SBI IPI)
inline constexpr u32 IRQ_TIMER = IRQ_LOCAL_BASE + IRQ_CAUSE_S_TIMER; // STIP: cxvisor's own timer

// The running hart's PerCpu lives in tp (the ABI's thread pointer, which freestanding HS code never
// uses otherwise) for cheap access, and in sscratch, where an exit vector finds it after a guest
// (which owns tp while it runs) traps (Privileged Spec 20211203, 4.1.6 "sscratch").
inline void* percpu_pointer() {
    void* p;
    asm volatile("mv %0, tp" : "=r"(p));
    return p;
}
inline void set_percpu_pointer(void* p) {
    asm volatile("mv tp, %0" ::"r"(p) : "memory");
    csr_write(sscratch, p);
}

// The time CSR (unprivileged spec 20191213, 10.1 "Base Counters and Timers"): a constant-rate
// counter shared by all harts, at the DTB's /cpus timebase-frequency.
inline u64 counter() { return csr_read(time); }
extern u64 g_timebase_hz; // set by host_discover from the DTB
inline u64 counter_frequency() { return g_timebase_hz; }
// cxvisor's one-shot timer: Sstc's stimecmp when every hart has Sstc, else SBI TIME set_timer
// (SBI spec v2.0 chapter 6). Either raises sip.STIP (host interrupt IRQ_TIMER) at the deadline.
void timer_set_deadline(u64 deadline);
void timer_stop();

// Host interrupt controller: the PLIC's S-mode context of each hart (plic.cpp) plus the hart-local
// software and timer interrupts (sie/sip).
void irq_cpu_init();             // this hart's S-context threshold and enables, its sie bits
void send_ipi(u64 target_hw_id); // SBI IPI to that hart: sip.SSIP there (IRQ_SOFT)
void handle_pending_irqs();      // everything pending in sip and claimable at the PLIC, then return
// A PLIC source is routed to exactly one hart's S-context: the calling hart's (irq_enable) or the
// named hart's (irq_enable_shared_on). A hart-local number enables its sie bit on the calling hart.
void irq_enable(u32 id, bool enable);
void irq_enable_shared_on(u32 id, u64 target_hw_id);
// A host device node's interrupt (its DT `interrupts`, first specifier) as a host interrupt number
// for irq_register/irq_enable_shared_on: its PLIC source (dt_platform.cpp, rv_device_irq); 0 if it
// has none or the PLIC does not deliver it. Boot CPU, any time after host_discover.
u32 dt_device_irq(const Fdt& fdt, FdtNode n);
// Ends a PLIC source handed to a guest (IrqAction::Forwarded): it was claimed and left uncompleted,
// so the PLIC's gateway holds it until this completion (PLIC spec 1.0.0, chapter 9).
void irq_deactivate(u32 id);
// Hart-local interrupts of RISC-V have no active state (Privileged Spec 20211203, 4.1.3: only
// pending and enable bits), so there is nothing to carry across put()/load().
inline bool ppi_active(u32) { return false; }
inline void ppi_set_active(u32, bool) {}
// Priority bits the host PLIC implements (probed: PLIC spec 1.0.0 chapter 4 lets an implementation
// keep only some bits of each priority register).
u32 vintc_priority_bits();

inline void wfi() { asm volatile("wfi" ::: "memory"); }
// Generic code parks a CPU for good with wfe(); RISC-V has WFI only (Privileged Spec 20211203,
// 3.3.3 "Wait for Interrupt"), a legal implementation of which is a no-op: callers loop.
inline void wfe() { wfi(); }
// PAUSE (Zihintpause), encoded as the FENCE hint it is: a no-op on harts without it.
inline void cpu_relax() { asm volatile(".insn i 0x0F, 0, x0, x0, 0x010" ::: "memory"); }

// RISC-V memory is coherent between harts without cache maintenance, and a guest running with
// satp/vsatp off still uses the same cacheable physical memory attributes (Privileged Spec
// 20211203, 3.6 "Physical Memory Attributes": attributes belong to the physical address, not to
// the translation). What remains is ordering: the writes must be visible before whatever hands the
// memory over, which a full FENCE gives.
inline void clean_dcache_range(const void*, usize) { fence_all(); }
inline void zero_and_clean(void* p, usize size) {
    __builtin_memset(p, 0, size);
    fence_all();
}
// Instruction fetches are not coherent with stores: FENCE.I on this hart and an SBI remote
// FENCE.I on all others (SBI spec v2.0, 8.1 "Remote FENCE.I").
void invalidate_icache_all();
// Device DMA: FENCE with I/O and memory in both sets orders the ring writes and the register
// accesses that hand them over (unprivileged spec 20191213, 2.7; 1.4 for I/O vs memory).
inline void dma_barrier() { fence_all(); }
// A device's DMA is cache-coherent unless its DT node says "dma-noncoherent" (devicetree spec
// v0.4, 2.3.10-2.3.11 leave the default to the architecture; RISC-V's is coherent, Linux 6.x
// selects ARCH_DMA_DEFAULT_COHERENT for riscv): QEMU's riscv virt marks no virtio-mmio node.
inline constexpr bool DMA_COHERENT_BY_DEFAULT = true;

// A VM's device tree, in place, before its first boot (vm.cpp): every cpu node's mmu-type names the
// widest satp mode the harts implement (mmu.hpp satp_probe_va_bits), which is what the vCPU's
// VS-stage offers whatever the tree says.
void prepare_guest_dt(u8* dtb, usize size);

// Firmware (SBI): start a hart at `entry` with a0 = its hart id, a1 = arg (SBI spec v2.0, 9.1
// HSM hart_start); power the machine off (10.1 SRST system_reset, shutdown). system_off returns
// only if the firmware did not power off.
Result<void> start_cpu(u64 hw_id, u64 entry, u64 arg);
void system_off();
inline constexpr const char* SYSTEM_OFF_CALL = "SBI SRST shutdown"; // for the message when it returns

} // namespace arch
