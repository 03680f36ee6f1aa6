// Names of LoongArch exception codes for cxvisor's reports (LoongArch Reference Manual Vol. 1
// v1.10, 7.4.5 table 7-8 "Exception encoding"). Pure: tests/unit/arch/la_lvz_test.cpp checks them.
#pragma once
#include "base/types.hpp"

namespace arch {

inline constexpr const char* la_exception_name(u32 ecode, u32 esubcode) {
    switch (ecode) {
    case 0x0: return "interrupt";
    case 0x1: return "PIL: page invalid for a load";
    case 0x2: return "PIS: page invalid for a store";
    case 0x3: return "PIF: page invalid for an instruction fetch";
    case 0x4: return "PME: page modification (store to a page with D = 0)";
    case 0x5: return "PNR: page not readable";
    case 0x6: return "PNX: page not executable";
    case 0x7: return "PPI: page privilege level";
    case 0x8: return esubcode == 0 ? "ADEF: fetch address error" : "ADEM: memory access address error";
    case 0x9: return "ALE: address alignment";
    case 0xA: return "BCE: bound check";
    case 0xB: return "SYS: syscall";
    case 0xC: return "BRK: breakpoint";
    case 0xD: return "INE: instruction not defined";
    case 0xE: return "IPE: instruction privilege";
    case 0xF: return "FPD: floating point disabled";
    case 0x10: return "SXD: 128-bit vector disabled";
    case 0x11: return "ASXD: 256-bit vector disabled";
    case 0x12: return esubcode == 0 ? "FPE: floating point" : "VFPE: vector floating point";
    case 0x13: return esubcode == 0 ? "WPEF: fetch watchpoint" : "WPEM: memory watchpoint";
    case 0x14: return "BTD: binary translation disabled";
    case 0x15: return "BTE: binary translation";
    case 0x16: return "GSPR: guest sensitive privileged resource";
    case 0x17: return "HVC: hypervisor call";
    case 0x18: return esubcode == 0 ? "GCSC: guest CSR software change" : "GCHC: guest CSR hardware change";
    default: return "reserved";
    }
}

} // namespace arch
