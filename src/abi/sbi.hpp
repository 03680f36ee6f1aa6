// The riscv64 conduit of cxvisor's calls and the RISC-V Supervisor Binary Interface guests use
// through it (the riscv analogue of abi/smccc.hpp). Shared by cxvisor's riscv64 backend (guest
// SBI, and the host's own calls to OpenSBI) and the riscv64 test guests; plain integer constants
// only. RISC-V SBI Specification v2.0: ch. 3 "Binary Encoding" (a7 = EID, a6 = FID, a0..a5
// arguments; a0 = error, a1 = value), ch. 4-12 for the extensions below.
//
// cxvisor's own calls (abi/hypercall.hpp, by number) sit under the extension id CXV_SBI_EID
// (0x0A435856, "\nCXV") in the firmware-specific range 0x0A000000-0x0AFFFFFF (SBI ch. 3, Table
// "SBI Extension ID ranges"): FID = HC_NR_*, the call's x1..x6 in a0..a5, its x0 result in a0
// and x1..x3 in a1..a3.
#pragma once
#include "abi/hypercall.hpp"

namespace cxv_abi {

inline constexpr uint64_t CXV_SBI_EID = 0x0A435856;

// Extension ids (SBI v2.0).
inline constexpr uint64_t SBI_EXT_LEGACY_SET_TIMER = 0x00; // ch. 5 "Legacy Extensions"
inline constexpr uint64_t SBI_EXT_LEGACY_PUTCHAR = 0x01;
inline constexpr uint64_t SBI_EXT_LEGACY_GETCHAR = 0x02;
inline constexpr uint64_t SBI_EXT_LEGACY_SHUTDOWN = 0x08;
inline constexpr uint64_t SBI_EXT_BASE = 0x10;
inline constexpr uint64_t SBI_EXT_TIME = 0x54494D45;  // "TIME"
inline constexpr uint64_t SBI_EXT_IPI = 0x735049;     // "sPI"
inline constexpr uint64_t SBI_EXT_RFENCE = 0x52464E43; // "RFNC"
inline constexpr uint64_t SBI_EXT_HSM = 0x48534D;     // "HSM"
inline constexpr uint64_t SBI_EXT_SRST = 0x53525354;  // "SRST"
inline constexpr uint64_t SBI_EXT_DBCN = 0x4442434E;  // "DBCN"

// BASE (ch. 4) function ids.
inline constexpr uint64_t SBI_BASE_GET_SPEC_VERSION = 0;
inline constexpr uint64_t SBI_BASE_GET_IMPL_ID = 1;
inline constexpr uint64_t SBI_BASE_GET_IMPL_VERSION = 2;
inline constexpr uint64_t SBI_BASE_PROBE_EXTENSION = 3;
inline constexpr uint64_t SBI_BASE_GET_MVENDORID = 4;
inline constexpr uint64_t SBI_BASE_GET_MARCHID = 5;
inline constexpr uint64_t SBI_BASE_GET_MIMPID = 6;
// get_spec_version: bit 31 = 0, [30:24] major, [23:0] minor.
inline constexpr uint64_t SBI_SPEC_VERSION_2_0 = uint64_t(2) << 24;
// get_impl_id: ids 0-10 are taken by the SBI implementations the spec lists (ch. 4.9);
// cxvisor answers with its own, outside that list.
inline constexpr uint64_t SBI_IMPL_ID_CXVISOR = 0x43585600; // "CXV\0"

// TIME (ch. 6), IPI (ch. 7).
inline constexpr uint64_t SBI_TIME_SET_TIMER = 0;
inline constexpr uint64_t SBI_IPI_SEND_IPI = 0;

// RFENCE (ch. 8).
inline constexpr uint64_t SBI_RFENCE_FENCE_I = 0;
inline constexpr uint64_t SBI_RFENCE_SFENCE_VMA = 1;
inline constexpr uint64_t SBI_RFENCE_SFENCE_VMA_ASID = 2;
inline constexpr uint64_t SBI_RFENCE_HFENCE_GVMA_VMID = 3;
inline constexpr uint64_t SBI_RFENCE_HFENCE_GVMA = 4;
inline constexpr uint64_t SBI_RFENCE_HFENCE_VVMA_ASID = 5;
inline constexpr uint64_t SBI_RFENCE_HFENCE_VVMA = 6;

// HSM (ch. 9).
inline constexpr uint64_t SBI_HSM_HART_START = 0;
inline constexpr uint64_t SBI_HSM_HART_STOP = 1;
inline constexpr uint64_t SBI_HSM_HART_GET_STATUS = 2;
inline constexpr uint64_t SBI_HSM_HART_SUSPEND = 3;
inline constexpr int64_t SBI_HSM_STARTED = 0;
inline constexpr int64_t SBI_HSM_STOPPED = 1;
inline constexpr int64_t SBI_HSM_START_PENDING = 2;
inline constexpr int64_t SBI_HSM_STOP_PENDING = 3;
inline constexpr int64_t SBI_HSM_SUSPENDED = 4;
inline constexpr int64_t SBI_HSM_SUSPEND_PENDING = 5;
inline constexpr int64_t SBI_HSM_RESUME_PENDING = 6;
inline constexpr uint64_t SBI_HSM_SUSPEND_RETENTIVE = 0x00000000;
inline constexpr uint64_t SBI_HSM_SUSPEND_NON_RETENTIVE = 0x80000000;

// SRST (ch. 10).
inline constexpr uint64_t SBI_SRST_SYSTEM_RESET = 0;
inline constexpr uint64_t SBI_SRST_SHUTDOWN = 0;
inline constexpr uint64_t SBI_SRST_COLD_REBOOT = 1;
inline constexpr uint64_t SBI_SRST_WARM_REBOOT = 2;

// DBCN (ch. 12).
inline constexpr uint64_t SBI_DBCN_WRITE = 0;
inline constexpr uint64_t SBI_DBCN_READ = 1;
inline constexpr uint64_t SBI_DBCN_WRITE_BYTE = 2;

// Standard error codes (ch. 3, Table "Standard SBI Errors").
inline constexpr int64_t SBI_SUCCESS = 0;
inline constexpr int64_t SBI_ERR_FAILED = -1;
inline constexpr int64_t SBI_ERR_NOT_SUPPORTED = -2;
inline constexpr int64_t SBI_ERR_INVALID_PARAM = -3;
inline constexpr int64_t SBI_ERR_DENIED = -4;
inline constexpr int64_t SBI_ERR_INVALID_ADDRESS = -5;
inline constexpr int64_t SBI_ERR_ALREADY_AVAILABLE = -6;
inline constexpr int64_t SBI_ERR_ALREADY_STARTED = -7;
inline constexpr int64_t SBI_ERR_ALREADY_STOPPED = -8;

// The call itself (SBI v2.0 ch. 3 "Binary Encoding"): a7 = extension, a6 = function, a0..a5 in;
// a0 = error, a1 = value out, and a2/a3 as cxvisor's own calls return them (every other register
// is preserved). One definition for cxvisor calling its firmware and the test guests calling
// cxvisor. riscv64 code only (the host tests include this header for the ids).
struct SbiRet {
    int64_t error;
    uint64_t value, a2, a3;
};
#if defined(__riscv)
inline SbiRet sbi_ecall(uint64_t eid, uint64_t fid, uint64_t a0 = 0, uint64_t a1 = 0, uint64_t a2 = 0,
                        uint64_t a3 = 0, uint64_t a4 = 0, uint64_t a5 = 0) {
    register uint64_t r0 asm("a0") = a0;
    register uint64_t r1 asm("a1") = a1;
    register uint64_t r2 asm("a2") = a2;
    register uint64_t r3 asm("a3") = a3;
    register uint64_t r4 asm("a4") = a4;
    register uint64_t r5 asm("a5") = a5;
    register uint64_t r6 asm("a6") = fid;
    register uint64_t r7 asm("a7") = eid;
    asm volatile("ecall" : "+r"(r0), "+r"(r1), "+r"(r2), "+r"(r3), "+r"(r4), "+r"(r5) : "r"(r6), "r"(r7) : "memory");
    return {static_cast<int64_t>(r0), r1, r2, r3};
}
#endif

} // namespace cxv_abi
