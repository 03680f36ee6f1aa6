// What cxvisor says about LVZ on loongarch64 (src/arch/loongarch64/lvz.hpp): CPUCFG word 2 bit 10
// (LoongArch Reference Manual Vol. 1 v1.10, 2.2.10.5) decides the boot line and the reason every
// VM is refused with; and the exception names of its reports (7.4.5, table 7-8).
#include "arch/loongarch64/lvz.hpp"
#include "arch/loongarch64/trap_names.hpp"
#include <gtest/gtest.h>
#include <string>

using namespace arch;

TEST(LaLvz, WithoutLvzTheCpuCannotHostVms) {
    // QEMU 7.2's la464: CPUCFG2 = 0x0040c00f (measured), bit 10 clear.
    const u32 qemu72 = 0x0040'C00F;
    EXPECT_FALSE(qemu72 & CPUCFG2_LVZ);
    EXPECT_STREQ(vcpu_missing_reason(qemu72), "loongarch64: this CPU has no LVZ (CPUCFG2.LVZ = 0)");
    const std::string line = lvz_boot_line(qemu72);
    EXPECT_NE(line.find("this CPU has no LVZ (CPUCFG2.LVZ = 0): it cannot host VMs"), std::string::npos);
    EXPECT_EQ(line.find('\n'), std::string::npos); // one line
}

TEST(LaLvz, WithLvzVmsRunUnderTheBackend) {
    const u32 lvz = 0x0040'C00F | CPUCFG2_LVZ | (1u << 11); // LVZ, version 1
    EXPECT_EQ(cpucfg2_lvz_version(lvz), 1u);
    EXPECT_EQ(vcpu_missing_reason(lvz), nullptr); // no refusal: the LVZ vCPU backend runs them
    const std::string line = lvz_boot_line(lvz);
    EXPECT_NE(line.find("LVZ found (CPUCFG2.LVZ = 1): VMs run under the LVZ vCPU backend"), std::string::npos);
    EXPECT_EQ(line.find('\n'), std::string::npos);
}

TEST(LaTrapNames, ExceptionCodes) {
    EXPECT_STREQ(la_exception_name(0x1, 0), "PIL: page invalid for a load");
    EXPECT_STREQ(la_exception_name(0x4, 0), "PME: page modification (store to a page with D = 0)");
    EXPECT_STREQ(la_exception_name(0x6, 0), "PNX: page not executable");
    EXPECT_STREQ(la_exception_name(0x8, 0), "ADEF: fetch address error");
    EXPECT_STREQ(la_exception_name(0x8, 1), "ADEM: memory access address error");
    EXPECT_STREQ(la_exception_name(0xD, 0), "INE: instruction not defined");
    EXPECT_STREQ(la_exception_name(0x16, 0), "GSPR: guest sensitive privileged resource");
    EXPECT_STREQ(la_exception_name(0x17, 0), "HVC: hypervisor call");
    EXPECT_STREQ(la_exception_name(0x3F, 0), "reserved");
}
