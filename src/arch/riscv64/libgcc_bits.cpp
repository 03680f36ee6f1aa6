// The two libgcc helpers the image needs on riscv64 (GCC 12 expands __builtin_ctzll and
// __builtin_popcountll into calls when the ISA has no Zbb), written out here: Debian's cross
// libgcc is built for the lp64d ABI only, and the linker refuses to mix its objects with the
// image's soft-float (lp64) ones even though these functions touch no FP register.
#include "base/types.hpp"

extern "C" int __ctzdi2(u64 x) {
    if (x == 0) return 64; // undefined for 0 in libgcc; any value is allowed, 64 is the natural one
    int n = 0;
    while (!(x & 1)) {
        x >>= 1;
        ++n;
    }
    return n;
}

extern "C" int __popcountdi2(u64 x) {
    // Bit-parallel count (each step adds neighbouring fields of twice the width).
    x = x - ((x >> 1) & 0x5555555555555555ull);
    x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
    x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0Full;
    return int((x * 0x0101010101010101ull) >> 56);
}
