// reset, the loongarch64 part: guest CSRs and FP registers written before the reset must read
// their reset values after it (cxvisor's vCPU reset: every guest CSR 0 but CRMD.DA and CPUID, FP
// registers 0), whichever core the vCPU comes back on. SAVE7 (LoongArch Reference Manual Vol. 1
// v1.10, 7.4.15: a scratch register nothing else uses), TCFG (7.6.2: a periodic timer left running
// would go on in the new life), EUEN (7.4.3) and f0 (chapter 3; read with EUEN.FPE set for the
// moment, where CPUCFG2 offers FP).
#include "rt.hpp"

namespace {
constexpr unsigned CSR_SAVE7 = 0x37;
constexpr uint64_t EUEN_FPE = 1;
constexpr uint64_t TCFG_PERIODIC = 2;
bool has_fp() { return rt::cpucfg(2) & 1; }
} // namespace

void reset_dirty_cpu(uint64_t boot) {
    RT_CSRWR(CSR_SAVE7, 0x5A5A0000 + boot);
    // Periodic, 2^28 ticks: no interrupt line is enabled (ECFG.LIE = 0), so it only counts.
    RT_CSRWR(rt::csr::TCFG, (1ull << 28) | TCFG_PERIODIC | rt::TCFG_EN);
    if (has_fp()) {
        RT_CSRWR(rt::csr::EUEN, EUEN_FPE);
        const uint64_t v = 0xF0F0'0000'0000'0000 | boot;
        asm volatile("movgr2fr.d $f0, %0" ::"r"(v));
    }
}

void reset_check_cpu(uint64_t boot) {
    const uint64_t save7 = RT_CSRRD(CSR_SAVE7), tcfg = RT_CSRRD(rt::csr::TCFG), euen = RT_CSRRD(rt::csr::EUEN);
    uint64_t f0 = 0;
    if (has_fp()) {
        RT_CSRWR(rt::csr::EUEN, EUEN_FPE);
        asm volatile("movfr2gr.d %0, $f0" : "=r"(f0));
        RT_CSRWR(rt::csr::EUEN, euen);
    }
    rt::check(save7 == 0 && tcfg == 0 && euen == 0 && f0 == 0,
              "boot %lu: SAVE7, TCFG, EUEN and f0 read 0 (%lx, %lx, %lx, %lx)", boot, save7, tcfg, euen, f0);
}
