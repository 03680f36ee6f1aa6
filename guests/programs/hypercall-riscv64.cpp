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
    // Hart lists (SBI v2.0, 3.1) are checked against the VM's harts (this config has one): hart 1
    // does not exist, so IPI and RFENCE must answer INVALID_PARAM (cxvisor once checked them against
    // its vCPU maximum and answered SUCCESS). Hart 0 alone, or hart_mask_base -1 (all), is fine.
    rt::SbiRet ipi1 = rt::sbi_call(SBI_EXT_IPI, SBI_IPI_SEND_IPI, 1, 1);
    rt::check(ipi1.error == SBI_ERR_INVALID_PARAM, "SBI send_ipi to hart 1 of a 1-hart VM -> INVALID_PARAM (got %ld)",
              ipi1.error);
    rt::SbiRet fence3 = rt::sbi_call(SBI_EXT_RFENCE, SBI_RFENCE_FENCE_I, 0b11, 0);
    rt::check(fence3.error == SBI_ERR_INVALID_PARAM,
              "SBI remote_fence_i to harts 0 and 1 of a 1-hart VM -> INVALID_PARAM (got %ld)", fence3.error);
    rt::SbiRet fence0 = rt::sbi_call(SBI_EXT_RFENCE, SBI_RFENCE_FENCE_I, 1, 0);
    rt::SbiRet fence_all = rt::sbi_call(SBI_EXT_RFENCE, SBI_RFENCE_FENCE_I, 0, ~0ull);
    rt::check(fence0.error == SBI_SUCCESS && fence_all.error == SBI_SUCCESS,
              "SBI remote_fence_i to hart 0 and to all harts -> SUCCESS (got %ld, %ld)", fence0.error, fence_all.error);
    rt::SbiRet bad = rt::sbi_call(SBI_EXT_BASE, 0x7FFF);
    rt::check(bad.error == SBI_ERR_NOT_SUPPORTED, "SBI BASE function 0x7FFF -> NOT_SUPPORTED (got %ld)", bad.error);
}
