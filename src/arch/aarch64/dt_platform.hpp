// What the aarch64 hypervisor needs to know about the board, read from the host DTB so that nothing
// (RAM layout, GIC, console UART, timer PPIs, PSCI conduit, CPU list) is hard-coded per board.
#pragma once
#include "addrspace/addr.hpp" // PhysRange
#include "fdt/fdt.hpp"

enum class PsciMethod : u8 { None, Smc, Hvc }; // None: no PSCI 0.2+ node, secondaries cannot start
enum class CpuEnableMethod : u8 { None, Psci, SpinTable };

struct CpuInfo {
    u64 mpidr = 0;             // the cpu node's reg: MPIDR_EL1 affinity fields Aff3..Aff0
    CpuEnableMethod enable = CpuEnableMethod::None;
    u64 release_addr = 0;      // spin-table only: cpu-release-addr
};

// A plain copyable value. INTIDs are GIC interrupt IDs (SPI n = 32 + n, PPI n = 16 + n).
struct PlatformInfo {
    static constexpr u32 kMaxRam = 8, kMaxReserved = 16, kMaxCpus = 16, kMaxRedistRegions = 4;

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
};

// Reads the platform description. Called once on the boot CPU, before the allocator exists (the
// result is returned by value; the Fdt views are not kept). Errors: NotFound when a mandatory
// piece is absent (RAM, CPUs, GICv3, PL011 console, arch timer), BadFormat when one is malformed,
// NoMemory/Unsupported when it exceeds a fixed capacity that is unsafe to truncate (reserved
// ranges, redistributor regions). On error *what (if given) names the piece, for the boot log.
Result<PlatformInfo> read_platform(const Fdt& fdt, const char** what = nullptr);
