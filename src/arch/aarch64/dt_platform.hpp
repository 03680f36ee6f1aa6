// What the aarch64 hypervisor needs to know about the board, read from the host DTB so that nothing
// (RAM layout, GIC, console UART, timer PPIs, PSCI conduit, CPU list) is hard-coded per board.
#pragma once
#include "abi/vm_package.hpp" // MAX_CPUS
#include "addrspace/addr.hpp" // PhysRange
#include "fdt/fdt.hpp"

enum class PsciMethod : u8 { None, Smc, Hvc }; // None: no PSCI 0.2+ node, secondaries cannot start
enum class CpuEnableMethod : u8 { None, Psci, SpinTable };

struct CpuInfo {
    u64 mpidr = 0;             // the cpu node's reg: MPIDR_EL1 affinity fields Aff3..Aff0
    CpuEnableMethod enable = CpuEnableMethod::None;
    u64 release_addr = 0;      // spin-table only: cpu-release-addr
};

// A host-physical range no VM may be given (passthrough device, reserved region), and why: the
// boot log and cxv-vmconfig name `node` and `why` when they refuse one.
enum class OwnedKind : u8 {
    Ram,        // a /memory bank: cxvisor's and the VMs' memory (identical regions come from here)
    HostDevice, // what cxvisor drives itself: a GIC frame, its console UART
    DmaCapable, // a bus master or IOMMU (fdt/dma_capable.hpp): reaches host memory on its own
};
struct OwnedRange {
    PhysRange range;
    OwnedKind kind = OwnedKind::HostDevice;
    const char* node = ""; // the DTB node's name ("virtio_mmio@a000000"): points into the DTB
    const char* why = "";  // static text, e.g. "a DMA-capable device (virtio,mmio): cxvisor programs..."
};

// A plain copyable value. INTIDs are GIC interrupt IDs (SPI n = 32 + n, PPI n = 16 + n).
struct PlatformInfo {
    static constexpr u32 kMaxRam = 8, kMaxReserved = 16, kMaxCpus = vm_package::MAX_CPUS, kMaxRedistRegions = 4;
    static constexpr u32 kMaxOwned = 96; // QEMU virt needs 42 (32 of them virtio-mmio slots)

    PhysRange ram[kMaxRam];            // every reg entry of every enabled /memory node, DT order
    u32 ram_count = 0;
    bool ram_truncated = false;        // more than kMaxRam entries: the rest is left unused
    PhysRange reserved[kMaxReserved];  // /memreserve/ entries, then /reserved-memory children's reg
    u32 reserved_count = 0;
    CpuInfo cpus[kMaxCpus];            // /cpus/cpu@* in DT order
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

    // Everything no VM may be given: every /memory bank (enabled or not), every reg entry of the
    // GICv3 node (GICD, GICR regions, GICC, GICH, GICV), its ITS and GICv2m frames, the console
    // UART, and every DMA-capable node's reg (PCI host bridges: their windows too). DT order.
    OwnedRange owned[kMaxOwned];
    u32 owned_count = 0;
    // More than kMaxOwned ranges, a PCI bridge whose windows cannot be read, a bus whose cell
    // counts are malformed or nodes nested deeper than the walk goes (16): the list is
    // incomplete, so no host range can be shown safe and every passthrough device and reserved
    // region must be refused (not a boot failure: VMs without them still run).
    bool owned_incomplete = false;
};

// Reads the platform description. Called once on the boot CPU, before the allocator exists (the
// result is returned by value; only owned[].node points into the blob, which must then stay
// mapped and unchanged: cxvisor keeps the DTB's frames out of its allocator for good). Also run by
// cxv-vmconfig on a host DTB, so the tool refuses exactly what the image refuses. Errors: NotFound when a mandatory
// piece is absent (RAM, CPUs, GICv3, PL011 console, arch timer), BadFormat when one is malformed,
// NoMemory/Unsupported when it exceeds a fixed capacity that is unsafe to truncate (reserved
// ranges, redistributor regions). On error *what (if given) names the piece, for the boot log.
Result<PlatformInfo> read_platform(const Fdt& fdt, const char** what = nullptr);
