// cxvisor's own calls into the SBI firmware below it (OpenSBI on QEMU), SBI spec v2.0. The calling
// convention (chapter 3 "Binary Encoding"): a7 = extension id, a6 = function id, a0..a5 the
// arguments; the firmware returns a0 = error, a1 = value and preserves every other register.
// (The SBI that cxvisor offers its guests is the vCPU backend's business, not this.)
#pragma once
#include "abi/sbi.hpp"
#include "base/result.hpp"

namespace arch::sbi {

// Extension ids and errors (SBI spec v2.0 chapters 3-10): abi/sbi.hpp's, under short names.
inline constexpr u64 EXT_BASE = cxv_abi::SBI_EXT_BASE, EXT_TIME = cxv_abi::SBI_EXT_TIME, EXT_IPI = cxv_abi::SBI_EXT_IPI,
                     EXT_RFENCE = cxv_abi::SBI_EXT_RFENCE, EXT_HSM = cxv_abi::SBI_EXT_HSM, EXT_SRST = cxv_abi::SBI_EXT_SRST;
inline constexpr i64 SUCCESS = cxv_abi::SBI_SUCCESS, ERR_ALREADY_AVAILABLE = cxv_abi::SBI_ERR_ALREADY_AVAILABLE,
                     ERR_INVALID_PARAM = cxv_abi::SBI_ERR_INVALID_PARAM;

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
