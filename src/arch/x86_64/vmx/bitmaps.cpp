#include "bitmaps.hpp"
#include "base/string.hpp"

namespace arch::vmx {

namespace {

void set_bit(u8* map, u32 n, bool v) {
    if (v) map[n / 8] |= u8(1u << (n % 8));
    else map[n / 8] &= u8(~(1u << (n % 8)));
}
bool get_bit(const u8* map, u32 n) { return (map[n / 8] >> (n % 8)) & 1; }

// The byte offset of an MSR's read bits within the page and its bit number there, or -1.
i32 msr_base(u32 msr) {
    if (msr <= 0x1FFF) return 0;
    if (msr >= 0xC000'0000 && msr <= 0xC000'1FFF) return 1024;
    return -1;
}

} // namespace

void io_bitmap_fill(u8* a, u8* b, bool exit) {
    memset(a, exit ? 0xFF : 0, BITMAP_BYTES);
    memset(b, exit ? 0xFF : 0, BITMAP_BYTES);
}

void io_bitmap_set(u8* a, u8* b, u16 port, u32 count, bool exit) {
    for (u32 p = port; p < u32(port) + count && p <= 0xFFFF; ++p) set_bit(p < 0x8000 ? a : b, p & 0x7FFF, exit);
}

bool io_bitmap_exits(const u8* a, const u8* b, u16 port, u8 size) {
    if (u32(port) + size > 0x1'0000) return true;
    for (u32 p = port; p < u32(port) + size; ++p)
        if (get_bit(p < 0x8000 ? a : b, p & 0x7FFF)) return true;
    return false;
}

void msr_bitmap_fill(u8* page, bool exit) { memset(page, exit ? 0xFF : 0, BITMAP_BYTES); }

Result<void> msr_bitmap_set(u8* page, u32 msr, bool read_exits, bool write_exits) {
    const i32 base = msr_base(msr);
    if (base < 0) return Error::InvalidArgument;
    set_bit(page + base, msr & 0x1FFF, read_exits);
    set_bit(page + base + 2048, msr & 0x1FFF, write_exits);
    return {};
}

bool msr_bitmap_exits(const u8* page, u32 msr, bool write) {
    const i32 base = msr_base(msr);
    if (base < 0) return true;
    return get_bit(page + base + (write ? 2048 : 0), msr & 0x1FFF);
}

} // namespace arch::vmx
