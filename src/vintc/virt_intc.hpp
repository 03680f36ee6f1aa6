// The VM's virtual interrupt controller, as the generic layers see it. Each ISA has its own model
// (aarch64: the vGICv3, vintc/vgic.*; riscv64: the vPLIC, vintc/vplic.*), named by its vCPU
// backend as `arch::Vcpu::Intc` (docs/porting.md, "Virtual interrupts"). The VM builds the model
// from its package record, puts the model's register windows on its MMIO bus, and drives its
// lines; the vCPU backend presents the model's state to the hardware in its own terms. Nothing
// here names an ISA: "lines" are the controller's shared (device) interrupt numbers as the
// package and the guest's device tree give them (GIC SPIs, PLIC sources).
#pragma once
#include "addrspace/addr.hpp"
#include "base/result.hpp"
#include "vintc/vgic_types.hpp" // VcpuSet
#include <concepts>

class MmioDevice;

struct VintcSetup {
    u32 vcpu_count = 1;
    u32 lines = 0;           // VmRecord::intc_lines
    u32 priority_bits = 0;   // arch::vintc_priority_bits(): what the hardware's interface implements
    GuestPhysAddr base[2];   // VmRecord::intc_base, intc_base2 (unused by a one-window model)
    // Register writes that made interrupts deliverable to other vCPUs report them here (the VM
    // wakes or IPIs them): called with no model lock held.
    void (*kick)(void* ctx, vgic::VcpuSet vcpus) = nullptr;
    void* kick_ctx = nullptr;
    // A model whose hardware cannot link a forwarded line to the guest's end of it (no HW bit in a
    // list register) calls this when the guest ends forwarded line `host_line` (set_hw): the VM
    // ends the host interrupt then. No model lock held.
    void (*hw_end)(void* ctx, u32 host_line) = nullptr;
};

template <typename T>
concept VirtIntcModel = requires(T& m, const T& cm, const VintcSetup& setup, u32 line, bool level, u16 vcpu, usize i) {
    // Allocates the model in its reset state with its register windows (NoMemory, or
    // InvalidArgument for a shape it cannot implement); `delete` frees both.
    { T::create_for_vm(setup) } -> std::same_as<Result<T*>>;
    { cm.window_count() } -> std::same_as<usize>;
    { m.window(i) } -> std::same_as<MmioDevice*>; // for the VM's bus
    // A device line (any CPU, the caller's device lock may be held): level, or one edge. `vcpu`
    // names the owner of a private line (aarch64 PPIs) and is ignored for shared ones. Returns
    // the vCPUs to kick.
    { m.set_line(line, level, vcpu) } -> std::same_as<Result<vgic::VcpuSet>>;
    { m.raise(line) } -> std::same_as<Result<vgic::VcpuSet>>;
    // Forwards host interrupt `host_line` as `line`: the guest's end of it ends the host's.
    { m.set_hw(line, line) } -> std::same_as<Result<void>>;
    { m.reset() } -> std::same_as<void>;                     // power-on state (a new life of the VM)
    { cm.is_shared_line(line) } -> std::same_as<bool>;      // one of the VM's device lines
};
