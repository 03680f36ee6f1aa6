// What a loongarch64 VM has of QEMU virt's board besides RAM and its emulated devices, emulated by
// the vCPU backend itself (as x86_64's backend answers the chipset's power ports): the ACPI GED's
// sleep and reset registers (power off, reset) and the per-core IPI block in IOCSR space (vCPU
// start through the mail buffers, IPIs between vCPUs), which the guest runtime
// (guests/runtime/loongarch64) and Linux use as they do on the board. Pure: the vCPU (vcpu.cpp)
// keeps one IpiCore per vCPU and acts on the outcome; tests/unit/arch/la_lvz_exit_test.cpp
// (LaLvzBoard.*) checks it.
// Sources: ACPI 6.5, 4.8.3.7 (sleep control register: SLP_TYP [4:2], SLP_EN [5]) and 4.8.3.6 (the
// reset register, value 0x42 in QEMU virt's FADT); QEMU virt's addresses (hw/loongarch/virt.c:
// VIRT_GED_REG_ADDR 0x100E001C sleep control, +2 reset); the IPI block of the Loongson 3A5000
// user manual v1.03, 10.4, as QEMU's loongson_ipi implements it (asm_offsets.hpp IOCSR_*).
#pragma once
#include "base/types.hpp"

namespace arch::lvz {

inline constexpr u64 GED_SLEEP_CTL = 0x100E001C, GED_RESET = 0x100E001E;
inline constexpr u32 GED_SLP_TYP_S5 = 5;
inline constexpr u8 GED_RESET_VALUE = 0x42;

enum class GedAction : u8 { None, PowerOff, Reset };
// A store of `size` bytes of `value` to guest-physical `gpa`.
inline constexpr GedAction ged_store(u64 gpa, u32 size, u64 value) {
    if (gpa == GED_SLEEP_CTL && size == 1 && (value & (1u << 5)) && ((value >> 2) & 7) == GED_SLP_TYP_S5)
        return GedAction::PowerOff;
    if (gpa == GED_RESET && size == 1 && u8(value) == GED_RESET_VALUE) return GedAction::Reset;
    return GedAction::None;
}
// The GED page is no device of the VM: its other registers read 0 and ignore writes.
inline constexpr bool is_ged(u64 gpa) { return (gpa & ~0xFFFull) == (GED_SLEEP_CTL & ~0xFFFull); }

// One vCPU's IPI block: status (pending vectors), enable, four 64-bit mail buffers. `status` is
// written by other vCPUs on other physical CPUs (IPI_Send) while its own clears it: every update
// is one atomic read-modify-write (a plain |= racing with an &= loses a send or brings a cleared
// vector back: LaLvzBoard.StatusUpdatesFromTwoCpusAreNeitherLostNorRepeated).
struct IpiCore {
    u32 status = 0, enable = 0;
    u64 mbuf[4] = {};
};

inline constexpr u64 IPI_STATUS = 0x1000, IPI_EN = 0x1004, IPI_SET = 0x1008, IPI_CLEAR = 0x100C, IPI_MBUF0 = 0x1020,
                     IPI_SEND = 0x1040, IPI_MBUF_SEND = 0x1048;

struct IocsrOutcome {
    enum class Kind : u8 {
        Done,     // handled; a read's result in `value`
        IpiSent,  // a vector was raised on vCPU `target` (its status bit set): start it if it is off,
                  // else make it see the interrupt
        Refused,  // not part of the IPI block, or a target the VM does not have: the guest gets INE
    } kind = Kind::Refused;
    u64 value = 0;
    u32 target = 0;
};

// An IOCSR access by vCPU `self` of a VM with `count` vCPUs (cores[0..count-1]).
inline IocsrOutcome iocsr_access(IpiCore* cores, u32 count, u32 self, bool write, u64 addr, u32 size, u64 value) {
    using K = IocsrOutcome::Kind;
    IpiCore& me = cores[self];
    if (addr >= IPI_MBUF0 && addr < IPI_MBUF0 + 32 && (size == 4 || size == 8) && addr % size == 0) {
        const u32 i = u32(addr - IPI_MBUF0) / 8, half = u32(addr % 8) / 4;
        u64& m = me.mbuf[i];
        if (size == 8) {
            if (write) m = value;
            return {K::Done, write ? 0 : m, 0};
        }
        const u64 mask = 0xFFFF'FFFFull << (32 * half);
        if (write) m = (m & ~mask) | (value & 0xFFFF'FFFFull) << (32 * half);
        return {K::Done, write ? 0 : (m & mask) >> (32 * half), 0};
    }
    if (size != 4 && !(size == 8 && (addr == IPI_SEND || addr == IPI_MBUF_SEND))) return {};
    switch (addr) {
    case IPI_STATUS: return write ? IocsrOutcome{} : IocsrOutcome{K::Done, __atomic_load_n(&me.status, __ATOMIC_ACQUIRE), 0};
    case IPI_EN:
        if (write) me.enable = u32(value);
        return {K::Done, write ? 0 : me.enable, 0};
    case IPI_SET:
        if (!write) return {};
        __atomic_fetch_or(&me.status, u32(value), __ATOMIC_ACQ_REL);
        return {K::IpiSent, 0, self};
    case IPI_CLEAR:
        if (!write) return {};
        __atomic_fetch_and(&me.status, ~u32(value), __ATOMIC_ACQ_REL);
        return {K::Done, 0, 0};
    case IPI_SEND: { // [25:16] the core, [4:0] the vector
        if (!write) return {};
        const u32 target = u32(value >> 16) & 0x3FF;
        if (target >= count) return {};
        __atomic_fetch_or(&cores[target].status, 1u << (value & 31), __ATOMIC_ACQ_REL);
        return {K::IpiSent, 0, target};
    }
    case IPI_MBUF_SEND: { // [63:32] data, [25:16] the core, [4:2] which 32-bit word of its buffers
        if (!write) return {};
        const u32 target = u32(value >> 16) & 0x3FF, word = u32(value >> 2) & 7;
        if (target >= count) return {};
        u64& m = cores[target].mbuf[word / 2];
        const u32 shift = 32 * (word & 1);
        m = (m & ~(0xFFFF'FFFFull << shift)) | (value >> 32) << shift;
        return {K::Done, 0, 0};
    }
    default: return {};
    }
}

} // namespace arch::lvz
