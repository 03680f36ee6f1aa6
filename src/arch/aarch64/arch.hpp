// The binding of generic names to the aarch64 implementation. The build puts exactly one ISA's
// directory on the include path, so generic code writes `#include "arch.hpp"` and `arch::...`.
// Kept light: the vCPU backend is bound in arch_vcpu.hpp, the stage-2 format in arch_stage2.hpp.
#pragma once
#include "abi/vm_package.hpp"
#include "base/result.hpp"
#include "sysreg.hpp"
#include "timer_hw.hpp"

class Fdt; // fdt/fdt.hpp
struct FdtNode;

namespace arch {

inline constexpr const char* NAME = "aarch64";
// The guest board VM packages for this image are built for (cxv-vmconfig --arch aarch64).
inline constexpr vm_package::Isa PACKAGE_ISA = vm_package::Isa::Aarch64;

inline void* percpu_pointer() { return reinterpret_cast<void*>(read_sysreg(tpidr_el2)); }
inline void set_percpu_pointer(void* p) { write_sysreg(tpidr_el2, p); }

// Interrupt controller (gicv3.cpp). IPIs wake an idle CPU or make a running guest exit.
void irq_cpu_init();                  // this CPU's redistributor and CPU interface
void send_ipi(u64 target_hw_id);      // reschedule IPI to the CPU with this MPIDR
void handle_pending_irqs();           // acknowledge and dispatch everything pending, then return
// The highest-priority pending interrupt, acknowledged (ICC_IAR1_EL1; >= 1020: none), and the
// rest of its handling as handle_pending_irqs() does it: for a caller that looks before dispatching.
u32 irq_acknowledge();
void irq_handle_acknowledged(u32 intid);
// The highest-priority pending interrupt without acknowledging it (ICC_HPPIR1_EL1; >= 1020: none).
u32 irq_highest_pending();
// Host interrupt numbers are the controller's own (GIC INTIDs). A shared (device) interrupt is
// routed to the calling CPU, a private one (per-CPU timer, IPI) is enabled for the calling CPU:
// on the GIC, SPIs and PPIs/SGIs.
void irq_enable(u32 intid, bool enable);
void irq_enable_shared_on(u32 intid, u64 target_hw_id); // a shared interrupt (an SPI), routed to that MPIDR
// A host device node's interrupt (its DT `interrupts`, first specifier) as a host interrupt number
// for irq_register/irq_enable_shared_on: the INTID of its SPI (dt_platform.cpp, gic_device_irq);
// 0 if it has none, it is not an SPI, or the GIC does not deliver it.
u32 dt_device_irq(const Fdt& fdt, FdtNode n);
void irq_deactivate(u32 intid);          // clears the active state of an SPI (a forwarded one)
// Active state of one of this CPU's private interrupts (a PPI handed to a guest through a
// hardware-linked list register stays active until the guest deactivates it).
bool ppi_active(u32 intid);
// Implemented priority bits of the virtual CPU interface (ICH_VTR_EL2.PRIbits + 1): the vGIC
// model keeps exactly these bits of each priority.
u32 vintc_priority_bits();
void ppi_set_active(u32 intid, bool active);

// cxvisor's own device drivers (drivers/): a full barrier between memory a device reads or writes
// by DMA (rings, buffers) and the register accesses that hand it over or see it back. DSB SY waits
// for every earlier access to complete, device-register accesses included, before any later one
// (Arm ARM DDI0487 K.a, B2.3 "Definition of the Arm memory model": Data Synchronization Barrier).
inline void dma_barrier() { dsb_sy(); }
// A VM's device tree before its first boot (vm.cpp): nothing in it depends on the running machine.
inline void prepare_guest_dt(u8*, usize) {}
// A device's DMA is cache-coherent only if its DT node says "dma-coherent" (devicetree spec v0.4,
// 2.3.10 leaves the default to the architecture; Linux's arm64 assumes non-coherent without it).
inline constexpr bool DMA_COHERENT_BY_DEFAULT = false;

// Firmware: start a secondary CPU at `entry` with x0 = arg (PSCI CPU_ON over the DTB's conduit).
Result<void> start_cpu(u64 hw_id, u64 entry, u64 arg);
// Firmware: power the whole machine off (PSCI SYSTEM_OFF). Returns only if the firmware did not.
void system_off();
inline constexpr const char* SYSTEM_OFF_CALL = "PSCI SYSTEM_OFF"; // for the message when it returns
// Which Spectre workarounds the firmware below cxvisor offers (SMCCC DEN0028 F, SMCCC_ARCH_FEATURES; discovered
// the way DEN0028 tells SMCCC v1.1 callers to: PSCI_FEATURES(SMCCC_VERSION), SMCCC_VERSION >= 1.1, then
// SMCCC_ARCH_FEATURES). Asks the firmware on every call; any CPU may call it.
struct FirmwareWorkarounds {
    bool wa1 = false, wa3 = false;
    bool conduit_hvc = false; // how to call them: the PSCI conduit of the host DTB
};
FirmwareWorkarounds firmware_workarounds();

} // namespace arch
