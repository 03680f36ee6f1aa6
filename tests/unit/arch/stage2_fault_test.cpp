// Stage-2 abort classification (src/arch/aarch64/stage2_fault.hpp): which syndromes let cxvisor
// trust HPFAR_EL2, and the guard against retrying one fault forever.
#include "arch/aarch64/stage2_fault.hpp"
#include <gtest/gtest.h>

using namespace arch::s2fault;

namespace {
constexpr u64 S1PTW = 1 << 7, WNR = 1 << 6, FNV = 1 << 10;
constexpr u64 dabt(u64 fsc, u64 extra = 0) { return (0x24ull << 26) | (1ull << 25) | fsc | extra; }
} // namespace

TEST(Stage2Fault, HpfarIsTrustedOnlyWhereTheArchitectureWritesIt) {
    for (u64 fsc : {0x04, 0x05, 0x06, 0x07}) EXPECT_TRUE(classify(dabt(fsc)).hpfar_valid) << fsc;   // translation
    for (u64 fsc : {0x09, 0x0A, 0x0B}) EXPECT_TRUE(classify(dabt(fsc)).hpfar_valid) << fsc;         // access flag
    for (u64 fsc : {0x00, 0x01, 0x02, 0x03}) EXPECT_TRUE(classify(dabt(fsc)).hpfar_valid) << fsc;   // address size
    for (u64 fsc : {0x0D, 0x0E, 0x0F}) {
        EXPECT_FALSE(classify(dabt(fsc)).hpfar_valid) << fsc;       // permission: translate FAR instead
        EXPECT_TRUE(classify(dabt(fsc, S1PTW)).hpfar_valid) << fsc; // ...unless on a stage-1 walk
    }
    for (u64 fsc : {0x10, 0x14, 0x15, 0x16, 0x17, 0x18, 0x1C, 0x1F, 0x30, 0x31, 0x21, 0x3D})
        EXPECT_FALSE(classify(dabt(fsc)).hpfar_valid) << fsc;
}

TEST(Stage2Fault, KindsOfTheFaultStatusCodes) {
    EXPECT_EQ(classify(dabt(0x07)).kind, Kind::Translation);
    EXPECT_EQ(classify(dabt(0x0F)).kind, Kind::Permission);
    EXPECT_EQ(classify(dabt(0x02)).kind, Kind::AddressSize);
    EXPECT_EQ(classify(dabt(0x10)).kind, Kind::ExternalAbort);
    EXPECT_EQ(classify(dabt(0x15, S1PTW)).kind, Kind::ExternalAbort); // on a walk
    EXPECT_EQ(classify(dabt(0x1D)).kind, Kind::ExternalAbort);        // ECC on a walk
    EXPECT_EQ(classify(dabt(0x30)).kind, Kind::TlbConflict);
    EXPECT_EQ(classify(dabt(0x31)).kind, Kind::AtomicUpdate);
    EXPECT_EQ(classify(dabt(0x35)).kind, Kind::Other);
    EXPECT_FALSE(classify(dabt(0x10, FNV)).far_valid);
    EXPECT_TRUE(classify(dabt(0x10)).far_valid);
}

TEST(Stage2Fault, AStage1WalkWritesOnlyForHardwareUpdates) {
    EXPECT_FALSE(classify(dabt(0x07, S1PTW | WNR)).walk_write); // translation: the walk reads first
    EXPECT_TRUE(classify(dabt(0x0E, S1PTW)).walk_write);        // AF update on a read-only page (QEMU: WnR 0)
    EXPECT_TRUE(classify(dabt(0x0F, S1PTW | WNR)).walk_write);
    EXPECT_FALSE(classify(dabt(0x0F, WNR)).walk_write);         // not a walk
}

TEST(Stage2Fault, RepeatGuardStopsOnlyWithoutProgress) {
    RepeatGuard g;
    for (u32 i = 0; i < RepeatGuard::LIMIT; ++i) ASSERT_TRUE(g.note(0x1000, dabt(0x07), 0x8000)) << i;
    EXPECT_FALSE(g.note(0x1000, dabt(0x07), 0x8000));
    g.progress();
    EXPECT_TRUE(g.note(0x1000, dabt(0x07), 0x8000));
    for (u32 i = 0; i < 3 * RepeatGuard::LIMIT; ++i) // a loop touching new addresses makes progress
        ASSERT_TRUE(g.note(0x1000, dabt(0x07), 0x8000 + (i + 1) * 0x1000)) << i;
}
