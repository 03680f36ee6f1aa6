// The LVZ host-mode CSRs: their numbers and the GTLBC value cxvisor will set. LoongArch
// virtualization extension (as Linux's arch/loongarch/include/asm/loongarch.h numbers it): GSTAT
// 0x50, GCFG 0x51, GINTC 0x52, GCNTC 0x53, GTLBC 0x15, TRGP 0x16. The LVZ QEMU fork
// (../shared/tools/qemu-lvz/README.md) puts GTLBC and TRGP at 0x54 and 0x55: cxvisor follows the
// manual and takes the fork's numbers only through the one switch below. Pure; checked by
// tests/unit/arch/la_lvz_exit_test.cpp (LaLvzCsr.*).
#pragma once
#include "base/types.hpp"

namespace arch::lvz {

// The one switch for the fork's departures from the manual.
enum class CsrNumbering : u8 { Manual, QemuLvzFork };

struct HostCsrs {
    u32 gstat, gcfg, gintc, gcntc, gtlbc, trgp;
};
inline constexpr HostCsrs host_csrs(CsrNumbering n) {
    return n == CsrNumbering::Manual ? HostCsrs{0x50, 0x51, 0x52, 0x53, 0x15, 0x16}
                                     : HostCsrs{0x50, 0x51, 0x52, 0x53, 0x54, 0x55};
}

// GTLBC: GMTLBNum [5:0] (the guest's share of the MTLB), UseTGID bit 12 (TLB instructions of the
// host act on guest entries of TGID), TOTI bit 13, TGID [23:16].
inline constexpr u64 GTLBC_USE_TGID = 1u << 12, GTLBC_TOTI = 1u << 13;
inline constexpr u64 gtlbc_value(u32 tgid, u32 guest_mtlb_entries) {
    return u64(guest_mtlb_entries & 0x3F) | GTLBC_USE_TGID | u64(tgid & 0xFF) << 16;
}
// GSTAT: PGM bit 1 (ERTN enters the guest), GID [23:16] (the running guest's ID).
inline constexpr u64 GSTAT_PGM = 1u << 1;
inline constexpr u64 gstat_for_entry(u32 gid) { return GSTAT_PGM | u64(gid & 0xFF) << 16; }

} // namespace arch::lvz
