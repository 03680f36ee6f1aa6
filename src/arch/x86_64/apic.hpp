// The host interrupt controllers: each CPU's local APIC (xAPIC registers, or the x2APIC MSRs when
// CPUID offers it) and the IOAPICs the MADT lists, the LAPIC timer calibrated against the PIT,
// and INIT-SIPI-SIPI (apic.cpp). AMD64 APM vol. 2 rev. 3.42, chapter 16 "Advanced Programmable
// Interrupt Controller (APIC)"; Intel 82093AA IOAPIC datasheet (290566-001), 3.2 "Register
// Description"; Intel 8254 PIT datasheet (231164-005) for the calibration.
#pragma once
#include "base/result.hpp"
#include "boot_info.hpp"

namespace arch {

struct ApicSetup {
    u64 lapic_base;
    bool x2apic;
    const AcpiInfo* acpi; // IOAPICs and the ISA overrides
};
// Boot CPU, before anything uses the APIC: remembers the layout, masks the legacy 8259 PICs and
// measures the TSC and LAPIC-timer rates against PIT channel 2.
void apic_boot_init(const ApicSetup& s);
bool apic_x2apic();
u64 apic_timer_hz();
// The APIC id of the calling CPU (CPUID: leaf 0Bh EDX in x2APIC mode, else leaf 1 EBX[31:24]).
u32 apic_this_id();
// Boot CPU, with the heap: every IOAPIC pin masked.
void ioapic_init();
// Busy-waits `us` microseconds on the TSC (calibrated by apic_boot_init).
void udelay(u64 us);
// Checks on the calling CPU that the LAPIC timer and an IPI interrupt it (after the IRQ handlers
// are registered); returns how many microseconds after its deadline the timer was taken (as i64:
// negative when it came early), or an
// error with *what saying what did not arrive.
Result<u64> apic_check_this_cpu(const char** what);
// Copies the AP trampoline to TRAMPOLINE_BASE with `entry` as its long-mode continuation. Boot CPU,
// while the boot tables still map low memory (before host_mmu_init).
void smp_prepare_trampoline(u64 entry);

} // namespace arch
