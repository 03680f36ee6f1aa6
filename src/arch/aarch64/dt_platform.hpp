// What the aarch64 hypervisor needs to know about the board, read from the host DTB so that nothing
// (RAM layout, GIC, console UART, timer PPIs, PSCI conduit, CPU list) is hard-coded per board.
#pragma once
#include "abi/vm_package.hpp" // MAX_CPUS
#include "addrspace/addr.hpp" // PhysRange
#include "fdt/host_dt.hpp" // DtHostInfo, OwnedRange
#include "kernel/cpu_slots.hpp"

enum class PsciMethod : u8 { None, Smc, Hvc }; // None: no PSCI 0.2+ node, secondaries cannot start
enum class CpuEnableMethod : u8 { None, Psci, SpinTable };

struct CpuInfo {
    u64 mpidr = 0;             // the cpu node's reg: MPIDR_EL1 affinity fields Aff3..Aff0
    CpuEnableMethod enable = CpuEnableMethod::None;
    u64 release_addr = 0;      // spin-table only: cpu-release-addr
};

// A plain copyable value. INTIDs are GIC interrupt IDs (SPI n = 32 + n, PPI n = 16 + n).
// RAM, reserved ranges and the host-owned list come from DtHostInfo (fdt/host_dt.hpp): the owned
// list there holds every /memory bank (enabled or not), every reg entry of the GICv3 node (GICD,
// GICR regions, GICC, GICH, GICV), its ITS and GICv2m frames, the console UART, and every
// DMA-capable node's reg (PCI host bridges: their windows too).
struct PlatformInfo : DtHostInfo {
    static constexpr u32 kMaxCpus = vm_package::MAX_CPUS, kMaxRedistRegions = 4;

    CpuInfo cpus[kMaxCpus];            // /cpus/cpu@* in DT order (the boot CPU last when truncated)
    u32 cpu_count = 0;
    bool cpus_truncated = false;       // more than kMaxCpus CPUs: the rest stay off
    PsciMethod psci = PsciMethod::None;

    struct {
        PhysRange dist;                          // GICD: reg[0]
        PhysRange redist[kMaxRedistRegions];     // GICR regions: reg[1 .. #redistributor-regions]
        u32 redist_count = 0;
        u32 maintenance_intid = 0;               // 0: the DT names none
    } gic;
    struct {
        PhysRange mmio;
        u32 intid = 0;
    } uart; // the PL011 console
    struct {
        u32 secure_phys_intid = 0, nonsecure_phys_intid = 0, virt_intid = 0, hyp_phys_intid = 0;
        u32 frequency_hz = 0; // clock-frequency if the DT overrides CNTFRQ_EL0, else 0
    } timer;

};

// Reads the platform description. Called once on the boot CPU, before the allocator exists (the
// result is returned by value; only owned[].node points into the blob, which must then stay
// mapped and unchanged: cxvisor keeps the DTB's frames out of its allocator for good). Also run by
// cxv-vmconfig on a host DTB, so the tool refuses exactly what the image refuses. Errors: NotFound when a mandatory
// piece is absent (RAM, CPUs, GICv3, PL011 console, arch timer), BadFormat when one is malformed,
// NoMemory/Unsupported when it exceeds a fixed capacity that is unsafe to truncate (reserved
// ranges, redistributor regions). On error *what (if given) names the piece, for the boot log.
// boot_mpidr: the CPU reading it (MPIDR_EL1 affinity), always kept when the DTB lists more than
// kMaxCpus CPUs (kernel/cpu_slots.hpp; CpuSlots::kAnyBootCpu for the tool).
Result<PlatformInfo> read_platform(const Fdt& fdt, u64 boot_mpidr, const char** what = nullptr);

// The host interrupt number of device node n's first interrupt: the INTID of its SPI under the
// GICv3 binding (<0 n flags> is INTID 32 + n), 0 if it has none, it is not an SPI, or the GIC does
// not deliver it. (arch::dt_device_irq on aarch64.)
u32 gic_device_irq(const Fdt& fdt, FdtNode n);
