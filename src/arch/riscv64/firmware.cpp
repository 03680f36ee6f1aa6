// SBI calls (SBI spec v2.0) and the arch.hpp services built on them: starting harts (HSM), power
// off (SRST), IPIs, the timer fallback and remote FENCE.I.
#include "firmware.hpp"
#include "arch.hpp"
#include "kernel/log.hpp"

namespace arch {
namespace sbi {

namespace {
bool g_has_time, g_has_ipi, g_has_rfence, g_has_hsm, g_has_srst;
// Legacy extensions (SBI spec v2.0, 5.1 set_timer EID 0x00, 5.4 send_ipi EID 0x04; replaced by
// TIME and IPI but still what a v0.1 firmware offers).
constexpr u64 LEGACY_SET_TIMER = 0x00, LEGACY_SEND_IPI = 0x04, LEGACY_REMOTE_FENCE_I = 0x05;
} // namespace

Ret call(u64 ext, u64 fid, u64 a0, u64 a1, u64 a2, u64 a3, u64 a4, u64 a5) {
    const cxv_abi::SbiRet r = cxv_abi::sbi_ecall(ext, fid, a0, a1, a2, a3, a4, a5);
    return {r.error, i64(r.value)};
}

bool probe(u64 ext) {
    Ret r = call(EXT_BASE, 3, ext);
    return r.error == SUCCESS && r.value != 0;
}

void init() {
    g_has_time = probe(EXT_TIME);
    g_has_ipi = probe(EXT_IPI);
    g_has_rfence = probe(EXT_RFENCE);
    g_has_hsm = probe(EXT_HSM);
    g_has_srst = probe(EXT_SRST);
}

void set_timer(u64 deadline) {
    if (g_has_time) call(EXT_TIME, 0, deadline);
    else call(LEGACY_SET_TIMER, 0, deadline);
}

void send_ipi(u64 hartid) {
    // hart_mask bit 0 at hart_mask_base = hartid: exactly that hart (7.1).
    if (g_has_ipi) {
        call(EXT_IPI, 0, 1, hartid);
        return;
    }
    // Legacy: a pointer to a hart mask of XLEN-bit words (5.4); hart ids past 63 need more words.
    u64 mask[4] = {};
    if (hartid >= 64 * 4) return;
    mask[hartid / 64] = 1ull << (hartid % 64);
    call(LEGACY_SEND_IPI, 0, u64(mask));
}

void remote_fence_i_all() {
    if (g_has_rfence) call(EXT_RFENCE, 0, 0, u64(-1));
    else call(LEGACY_REMOTE_FENCE_I, 0, 0); // a null mask means every hart (5.5)
}

} // namespace sbi

void send_ipi(u64 target_hw_id) { sbi::send_ipi(target_hw_id); }

void invalidate_icache_all() {
    fence_i();
    sbi::remote_fence_i_all();
}

Result<void> start_cpu(u64 hw_id, u64 entry, u64 arg) {
    if (!sbi::g_has_hsm) return Error::Unsupported; // no way to start a stopped hart
    sbi::Ret r = sbi::call(sbi::EXT_HSM, 0, hw_id, entry, arg); // hart_start (9.1)
    if (r.error == sbi::SUCCESS) return {};
    if (r.error == sbi::ERR_ALREADY_AVAILABLE) return Error::Busy;
    return Error::Unsupported;
}

// SRST system_reset (10.1) with type 0 = shutdown, reason 0 = no reason: does not return when
// the firmware powers the machine off.
void system_off() {
    if (sbi::g_has_srst) sbi::call(sbi::EXT_SRST, 0, 0, 0);
}

} // namespace arch
