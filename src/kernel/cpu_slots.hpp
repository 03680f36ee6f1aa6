// Which of the CPUs a firmware lists cxvisor runs on when it lists more than cxvisor supports:
// the first ones listed, and always the CPU cxvisor booted on. Every ISA's description parser
// (a DTB's /cpus, the ACPI MADT) fills its CPU list through this, so a machine with more CPUs
// than MAX_CPUS boots whichever CPU the firmware starts on. That is not always the first: on
// RISC-V, OpenSBI starts the kernel on whichever hart wins its boot lottery (OpenSBI
// docs/firmware/fw.md), so on QEMU's 20-hart virt board the boot hart is one of the last four
// about one time in five, and a list of "the first 16" left cxvisor nowhere to run.
#pragma once
#include "base/types.hpp"

class CpuSlots {
public:
    // For a caller that does not know which CPU boots (the config tool reading a host DTB): the
    // first `max` CPUs listed.
    static constexpr u64 kAnyBootCpu = ~0ull;

    constexpr CpuSlots(u32 max, u64 boot_hw_id) : m_max(max), m_boot(boot_hw_id) {}

    // The slot in the list (0..max-1) of the next CPU the firmware lists, with hardware id
    // `hw_id`, or false when it stays off. While the list has room, the next slot. Once it is
    // full, the boot CPU, if not listed yet, takes the last slot: the CPU there stays off instead
    // (the caller overwrites everything it recorded for that slot).
    constexpr bool take(u64 hw_id, u32& slot) {
        const bool boot = m_boot != kAnyBootCpu && hw_id == m_boot;
        if (m_count < m_max) {
            m_boot_listed = m_boot_listed || boot;
            slot = m_count++;
            return true;
        }
        m_truncated = true;
        if (!boot || m_boot_listed || m_max == 0) return false;
        m_boot_listed = true;
        slot = m_max - 1;
        return true;
    }

    constexpr u32 count() const { return m_count; }
    constexpr bool truncated() const { return m_truncated; } // some listed CPU stays off

private:
    u32 m_max;
    u64 m_boot;
    u32 m_count = 0;
    bool m_boot_listed = false;
    bool m_truncated = false;
};
