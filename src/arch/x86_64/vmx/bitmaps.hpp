// The VMX I/O and MSR bitmaps (Intel SDM vol. 3C, Order Number 326019-067: 24.6.4 "I/O-Bitmap
// Addresses", 24.6.9 "MSR-Bitmap Address", and 25.1.3 "Instructions That Cause VM Exits
// Conditionally" for how the CPU reads them). Each is a 4 KiB page the caller owns (its physical
// address goes into IO_BITMAP_A/B and MSR_BITMAP); these functions set and test its bits. cxvisor
// starts every bitmap all ones (every port and MSR exits) and opens what it passes through one by
// one, so a port or MSR nobody thought about is emulated or refused, never reached by the guest.
// Pure: the host unit tests check the bit positions (tests/unit/arch/x86_vmx_bitmaps_test.cpp).
#pragma once
#include "base/result.hpp"
#include "base/types.hpp"

namespace arch::vmx {

inline constexpr usize BITMAP_BYTES = 4096;

// I/O bitmap A covers ports 0000h-7FFFh, B 8000h-FFFFh, one bit per port (1 = exit).
void io_bitmap_fill(u8* a, u8* b, bool exit);
// Ports [port, port + count) exit (or not); count may reach past FFFFh only by being clipped there.
void io_bitmap_set(u8* a, u8* b, u16 port, u32 count, bool exit);
// What the CPU does for an access of `size` bytes at `port` (25.1.3): it exits if any byte's bit is
// 1, and always when the access wraps past port FFFFh.
bool io_bitmap_exits(const u8* a, const u8* b, u16 port, u8 size);

// The MSR bitmap: read bits for MSRs 0-1FFFh at byte 0 and C0000000h-C0001FFFh at byte 1024,
// write bits for the same ranges at 2048 and 3072. MSRs outside both ranges always exit.
void msr_bitmap_fill(u8* page, bool exit);
// InvalidArgument for an MSR outside the ranges: its accesses exit whatever the bitmap says, so it
// can never be passed through.
Result<void> msr_bitmap_set(u8* page, u32 msr, bool read_exits, bool write_exits);
bool msr_bitmap_exits(const u8* page, u32 msr, bool write);

} // namespace arch::vmx
