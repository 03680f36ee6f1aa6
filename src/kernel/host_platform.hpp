// The host machine as the generic boot flow (vmm/main.cpp) sees it, and the bring-up steps each
// ISA implements behind it (arch/<isa>/host.cpp, with its board's pieces in platform/<board>/).
// The boot flow reads the same on every ISA: discover the machine, set up memory, the interrupt
// controller and the timers, start the other CPUs, build the VMs, run (docs/porting.md "Host
// bring-up"). Nothing here names an ISA: firmware conduits, CPU id registers, image headers and
// interrupt-controller layouts stay behind these functions.
#pragma once
#include "abi/vm_package.hpp" // MAX_CPUS
#include "addrspace/addr.hpp"
#include "base/result.hpp"
#include "fdt/host_dt.hpp"
#include "kernel/cmdline.hpp"

struct HostPlatform {
    static constexpr u32 kMaxRam = 8, kMaxReserved = 16, kMaxDevices = 8, kMaxOwned = 96;

    PhysRange ram[kMaxRam]; // the RAM cxvisor manages (the VMs' memory comes from here)
    u32 ram_count = 0;
    PhysRange reserved[kMaxReserved]; // firmware-reserved RAM: never handed out
    u32 reserved_count = 0;
    u64 cpu_hw_id[vm_package::MAX_CPUS]; // each CPU's hardware id, in the order configs number CPUs
    u32 cpu_count = 0;                    // at most MAX_CPUS
    bool cpus_truncated = false;          // the firmware lists more: the rest stay off
    // Register windows of what cxvisor drives itself (interrupt controller, console UART): mapped
    // as device memory in cxvisor's own tables.
    PhysRange devices[kMaxDevices];
    u32 device_count = 0;
    u32 timer_irq = 0;      // cxvisor's own timer (its timer queue), a host interrupt number
    u32 vcpu_timer_irq = 0; // the guest timer's host interrupt while a vCPU runs; 0: none
    u32 console_irq = 0;    // console input; 0: the console is polled
    u32 kick_irq = 0;       // the inter-processor interrupt that wakes a CPU or makes its guest exit
    // Everything no VM may be given (RAM banks, cxvisor's devices, DMA-capable devices) and why,
    // for the VM checks (HostOwnedRanges). `incomplete`: the description had more than could be
    // listed, so no host range can be shown safe.
    struct Owned {
        PhysRange range;
        const char* node = ""; // the firmware's name for it (a DTB node name)
        const char* why = "";  // static text
    } owned[kMaxOwned];
    u32 owned_count = 0;
    bool owned_incomplete = false;
    char summary[128] = ""; // the boot line's description: interrupt controller and console (x86_64: up to 99 characters)
    // What the loader handed over besides the machine: the firmware's device tree where there is
    // one (the host disk is found in it; null where the machine is described otherwise, x86's
    // ACPI), the loader data that must stay untouched while cxvisor runs (the DTB; size 0: none)
    // and the host command line (kernel/cmdline.hpp).
    const Fdt* fdt = nullptr;
    PhysRange boot_data{};
    HostCmdline cmdline;
};

// The ISA-independent part of a DTB-described machine (fdt/host_dt.hpp): RAM, firmware-reserved
// ranges and the host-owned list, as every ISA's host_discover copies them.
inline void host_platform_take_dt(HostPlatform& out, const DtHostInfo& in) {
    static_assert(DtHostInfo::kMaxRam <= HostPlatform::kMaxRam && DtHostInfo::kMaxReserved <= HostPlatform::kMaxReserved &&
                  DtHostInfo::kMaxOwned <= HostPlatform::kMaxOwned);
    for (u32 i = 0; i < in.ram_count; ++i) out.ram[i] = in.ram[i];
    out.ram_count = in.ram_count;
    for (u32 i = 0; i < in.reserved_count; ++i) out.reserved[i] = in.reserved[i];
    out.reserved_count = in.reserved_count;
    for (u32 i = 0; i < in.owned_count; ++i) out.owned[i] = {in.owned[i].range, in.owned[i].node, in.owned[i].why};
    out.owned_count = in.owned_count;
    out.owned_incomplete = in.owned_incomplete;
}

namespace arch {

// Boot CPU, translation off, first thing: reads what the loader handed over, `boot_arg` (the DTB's
// address on aarch64 and riscv64: kernel/host_boot_dt.cpp implements this over host_discover for
// every DTB-described ISA; x86_64: the Multiboot information, read with the ACPI tables in its
// own host.cpp), brings the console up and fills `out`, fdt, boot_data and cmdline included. On
// an error there may be no console: the caller can only halt; `*what` names the missing piece.
Result<void> host_boot(u64 boot_arg, HostPlatform& out, const char** what);
// DTB-described ISAs: boot CPU, translation off, before the frame allocator: reads the machine's
// description (the DTB), brings the console up and fills `out`. Until it returns there is no console: on an error
// before the console exists the caller can only halt; `*what` names the missing piece.
Result<void> host_discover(const Fdt& fdt, HostPlatform& out, const char** what);
// The hardware id of the calling CPU, as HostPlatform::cpu_hw_id lists it.
u64 this_cpu_hw_id();
// Bytes of the loaded boot image, the VM package included (from the image's own header).
u64 boot_image_size();
// Boot CPU, after the frame allocator: cxvisor's own address translation on (its RAM, p.devices
// and `extra` device windows, e.g. a host disk found meanwhile). Secondary CPUs: host_cpu_early.
Result<void> host_mmu_init(const HostPlatform& p, const PhysRange* extra, usize extra_count);
// A secondary CPU's first step: the boot CPU's translation on here too.
void host_cpu_early();
// Boot CPU, with the heap: the interrupt controller, and the ISA's own interrupts (registered
// with kernel/irq.hpp).
Result<void> host_irq_init(const HostPlatform& p);
// Every CPU, once, before it runs vCPUs: its interrupt-controller interface, its timers and its
// virtualization registers.
void host_cpu_init(const HostPlatform& p);

} // namespace arch
