// What cxvisor learns about QEMU's LoongArch virt board at boot, read by pure functions (the image
// runs them on the real description, the host unit tests on one recorded from QEMU 7.2:
// tests/unit/arch/la_boot_info_test.cpp).
//
// QEMU 7.2 boots an ELF without firmware and hands over nothing in registers (a0-a2 = 0, measured);
// it puts a DTB at 1 MiB (the board's address, linker.ld) that names the cores, the console, the
// interrupt controller and fw_cfg, but has no /memory node. The RAM map is QEMU's fw_cfg file
// "etc/memmap" (the one its LoongArch firmware reads): 24-byte little-endian entries {u64 base,
// u64 length, u32 type, u32 reserved}, type 1 = RAM (QEMU hw/loongarch/virt.c memmap_add_entry).
#pragma once
#include "abi/vm_package.hpp" // MAX_CPUS
#include "fdt/host_dt.hpp"
#include "kernel/cpu_slots.hpp"

struct LaPlatformInfo : DtHostInfo {
    static constexpr u32 kMaxCpus = vm_package::MAX_CPUS;
    u64 cpu_id[kMaxCpus]; // each cpu node's reg: the core's CSR.CPUID (the IPI's target number)
    u32 cpu_count = 0;
    bool cpus_truncated = false; // more than kMaxCpus cores: the rest stay off (the boot core is kept)
    struct {
        PhysRange mmio;
        u64 clock_hz = 0;
        u32 pic_line = 0;      // its PCH-PIC line, when the DTB states one (QEMU 8+; not 7.2)
        bool has_pic_line = false;
    } uart;              // the ns16550a console (stdout-path)
    PhysRange pch_pic;   // the bridge's interrupt controller (QEMU 7.2: "loongarch,ls7a")
    PhysRange fw_cfg;    // "qemu,fw-cfg-mmio": data at +0, selector at +8, DMA at +16
};

// Reads the DTB: cores, console, PCH-PIC, fw_cfg and the owned list (devices; RAM comes from
// la_memmap_ram). NotFound names the missing piece in *what. boot_cpu_id: the core reading it
// (CSR.CPUID), always kept when the DTB lists more than kMaxCpus cores (kernel/cpu_slots.hpp).
Result<LaPlatformInfo> read_la_platform(const Fdt& fdt, u64 boot_cpu_id, const char** what = nullptr);

inline constexpr usize LA_MEMMAP_ENTRY = 24;
inline constexpr u32 LA_MEMMAP_RAM = 1;
// The RAM entries of an etc/memmap file into info.ram (and as owned RAM ranges). BadFormat when
// the size is not a whole number of entries or an entry wraps; NotFound when there is no RAM.
Result<void> la_memmap_ram(const u8* data, usize size, LaPlatformInfo& info);
