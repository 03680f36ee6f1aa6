// hypercall, the loongarch64 part: what cxvisor shows a guest of the CPU through CPUCFG (LA Vol. 1
// v1.10, 2.2.10.5 table 2-8..2-12; under LVZ every CPUCFG exits to cxvisor, GSPR), and HVCL with
// a code other than 0, which the call ABI refuses (src/abi/hypercall.hpp): a0 = CXV_NOT_SUPPORTED,
// the guest goes on, as a CPU's firmware answers an unknown call.
#include "rt.hpp"

using namespace cxv_abi;

namespace {
// HVCL with code 1 and a0 = HC_NR_VERSION: refused by its code, not its number.
int64_t hvcl_code1() {
    register uint64_t a0 asm("$a0") = HC_NR_VERSION;
    asm volatile("hvcl 1" : "+r"(a0)::"$a1", "$a2", "$a3", "memory");
    return int64_t(a0);
}
} // namespace

void check_firmware() {
    const uint32_t w1 = rt::cpucfg(1), w2 = rt::cpucfg(2), w4 = rt::cpucfg(4), w5 = rt::cpucfg(5);
    rt::printf("CPUCFG 1 %x, 2 %x, 4 %x, 5 %x\n", w1, w2, w4, w5);
    rt::check((w1 & 3) == 2, "CPUCFG1.ARCH == 2 (LA64) (got %u)", w1 & 3);
    rt::check(!(w2 & (1u << 10)), "CPUCFG2.LVZ == 0: a guest cannot host VMs itself");
    rt::check(w4 != 0 && (w5 & 0xffff) != 0 && (w5 >> 16) != 0,
              "CPUCFG4/5: the constant timer's frequency (%u Hz x %u / %u)", w4, w5 & 0xffff, w5 >> 16);
    rt::check(rt::cpucfg(2) == w2, "CPUCFG2 reads the same twice");
    const int64_t r = hvcl_code1();
    rt::check(r == CXV_NOT_SUPPORTED, "HVCL code 1 returns -1 (got %ld)", r);
}
