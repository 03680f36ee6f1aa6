// Guest SBI dispatch (sbi.hpp). RISC-V SBI Specification v2.0; chapter numbers in sbi.hpp.
#include "sbi.hpp"
#include "abi/sbi.hpp"

using namespace cxv_abi;

namespace arch::rv {
namespace {

SbiAction answer(i64 error, u64 value = 0, SbiConduit conduit = SbiConduit::Sbi) {
    SbiAction a;
    a.kind = SbiAction::Kind::Answer;
    a.conduit = conduit;
    a.error = error;
    a.value = value;
    return a;
}
SbiAction not_supported(SbiConduit conduit = SbiConduit::Sbi) { return answer(SBI_ERR_NOT_SUPPORTED, 0, conduit); }

// An exit whose result the generic levels give later (answer_now = false), or one answered now.
SbiAction exit(ExitKind kind, SbiConduit conduit, bool answer_now, u64 a0 = 0, u64 a1 = 0, u64 a2 = 0) {
    SbiAction a;
    a.kind = SbiAction::Kind::Exit;
    a.conduit = conduit;
    a.answer_now = answer_now;
    a.exit.kind = kind;
    a.exit.args[0] = a0;
    a.exit.args[1] = a1;
    a.exit.args[2] = a2;
    return a;
}

// An exit that carries the name of the firmware call the guest made (for the VM's end line).
SbiAction named(SbiAction a, const char* call) {
    a.exit.reason = call;
    return a;
}

SbiAction putc(u64 byte, u64 eid, u64 fid, SbiConduit conduit) {
    SbiAction a = exit(ExitKind::Hypercall, conduit, false, byte & 0xff);
    a.exit.nr = HC_NR_PUTC;
    a.exit.detail = eid << 32 | fid;
    return a;
}

// The hart list of IPI and RFENCE (ch. 3.1 "Hart list parameter"): hart_mask_base = -1 means every
// hart; else bit i of hart_mask is hart base + i. A hart id the VM does not have is INVALID_PARAM
// (ch. 7.1, 8.x error tables).
bool hart_targets(u64 mask, u64 base, u32 count, u32& out) {
    const u32 all = count >= 32 ? ~0u : (1u << count) - 1;
    if (base == ~u64(0)) {
        out = all;
        return true;
    }
    out = 0;
    for (u32 i = 0; i < 64; ++i) {
        if (!(mask >> i & 1)) continue;
        const u64 id = base + i;
        if (base >= count || id >= count) return false; // (also catches base + i wrapping)
        out |= 1u << id;
    }
    return true;
}

bool extension_present(u64 eid) {
    switch (eid) {
    case SBI_EXT_LEGACY_SET_TIMER:
    case SBI_EXT_LEGACY_PUTCHAR:
    case SBI_EXT_LEGACY_GETCHAR:
    case SBI_EXT_LEGACY_SHUTDOWN:
    case SBI_EXT_BASE:
    case SBI_EXT_TIME:
    case SBI_EXT_IPI:
    case SBI_EXT_RFENCE:
    case SBI_EXT_HSM:
    case SBI_EXT_SRST:
    case SBI_EXT_DBCN:
    case CXV_SBI_EID: return true;
    default: return false;
    }
}

SbiAction base(u64 fid, u64 arg0) {
    switch (fid) {
    case SBI_BASE_GET_SPEC_VERSION: return answer(SBI_SUCCESS, SBI_SPEC_VERSION_2_0);
    case SBI_BASE_GET_IMPL_ID: return answer(SBI_SUCCESS, SBI_IMPL_ID_CXVISOR);
    case SBI_BASE_GET_IMPL_VERSION: return answer(SBI_SUCCESS, u64(VERSION_MAJOR) << 16 | VERSION_MINOR);
    case SBI_BASE_PROBE_EXTENSION: return answer(SBI_SUCCESS, extension_present(arg0) ? 1 : 0);
    // 0 is a legal answer (ch. 4.5-4.7: "not implemented"); the guest must not tune itself to the
    // physical hart it happens to run on.
    case SBI_BASE_GET_MVENDORID:
    case SBI_BASE_GET_MARCHID:
    case SBI_BASE_GET_MIMPID: return answer(SBI_SUCCESS, 0);
    default: return not_supported();
    }
}

SbiAction hsm(u64 fid, const u64 (&a)[8]) {
    switch (fid) {
    case SBI_HSM_HART_START: return exit(ExitKind::CpuUp, SbiConduit::Sbi, false, a[0], a[1], a[2]);
    case SBI_HSM_HART_STOP: return exit(ExitKind::CpuDown, SbiConduit::Sbi, false);
    case SBI_HSM_HART_GET_STATUS: return exit(ExitKind::CpuQuery, SbiConduit::Sbi, false, a[0]);
    case SBI_HSM_HART_SUSPEND: {
        // suspend_type is 32 bits (ch. 9.4, Table "HSM Hart Suspend Types").
        const u32 type = u32(a[0]);
        if (type == SBI_HSM_SUSPEND_RETENTIVE) return exit(ExitKind::Halt, SbiConduit::Sbi, true); // returns 0 on wake-up
        const bool reserved = (type >= 0x00000001 && type <= 0x0FFFFFFF) || (type >= 0x80000001 && type <= 0x8FFFFFFF);
        return answer(reserved ? SBI_ERR_INVALID_PARAM : SBI_ERR_NOT_SUPPORTED);
    }
    default: return not_supported();
    }
}

SbiAction srst(u64 fid, u64 type64, u64 reason64) {
    if (fid != SBI_SRST_SYSTEM_RESET) return not_supported();
    const u32 type = u32(type64), reason = u32(reason64);
    // ch. 10.1: reset_reason 0 no reason, 1 system failure, 0xE0000000+ SBI/vendor specific; the
    // rest is reserved. reset_type 0-2 defined, 0xF0000000+ vendor specific, the rest reserved.
    if (reason > 1 && reason < 0xE0000000) return answer(SBI_ERR_INVALID_PARAM);
    switch (type) {
    case SBI_SRST_SHUTDOWN: return named(exit(ExitKind::SystemDown, SbiConduit::Sbi, true), "SBI SRST shutdown");
    case SBI_SRST_COLD_REBOOT:
    case SBI_SRST_WARM_REBOOT: return named(exit(ExitKind::SystemReset, SbiConduit::Sbi, true), "SBI SRST reboot");
    default: return answer(type >= 0xF0000000 ? SBI_ERR_NOT_SUPPORTED : SBI_ERR_INVALID_PARAM);
    }
}

SbiAction targeted(SbiAction::Kind kind, u64 mask, u64 base, u32 count) {
    u32 t = 0;
    if (!hart_targets(mask, base, count, t)) return answer(SBI_ERR_INVALID_PARAM);
    SbiAction a = answer(SBI_SUCCESS);
    a.kind = kind;
    a.targets = t;
    return a;
}

} // namespace

SbiAction sbi_dispatch(const u64 (&a)[8], u32 vcpu_count) {
    const u64 eid = a[7], fid = a[6];
    switch (eid) {
    case SBI_EXT_BASE: return base(fid, a[0]);
    case SBI_EXT_TIME: {
        if (fid != SBI_TIME_SET_TIMER) return not_supported();
        SbiAction r = answer(SBI_SUCCESS);
        r.kind = SbiAction::Kind::SetTimer;
        r.timer = a[0];
        return r;
    }
    case SBI_EXT_IPI:
        if (fid != SBI_IPI_SEND_IPI) return not_supported();
        return targeted(SbiAction::Kind::SendIpi, a[0], a[1], vcpu_count);
    case SBI_EXT_RFENCE:
        if (fid > SBI_RFENCE_SFENCE_VMA_ASID) return not_supported(); // hfence.*: no H extension in a vCPU
        return targeted(SbiAction::Kind::RemoteFence, a[0], a[1], vcpu_count);
    case SBI_EXT_HSM: return hsm(fid, a);
    case SBI_EXT_SRST: return srst(fid, a[0], a[1]);
    case SBI_EXT_DBCN:
        switch (fid) {
        case SBI_DBCN_WRITE_BYTE: return putc(a[0], eid, fid, SbiConduit::Sbi);
        case SBI_DBCN_WRITE: {
            // base_addr_hi holds the address bits above XLEN: none exist on RV64 (ch. 12.1).
            if (a[2] != 0) return answer(SBI_ERR_INVALID_PARAM);
            if (a[0] == 0) return answer(SBI_SUCCESS, 0); // nothing to write, nothing to read
            SbiAction r = exit(ExitKind::ConsoleWrite, SbiConduit::Sbi, false, a[0]);
            r.exit.gpa = a[1];
            r.exit.detail = eid << 32 | fid;
            return r;
        }
        default: return not_supported(); // read: input comes through the emulated UART
        }
    case SBI_EXT_LEGACY_SET_TIMER: {
        SbiAction r = answer(0, 0, SbiConduit::Legacy);
        r.kind = SbiAction::Kind::SetTimer;
        r.timer = a[0];
        return r;
    }
    case SBI_EXT_LEGACY_PUTCHAR: return putc(a[0], eid, 0, SbiConduit::Legacy);
    case SBI_EXT_LEGACY_GETCHAR: return answer(-1, 0, SbiConduit::Legacy);
    case SBI_EXT_LEGACY_SHUTDOWN: return named(exit(ExitKind::SystemDown, SbiConduit::Legacy, true), "SBI legacy shutdown");
    case CXV_SBI_EID: {
        SbiAction r = exit(ExitKind::Hypercall, SbiConduit::Cxv, false);
        r.exit.nr = fid;
        for (u32 i = 0; i < 6; ++i) r.exit.args[i] = a[i];
        r.exit.detail = eid << 32 | (fid & 0xffffffff);
        return r;
    }
    default:
        // Legacy extensions 0x03-0x07 and everything unknown.
        return not_supported(eid < 0x10 ? SbiConduit::Legacy : SbiConduit::Sbi);
    }
}

i64 sbi_power_error(PowerResult r) {
    switch (r) {
    case PowerResult::Success: return SBI_SUCCESS;
    case PowerResult::InvalidParameters: return SBI_ERR_INVALID_PARAM;
    case PowerResult::InvalidAddress: return SBI_ERR_INVALID_ADDRESS;
    case PowerResult::AlreadyOn: return SBI_ERR_ALREADY_AVAILABLE; // ch. 9.1 hart_start
    case PowerResult::Denied: return SBI_ERR_DENIED;
    case PowerResult::InternalFailure: return SBI_ERR_FAILED;
    }
    return SBI_ERR_FAILED;
}

i64 sbi_hsm_state(CpuPowerState s) {
    switch (s) {
    case CpuPowerState::On: return SBI_HSM_STARTED;
    case CpuPowerState::Off: return SBI_HSM_STOPPED;
    case CpuPowerState::OnPending: return SBI_HSM_START_PENDING;
    }
    return SBI_HSM_STOPPED;
}

} // namespace arch::rv
