// What the loader and the firmware tell cxvisor about an x86 PC, as pure parsers over physical
// memory (no registers, no globals), so the host unit tests run them on recorded QEMU inputs
// (tests/unit/arch/x86_boot_info_test.cpp):
//  - the Multiboot v1 information and its memory map (Multiboot Specification 0.6.96, 3.3 "Boot
//    information format"): RAM;
//  - the ACPI tables (ACPI Specification 6.5): the RSDP found in the BIOS area (5.2.5.1 "Finding
//    the RSDP on IA-PC Systems"), the RSDT/XSDT, the MADT (5.2.12: local APICs, x2APICs, IOAPICs,
//    interrupt source overrides), the FADT (5.2.9: the PM1a control block) and \_S5 in the DSDT
//    (7.4.2 "\_Sx (System States)") for powering off.
#pragma once
#include "addrspace/addr.hpp"
#include "base/result.hpp"

namespace arch {

// Physical memory as the parsers read it: `map(ctx, pa, len)` gives a pointer to [pa, pa + len)
// or null when that is not readable (outside the recorded window in a test; never on the machine,
// which reads it directly while the boot tables identity-map the first 4 GiB).
struct PhysReader {
    const u8* (*map)(void* ctx, u64 pa, u64 len);
    void* ctx;
    const u8* at(u64 pa, u64 len) const { return map(ctx, pa, len); }
};

// --- Multiboot ---
inline constexpr u64 LOW_MEMORY_END = 0x10'0000; // 1 MiB: BIOS data, EBDA, the AP trampoline, option ROMs

struct MultibootInfo {
    static constexpr u32 kMaxRam = 8;
    PhysRange ram[kMaxRam]; // usable RAM (type 1) at or above 1 MiB, page-aligned, in map order
    u32 ram_count = 0;
    bool ram_truncated = false;       // the map had more usable ranges than kMaxRam
    u64 cmdline = 0;                  // physical address of the NUL-terminated command line; 0: none
};
// Reads the information structure at `info` (flags bit 6: mmap_length/mmap_addr; bit 2: cmdline).
// Errors: BadFormat with *what naming what is missing or malformed.
Result<MultibootInfo> multiboot_parse(PhysReader mem, u64 info, const char** what);

// --- ACPI ---
struct AcpiInfo {
    static constexpr u32 kMaxCpus = 64, kMaxIoApics = 4, kMaxOverrides = 16;
    u64 lapic_base = 0xFEE0'0000; // MADT Local Interrupt Controller Address, or its 64-bit override
    struct Cpu {
        u32 apic_id;
        bool x2apic; // from a Processor Local x2APIC structure
    } cpus[kMaxCpus];
    u32 cpu_count = 0;        // enabled (or online-capable) processors, in MADT order
    bool cpus_truncated = false;
    struct IoApic {
        u32 id;
        u64 base;
        u32 gsi_base;
    } ioapics[kMaxIoApics];
    u32 ioapic_count = 0;
    // ISA IRQ -> GSI with polarity/trigger (5.2.12.5 "Interrupt Source Override Structure"; flags
    // as MPS INTI flags, table 5.26).
    struct Override {
        u8 irq;
        u32 gsi;
        u16 flags;
    } overrides[kMaxOverrides];
    u32 override_count = 0;
    u16 pm1a_cnt = 0;     // FADT PM1a_CNT_BLK (system I/O space); 0: none
    bool s5_found = false;
    u8 s5_slp_typ = 0;    // SLP_TYPa of \_S5
};
// Looks for "RSD PTR " on 16-byte boundaries in the first KiB of the EBDA (segment at 0x40E) and
// in 0xE0000-0xFFFFF; returns its physical address, NotFound when neither has a valid one.
Result<u64> acpi_find_rsdp(PhysReader mem);
// Reads the tables the RSDP at `rsdp` leads to (the XSDT when revision >= 2, else the RSDT).
// Errors: BadFormat (a bad checksum or length, *what names the table) or NotFound (no MADT).
Result<AcpiInfo> acpi_parse(PhysReader mem, u64 rsdp, const char** what);
// The ISA IRQ's GSI and whether it is level-triggered / active-low, from the overrides (ISA
// defaults: identity, edge, active high).
struct GsiRoute {
    u32 gsi;
    bool level;
    bool active_low;
};
GsiRoute acpi_isa_irq(const AcpiInfo& info, u8 irq);

} // namespace arch
