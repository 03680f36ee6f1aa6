// hypercall, the riscv64 part: SBI's discovery calls (RISC-V SBI v2.0, ch. 4 "Base Extension").
// cxvisor answers as an SBI v2.0 implementation with the extensions a Linux guest probes.
#include "rt.hpp"

using namespace cxv_abi;

void check_firmware() {
    rt::SbiRet v = rt::sbi_call(SBI_EXT_BASE, SBI_BASE_GET_SPEC_VERSION);
    rt::printf("SBI get_spec_version -> error %ld, %lx\n", v.error, v.value);
    rt::check(v.error == SBI_SUCCESS && v.value >= SBI_SPEC_VERSION_2_0, "SBI spec version >= 2.0");
    // Linux probes SRST only from spec 0.3 on, DBCN from 2.0 (riscv-notes, "SBI for guests").
    static const struct {
        uint64_t eid;
        const char* name;
    } exts[] = {{SBI_EXT_TIME, "TIME"}, {SBI_EXT_IPI, "IPI"},   {SBI_EXT_RFENCE, "RFENCE"},
                {SBI_EXT_HSM, "HSM"},   {SBI_EXT_SRST, "SRST"}, {CXV_SBI_EID, "cxvisor's"}};
    for (auto& e : exts) rt::check(rt::sbi_has(e.eid), "SBI probe_extension(%s) != 0", e.name);
    rt::check(!rt::sbi_has(0x0AFFFFFF), "SBI probe_extension(0x0AFFFFFF) == 0 (no such extension)");
    rt::SbiRet bad = rt::sbi_call(SBI_EXT_BASE, 0x7FFF);
    rt::check(bad.error == SBI_ERR_NOT_SUPPORTED, "SBI BASE function 0x7FFF -> NOT_SUPPORTED (got %ld)", bad.error);
}
