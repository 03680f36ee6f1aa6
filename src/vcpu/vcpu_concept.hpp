// The interface every ISA's vCPU backend provides (after axvcpu's AxArchVCpu). Checked with
// static_assert at the backend's definition, so a new port learns at compile time what is missing.
// All calls are made on the physical CPU that runs the vCPU, with the vCPU's context loaded
// (between load() and put()), except reset/set_stage2, which are made while it is not running.
#pragma once
#include "addrspace/addr.hpp"
#include "base/result.hpp"
#include "vcpu/exit.hpp"
#include "vintc/virt_intc.hpp"
#include <concepts>

// Reads guest-physical memory for the backend (e.g. to decode a faulting instruction).
struct GuestMemoryReader {
    Result<void> (*read)(void* ctx, GuestPhysAddr gpa, void* out, usize size);
    void* ctx;
};

template <typename T>
concept ArchVcpu = VirtIntcModel<typename T::Intc> && // the VM's controller model on this ISA
                   requires(T& v, const T& cv, u64 x, u32 id, HostPhysAddr root, ExitReason& exit,
                            const MmioAccess& access, GuestMemoryReader mem, PowerResult pr,
                            CpuPowerState ps, AccessKind ak, typename T::Intc* intc, GuestPhysAddr gpa) {
    // vCPU id, VMID, how many vCPUs the VM has (ids 0..count-1: the range a guest may name in a
    // call that targets other vCPUs)
    { v.init(id, x, id) } -> std::same_as<void>;
    { v.reset(x, x) } -> std::same_as<void>;              // architectural reset: entry PC, first argument
    { v.set_stage2(root) } -> std::same_as<void>;
    { v.load() } -> std::same_as<void>;                   // put this vCPU's full context into the CPU
    { v.put() } -> std::same_as<void>;                    // save it back (another vCPU takes the CPU)
    { v.run() } -> std::same_as<ExitReason>;              // enter the guest until an exit levels 2/3 need
    { cv.pc() } -> std::same_as<u64>;
    { v.decode_mmio(exit, mem) } -> std::same_as<Result<MmioAccess>>;
    { cv.mmio_write_value(access) } -> std::same_as<u64>;
    { v.complete_mmio(access, x) } -> std::same_as<void>; // load result into the register, advance
    { v.complete_sysreg(exit, x) } -> std::same_as<void>; // read result (ignored for writes), advance
    { v.set_hypercall_result(x, x, x, x) } -> std::same_as<void>;
    { v.set_power_result(pr) } -> std::same_as<void>;
    { v.set_power_state_result(ps) } -> std::same_as<void>;
    { v.inject_external_abort(x, ak) } -> std::same_as<void>; // guest sees a data abort at gpa
    { v.inject_undefined() } -> std::same_as<void>;
    { cv.wake_deadline() } -> std::same_as<u64>;          // counter value at which a halted vCPU must wake (~0: never; 0: now)
    // --- Virtual interrupts (docs/architecture.md, "Interrupt path"). The VM's controller model
    // holds the state; the backend presents it to the hardware and takes it back. ---
    // null: the VM takes no interrupts (no_irq); else its distributor's guest-physical base, for
    // backends that answer some of its registers in their exit path
    { v.attach_vintc(intc, gpa) } -> std::same_as<void>;
    { v.set_counter_offset(x) } -> std::same_as<void>;    // guest counter = host counter - x (per VM)
    { v.present_interrupts() } -> std::same_as<vgic::VcpuSet>; // right before run(): vCPUs to kick
    { v.collect_interrupts() } -> std::same_as<vgic::VcpuSet>; // right after run(): vCPUs to kick
    { cv.interrupt_pending() } -> std::same_as<bool>;     // WFI wake-up test (called after put())
    // The vCPU's own timer interrupt arrived at the host while it ran: raise it in the model.
    // True if the host interrupt was forwarded (the guest's deactivation ends it).
    { v.timer_interrupt() } -> std::same_as<bool>;
};
