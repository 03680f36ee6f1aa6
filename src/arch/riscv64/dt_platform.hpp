// What the riscv64 hypervisor needs to know about the board, read from the host DTB (as OpenSBI
// passes it on): harts, RAM and the firmware's reserved memory, the PLIC with each hart's S-mode
// context, the 16550 console, the timebase, and every host range no VM may be given.
#pragma once
#include "abi/vm_package.hpp" // MAX_CPUS
#include "fdt/host_dt.hpp"    // DtHostInfo, OwnedRange
#include "kernel/cpu_slots.hpp"

struct RvHart {
    u64 hartid = 0;     // the cpu node's reg (SBI and the PLIC name harts by it)
    u32 s_context = 0;  // the PLIC context of this hart's S-mode external interrupt (cause 9)
    bool sstc = false;  // riscv,isa names Sstc: stimecmp is usable from HS-mode
    // mmu-type (riscv/cpus.yaml: "the largest MMU address translation mode supported"): the
    // virtual-address bits of that mode, 39 (riscv,sv39), 48 or 57; 0 when the node says none
    // or names a mode without paging (riscv,none, riscv,sv32).
    u32 mmu_va_bits = 0;
};

// A plain copyable value. RAM, reserved ranges and the owned list are DtHostInfo's; the owned list
// adds the PLIC, the console UART, the CLINT/ACLINT (the firmware's M-mode timer and IPIs) and the
// test/syscon finisher (it powers the whole machine off) to the generic RAM and DMA-capable ranges.
struct RvPlatformInfo : DtHostInfo {
    static constexpr u32 kMaxCpus = vm_package::MAX_CPUS;

    RvHart harts[kMaxCpus];     // enabled cpu nodes with H, DT order (the boot hart last when truncated)
    u32 hart_count = 0;
    bool harts_truncated = false; // more than kMaxCpus such harts: the rest stay off
    u32 harts_without_h = 0;      // enabled harts skipped because riscv,isa lacks "h"
    u64 timebase_hz = 0;          // /cpus (or the first cpu node) timebase-frequency

    struct {
        PhysRange mmio;
        u32 ndev = 0; // riscv,ndev: sources 1..ndev
    } plic;
    struct {
        PhysRange mmio;
        u32 irq = 0;          // its PLIC source; 0: none (the console is polled)
        u32 reg_shift = 0;    // register i at base + (i << reg_shift)
        u32 reg_io_width = 1; // bytes per access: 1 or 4
    } uart; // the ns16550a console
};

// Reads the platform description (boot hart, translation off; also run by host unit tests on QEMU
// dumps). Errors: NotFound when a mandatory piece is absent (RAM, harts with H, PLIC with an S
// context for every hart, 16550 console, timebase), BadFormat when one is malformed, NoMemory when
// the reserved ranges exceed their fixed capacity. On error *what (if given) names the piece.
// boot_hartid: the hart reading it, always kept when the DT lists more than kMaxCpus harts with H
// (kernel/cpu_slots.hpp: OpenSBI boots any hart; CpuSlots::kAnyBootCpu for the tool).
Result<RvPlatformInfo> read_rv_platform(const Fdt& fdt, u64 boot_hartid, const char** what = nullptr);

// The host interrupt number of device node n's first interrupt: its PLIC source (1..riscv,ndev),
// 0 if it has none or the PLIC does not deliver it. (arch::dt_device_irq on riscv64.)
u32 rv_device_irq(const Fdt& fdt, FdtNode n);

// Does a riscv,isa string ("rv64imafdch_zicsr_..._sstc") name extension `ext`? A single letter is
// looked up among the base ISA letters before the first '_', a longer name among the '_'-separated
// multi-letter extensions (RISC-V unprivileged spec 20191213, chapter 27 "ISA Extension Naming
// Conventions"; case-insensitive).
bool riscv_isa_has(const char* isa, const char* ext);

// mmu-type's value -> virtual-address bits of the translation mode (39, 48, 57), 0 for anything
// else (absent, "riscv,none", "riscv,sv32", unknown).
u32 riscv_mmu_type_bits(const char* mmu_type);

// Rewrites, in place, every mmu-type property of a flattened device tree whose value is
// "riscv,sv39", "riscv,sv48" or "riscv,sv57" to name the mode with `va_bits` (39, 48 or 57; the
// values have one length, so nothing moves). Returns how many it rewrote; a blob that is not a
// well-formed FDT (devicetree spec v0.4, chapter 5) within `size` bytes is left alone (0).
usize fdt_set_mmu_type(u8* blob, usize size, u32 va_bits);
