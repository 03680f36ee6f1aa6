// cxvisor's own calls into the SBI firmware below it (OpenSBI on QEMU), SBI spec v2.0. The calling
// convention (chapter 3 "Binary Encoding"): a7 = extension id, a6 = function id, a0..a5 the
// arguments; the firmware returns a0 = error, a1 = value and preserves every other register.
// (The SBI that cxvisor offers its guests is the vCPU backend's business, not this.)
#pragma once
#include "base/result.hpp"

namespace arch::sbi {

// Extension ids (SBI spec v2.0 chapters 4-10).
inline constexpr u64 EXT_BASE = 0x10, EXT_TIME = 0x54494D45, EXT_IPI = 0x735049, EXT_RFENCE = 0x52464E43,
                     EXT_HSM = 0x48534D, EXT_SRST = 0x53525354;
inline constexpr i64 SUCCESS = 0, ERR_ALREADY_AVAILABLE = -6, ERR_INVALID_PARAM = -3;

struct Ret {
    i64 error;
    i64 value;
};
Ret call(u64 ext, u64 fid, u64 a0 = 0, u64 a1 = 0, u64 a2 = 0, u64 a3 = 0, u64 a4 = 0, u64 a5 = 0);

// BASE probe_extension (4.8): nonzero if the firmware implements `ext`.
bool probe(u64 ext);
// Finds out once which extensions cxvisor's services use are there (boot hart, before any of
// them is called); a missing TIME falls back to the legacy set_timer (5.1).
void init();
// TIME set_timer (6.1): the next supervisor timer interrupt at `deadline` (time CSR units); it
// also clears the pending one.
void set_timer(u64 deadline);
// IPI send_ipi (7.1) to one hart: its sip.SSIP.
void send_ipi(u64 hartid);
// RFENCE remote_fence_i (8.1) on every hart (hart_mask_base = -1).
void remote_fence_i_all();

} // namespace arch::sbi
