// What a stage-2 abort taken to EL2 tells cxvisor, decided from its syndrome alone.
// Arm ARM DDI0487 K.a, ESR_EL2 (ISS encoding for an exception from a Data Abort / an
// Instruction Abort: DFSC/IFSC, S1PTW, WnR, FnV) and HPFAR_EL2 (FIPA is written for Translation,
// Access flag and Address size faults at stage 2 and for stage-2 faults on a stage-1 table walk;
// for other aborts, and on cores with erratum 834220 even for permission faults, it must not be
// trusted: cxvisor then translates FAR_EL2 with AT S1E1R, as KVM does).
// Pure, so tests/unit/arch checks the table.
#pragma once
#include "base/types.hpp"

namespace arch::s2fault {

enum class Kind : u8 {
    Translation,   // no stage-2 entry: RAM on demand, MMIO, or nothing there
    AccessFlag,    // cxvisor sets AF in every entry: handled like Translation
    Permission,    // the entry forbids the access
    AddressSize,   // the IPA is beyond what stage 2 (VTCR_EL2.T0SZ/PS) covers
    ExternalAbort, // synchronous external abort or parity/ECC error (on a walk or not): hardware
    TlbConflict,   // two TLB entries for one address: cxvisor's TLB maintenance must fix it
    AtomicUpdate,  // unsupported atomic hardware update of a table entry (FEAT_HAFDBS)
    Other,         // anything else (reserved or IMPLEMENTATION DEFINED codes)
};

// DFSC/IFSC (ISS[5:0]).
constexpr Kind kind_of(u64 fsc) {
    if (fsc <= 0x03 || fsc == 0x29) return Kind::AddressSize;                 // level 0..3, -1 (LPA2)
    if ((fsc >= 0x04 && fsc <= 0x07) || fsc == 0x2B) return Kind::Translation; // level 0..3, -1
    if (fsc >= 0x08 && fsc <= 0x0B) return Kind::AccessFlag;
    if (fsc >= 0x0C && fsc <= 0x0F) return Kind::Permission;
    if (fsc == 0x10 || fsc == 0x13 || (fsc >= 0x14 && fsc <= 0x17) || fsc == 0x18 || fsc == 0x1B ||
        (fsc >= 0x1C && fsc <= 0x1F))
        return Kind::ExternalAbort;
    if (fsc == 0x30) return Kind::TlbConflict;
    if (fsc == 0x31) return Kind::AtomicUpdate;
    return Kind::Other;
}

struct Info {
    Kind kind;
    bool s1ptw;       // the fault hit the hardware walk of the guest's own stage-1 tables
    bool walk_write;  // s1ptw: the walk may have wanted to write (hardware Access flag / dirty update)
    bool hpfar_valid; // HPFAR_EL2.FIPA holds the faulting IPA
    bool far_valid;   // FAR_EL2 holds the faulting VA (FnV == 0)
};

constexpr Info classify(u64 esr) {
    const u64 fsc = esr & 0x3F;
    const bool s1ptw = esr & (1ull << 7);
    const bool fnv = esr & (1ull << 10);
    const Kind k = kind_of(fsc);
    const bool addressable = k == Kind::Translation || k == Kind::AccessFlag || k == Kind::AddressSize;
    Info i{};
    i.kind = k;
    i.s1ptw = s1ptw;
    // A walk only reads unless it updates a descriptor (hardware AF/dirty, FEAT_HAFDBS). A
    // permission fault on a walk therefore needs write permission, or read permission the RAM
    // lacks: the walk needs both. WnR is no help here (QEMU 7.2 reports 0 for the update), so,
    // like KVM, cxvisor does not look at it.
    i.walk_write = s1ptw && k == Kind::Permission;
    i.hpfar_valid = addressable || (s1ptw && k == Kind::Permission);
    i.far_valid = !fnv;
    return i;
}

// Detects a guest stuck on one stage-2 fault that cxvisor keeps "resolving" without effect (the
// same PC, syndrome and address again and again, with nothing injected in between): after
// LIMIT repeats the VM is stopped instead of retried forever.
class RepeatGuard {
public:
    static constexpr u32 LIMIT = 100;
    // Returns false once the same fault has repeated LIMIT times in a row.
    constexpr bool note(u64 pc, u64 esr, u64 addr) {
        if (pc == m_pc && esr == m_esr && addr == m_addr) return ++m_repeats < LIMIT;
        m_pc = pc, m_esr = esr, m_addr = addr, m_repeats = 0;
        return true;
    }
    // The guest's state moved on (an exception was injected, an instruction completed).
    constexpr void progress() { m_pc = ~0ull, m_repeats = 0; }
    constexpr u32 repeats() const { return m_repeats; }

private:
    u64 m_pc = ~0ull, m_esr = 0, m_addr = 0;
    u32 m_repeats = 0;
};

} // namespace arch::s2fault
