// cxvisor's own calls to the SBI implementation below it (OpenSBI, M-mode): the ECALL conduit of
// RISC-V SBI Specification v2.0, ch. 3 "Binary Encoding" (a7 = EID, a6 = FID, a0..a5 arguments;
// a0 = error, a1 = value, every other register preserved).
#pragma once
#include "abi/sbi.hpp"
#include "base/types.hpp"

namespace arch {

struct SbiRet {
    i64 error;
    u64 value;
};

inline SbiRet sbi_ecall(u64 eid, u64 fid, u64 arg0 = 0, u64 arg1 = 0, u64 arg2 = 0, u64 arg3 = 0, u64 arg4 = 0,
                        u64 arg5 = 0) {
    register u64 a0 asm("a0") = arg0;
    register u64 a1 asm("a1") = arg1;
    register u64 a2 asm("a2") = arg2;
    register u64 a3 asm("a3") = arg3;
    register u64 a4 asm("a4") = arg4;
    register u64 a5 asm("a5") = arg5;
    register u64 a6 asm("a6") = fid;
    register u64 a7 asm("a7") = eid;
    asm volatile("ecall" : "+r"(a0), "+r"(a1) : "r"(a2), "r"(a3), "r"(a4), "r"(a5), "r"(a6), "r"(a7) : "memory");
    return {i64(a0), a1};
}

// hart_mask_base = -1 addresses every hart (SBI v2.0, 3.1 "Hart list parameter").
inline constexpr u64 SBI_ALL_HARTS = ~u64(0);

} // namespace arch
