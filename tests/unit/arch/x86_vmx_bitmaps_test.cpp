// The VMX I/O and MSR bitmaps (src/arch/x86_64/vmx/bitmaps.hpp) at the byte and bit positions the
// SDM vol. 3C (Order Number 326019-067) gives: 24.6.4 (bitmap A ports 0000h-7FFFh, B 8000h-FFFFh),
// 24.6.9 (read low at 0, read high at 1024, write low at 2048, write high at 3072), 25.1.3 (an
// access exits if any of its ports' bits is set or it wraps; MSRs outside the ranges always exit).
#include "arch/x86_64/vmx/bitmaps.hpp"
#include <gtest/gtest.h>
#include <vector>

using namespace arch::vmx;

TEST(VmxBitmaps, IoBitPositions) {
    std::vector<u8> a(BITMAP_BYTES), b(BITMAP_BYTES);
    io_bitmap_fill(a.data(), b.data(), true);
    // Open COM1's eight registers (3F8h-3FFh): byte 3F8h / 8 = 7Fh of bitmap A, all eight bits.
    io_bitmap_set(a.data(), b.data(), 0x3F8, 8, false);
    EXPECT_EQ(a[0x7F], 0x00);
    EXPECT_EQ(a[0x7E], 0xFF);
    EXPECT_EQ(a[0x80], 0xFF);
    EXPECT_FALSE(io_bitmap_exits(a.data(), b.data(), 0x3F8, 1));
    EXPECT_FALSE(io_bitmap_exits(a.data(), b.data(), 0x3FC, 4));
    // A 2-byte access at 3FFh also touches 400h, which still exits.
    EXPECT_TRUE(io_bitmap_exits(a.data(), b.data(), 0x3FF, 2));
    // Port 8000h is bit 0 of bitmap B; CF9h stays in A.
    io_bitmap_set(a.data(), b.data(), 0x8000, 1, false);
    EXPECT_EQ(b[0], 0xFE);
    EXPECT_FALSE(io_bitmap_exits(a.data(), b.data(), 0x8000, 1));
    EXPECT_TRUE(io_bitmap_exits(a.data(), b.data(), 0xCF9, 1));
}

TEST(VmxBitmaps, IoAccessesThatWrapAlwaysExit) {
    std::vector<u8> a(BITMAP_BYTES), b(BITMAP_BYTES);
    io_bitmap_fill(a.data(), b.data(), false);
    EXPECT_FALSE(io_bitmap_exits(a.data(), b.data(), 0xFFFF, 1));
    EXPECT_TRUE(io_bitmap_exits(a.data(), b.data(), 0xFFFF, 2)); // FFFFh and 0000h: wraps
    EXPECT_TRUE(io_bitmap_exits(a.data(), b.data(), 0xFFFD, 4));
    // Setting past FFFFh is clipped, never wraps into port 0.
    io_bitmap_set(a.data(), b.data(), 0xFFFE, 4, true);
    EXPECT_EQ(b[0xFFF], 0xC0);
    EXPECT_EQ(a[0], 0x00);
}

TEST(VmxBitmaps, MsrBitPositions) {
    std::vector<u8> m(BITMAP_BYTES);
    msr_bitmap_fill(m.data(), true);
    // IA32_TSC_DEADLINE (6E0h): read bit at byte 6E0h / 8 = DCh, write bit at 2048 + DCh, bit 0.
    ASSERT_TRUE(msr_bitmap_set(m.data(), 0x6E0, false, true).is_ok());
    EXPECT_EQ(m[0xDC], 0xFE);
    EXPECT_EQ(m[2048 + 0xDC], 0xFF);
    EXPECT_FALSE(msr_bitmap_exits(m.data(), 0x6E0, false));
    EXPECT_TRUE(msr_bitmap_exits(m.data(), 0x6E0, true));
    // IA32_FS_BASE (C0000100h): the high range, read bits at 1024 + 20h, write bits at 3072 + 20h.
    ASSERT_TRUE(msr_bitmap_set(m.data(), 0xC000'0100, false, false).is_ok());
    EXPECT_EQ(m[1024 + 0x20], 0xFE);
    EXPECT_EQ(m[3072 + 0x20], 0xFE);
    EXPECT_EQ(m[0x20], 0xFF); // the low MSR 100h is untouched
    EXPECT_FALSE(msr_bitmap_exits(m.data(), 0xC000'0100, true));
    EXPECT_TRUE(msr_bitmap_exits(m.data(), 0x100, true));
}

TEST(VmxBitmaps, MsrsOutsideTheRangesAlwaysExit) {
    std::vector<u8> m(BITMAP_BYTES);
    msr_bitmap_fill(m.data(), false);
    // AMD's C001xxxxh MSRs and 2000h lie outside both ranges: they exit whatever the page says,
    // and asking to pass one through is refused.
    EXPECT_TRUE(msr_bitmap_exits(m.data(), 0xC001'0114, false));
    EXPECT_TRUE(msr_bitmap_exits(m.data(), 0x2000, true));
    EXPECT_EQ(msr_bitmap_set(m.data(), 0xC001'0114, false, false).error(), Error::InvalidArgument);
    EXPECT_FALSE(msr_bitmap_exits(m.data(), 0x1FFF, true));
    EXPECT_FALSE(msr_bitmap_exits(m.data(), 0xC000'1FFF, false));
}
