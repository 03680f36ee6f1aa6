// The ID-register table (src/arch/aarch64/idregs.hpp) against sample host values: QEMU's
// cortex-a72 and cortex-a76 models (read by the idregs guest on bare QEMU at EL1).
#include "arch/aarch64/idregs.hpp"
#include <gtest/gtest.h>

using namespace arch::idregs;

namespace {
constexpr Limits lim44{4}; // 44-bit stage 2 (cxvisor on a72: PARange 0b0100)

struct Sample {
    unsigned slot;
    u64 host, guest;
};
// cortex-a72 (QEMU 7.2, virt with GICv3: ID_AA64PFR0_EL1.GIC = 1).
constexpr Sample A72[] = {
    {AA64PFR0, 0x0000000001002222, 0x0000000001002212}, // EL1 AArch64 only; EL2/EL3 kept
    {AA64DFR0, 0x0000000010305106, 0x0000000010101006}, // PMUVer 1 -> 0; 6 BRPs, 4 WRPs -> 2, 2
    {AA64ISAR0, 0x0000000000011120, 0x0000000000011120},
    {AA64MMFR0, 0x0000000000001124, 0x0000000000000124}, // SNSMem -> 0
    {ID_DFR0, 0x0000000003010066, 0x0000000000000066}, // PerfMon 3, MMapTrc 1 -> 0
    {ID_PFR1, 0x0000000000011011, 0x0000000000010011}, // Virtualization -> 0
    {ID_PFR0, 0x0000000000000131, 0x0000000000000131},
    {ID_ISAR0, 0x0000000002101110, 0x0000000002101110},
    {MVFR0, 0x0000000010110222, 0x0000000010110222},
    {ID_AFR0, 0x0000000000000012, 0},                   // implementation-defined: hidden
};
// cortex-a76: CSV2/CSV3, RAS, DIT 0, SSBS; PMUv3p1, 4 WRPs; HAFDBS, PAN, LO.
constexpr Sample A76[] = {
    {AA64PFR0, 0x1100000011111112, 0x1100000001111112}, // RAS (bit 28) -> 0, EL1 -> 1, GIC kept
    {AA64PFR1, 0x0000000000000010, 0x0000000000000010}, // SSBS kept
    {AA64DFR0, 0x0000000010305408, 0x0000000010101006}, // DebugVer 8 -> 6, PMUVer 4 -> 0
    {AA64MMFR1, 0x0000000010212122, 0x0000000000202002}, // HAFDBS, HPDS, PAN kept; VMIDBits, VH, LO, XNX -> 0
    {AA64MMFR2, 0x0000000000001011, 0x0000000000001011},
};
} // namespace

TEST(IdRegs, Cortexa72SamplesSanitiseAsTheTableSays) {
    for (const Sample& s : A72) EXPECT_EQ(sanitise(s.slot, s.host, lim44), s.guest) << reg_info(s.slot)->name;
}
TEST(IdRegs, Cortexa76SamplesSanitiseAsTheTableSays) {
    for (const Sample& s : A76) EXPECT_EQ(sanitise(s.slot, s.host, lim44), s.guest) << reg_info(s.slot)->name;
}

TEST(IdRegs, HiddenFeaturesReadAsAbsentWhateverTheHostHas) {
    const u64 all = ~0ull;
    EXPECT_EQ(field(sanitise(AA64DFR0, all, lim44), 8), 0u);   // PMUVer (Linux: no PMUSERENR write)
    EXPECT_EQ(field(sanitise(AA64DFR0, all, lim44), 4), 0u);   // TraceVer
    EXPECT_EQ(field(sanitise(AA64DFR0, all, lim44), 32), 0u);  // PMSVer (SPE)
    EXPECT_EQ(field(sanitise(AA64DFR0, all, lim44), 44), 0u);  // TraceBuffer
    EXPECT_EQ(field(sanitise(AA64PFR0, all, lim44), 28), 0u);  // RAS
    EXPECT_EQ(field(sanitise(AA64PFR0, all, lim44), 32), 0u);  // SVE
    EXPECT_EQ(field(sanitise(AA64PFR0, all, lim44), 44), 0u);  // AMU
    EXPECT_EQ(field(sanitise(AA64PFR1, all, lim44), 8), 0u);   // MTE
    EXPECT_EQ(field(sanitise(AA64PFR1, all, lim44), 24), 0u);  // SME
    EXPECT_EQ(field(sanitise(AA64MMFR1, all, lim44), 16), 0u); // LO
    EXPECT_EQ(field(sanitise(ID_DFR0, all, lim44), 24), 0u);   // AArch32 PerfMon
    EXPECT_EQ(field(sanitise(AA64MMFR0, all, lim44), 0), 4u);  // PARange capped at the stage-2 size
    EXPECT_EQ(sanitise(AA64ZFR0, all, lim44), 0u);
    EXPECT_EQ(sanitise(AA64SMFR0, all, lim44), 0u);
    EXPECT_EQ(sanitise(AA64DFR1, all, lim44), 0u);
    EXPECT_EQ(sanitise(AA64AFR0, all, lim44), 0u);
}

TEST(IdRegs, ReservedEncodingsReadAsZeroAndEveryResultIsAFixedPoint) {
    const u64 hosts[] = {0, ~0ull, 0x1100000011111112, 0x0123456789abcdef};
    for (unsigned s = 0; s < SLOTS; ++s) {
        if (!reg_info(s)) {
            EXPECT_EQ(sanitise(s, ~0ull, lim44), 0u) << "slot " << s;
        }
        for (u64 h : hosts) {
            const u64 g = sanitise(s, h, lim44);
            EXPECT_TRUE(is_sanitised(s, g)) << "slot " << s;
            EXPECT_EQ(sanitise(s, g, lim44), g) << "slot " << s;
        }
    }
    EXPECT_FALSE(is_sanitised(AA64DFR0, 0x10305106)); // a host value with its PMU is not a guest value
}

TEST(IdRegs, EveryFieldNamesAKnownRegisterAndNoFieldTwice) {
    for (const Field& f : FIELDS) {
        EXPECT_NE(reg_info(f.slot), nullptr) << f.name;
        EXPECT_EQ(f.shift % 4, 0u) << f.name;
        for (const Field& g : FIELDS) {
            if (&f != &g) {
                EXPECT_FALSE(f.slot == g.slot && f.shift == g.shift) << f.name << " / " << g.name;
            }
        }
    }
}
