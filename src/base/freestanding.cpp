// mem*/str* for the freestanding image: the compiler emits calls to memcpy/memset for struct
// copies and zeroing even with -ffreestanding, and there is no libc to provide them.
// Byte loops are deliberate: before the EL2 MMU is on every access is Device memory, where
// unaligned accesses fault (platform notes); -mstrict-align keeps the compiler from widening them.
#include "base/types.hpp"

extern "C" {

void* memcpy(void* dst, const void* src, size_t n) {
    auto* d = static_cast<unsigned char*>(dst);
    auto* s = static_cast<const unsigned char*>(src);
    // Word copies when both are 8-byte aligned: the hot case (guest images, page copies). 64 bytes
    // per iteration (the compiler pairs the words into load/store-pair instructions): a quarter of
    // the loop overhead of one word at a time, which under emulation is most of a copy's cost.
    if (((uptr(d) | uptr(s)) & 7) == 0) {
        for (; n >= 64; n -= 64, d += 64, s += 64) {
            auto* dw = reinterpret_cast<u64*>(d);
            auto* sw = reinterpret_cast<const u64*>(s);
            const u64 w0 = sw[0], w1 = sw[1], w2 = sw[2], w3 = sw[3], w4 = sw[4], w5 = sw[5], w6 = sw[6], w7 = sw[7];
            dw[0] = w0, dw[1] = w1, dw[2] = w2, dw[3] = w3, dw[4] = w4, dw[5] = w5, dw[6] = w6, dw[7] = w7;
        }
        for (; n >= 8; n -= 8, d += 8, s += 8) *reinterpret_cast<u64*>(d) = *reinterpret_cast<const u64*>(s);
    }
    while (n--) *d++ = *s++;
    return dst;
}

void* memmove(void* dst, const void* src, size_t n) {
    auto* d = static_cast<unsigned char*>(dst);
    auto* s = static_cast<const unsigned char*>(src);
    if (d == s || n == 0) return dst;
    if (d < s || d >= s + n) return memcpy(dst, src, n);
    while (n--) d[n] = s[n];
    return dst;
}

void* memset(void* dst, int c, size_t n) {
    auto* d = static_cast<unsigned char*>(dst);
    if ((uptr(d) & 7) == 0) {
        u64 w = u64(u8(c)) * 0x0101010101010101ull;
        for (; n >= 8; n -= 8, d += 8) *reinterpret_cast<u64*>(d) = w;
    }
    while (n--) *d++ = static_cast<unsigned char>(c);
    return dst;
}

int memcmp(const void* a, const void* b, size_t n) {
    auto* x = static_cast<const unsigned char*>(a);
    auto* y = static_cast<const unsigned char*>(b);
    for (size_t i = 0; i < n; ++i)
        if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
    return 0;
}

size_t strlen(const char* s) {
    size_t n = 0;
    while (s[n]) ++n;
    return n;
}

int strcmp(const char* a, const char* b) {
    while (*a && *a == *b) ++a, ++b;
    return static_cast<unsigned char>(*a) - static_cast<unsigned char>(*b);
}

int strncmp(const char* a, const char* b, size_t n) {
    for (size_t i = 0; i < n; ++i) {
        if (a[i] != b[i] || !a[i]) return static_cast<unsigned char>(a[i]) - static_cast<unsigned char>(b[i]);
    }
    return 0;
}

} // extern "C"
