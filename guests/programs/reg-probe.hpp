// The register probes of reg-probe.S (see there), and the check both fast-path guests make of a
// probe's registers (gicd-fast, uart-fast).
#pragma once
#include "rt.hpp"

extern "C" {
#define X(n) void ldr_probe_##n(uint64_t addr, uint64_t* out);
X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15) X(16) X(17) X(18)
X(19) X(20) X(21) X(22) X(23) X(24) X(25) X(26) X(27) X(28) X(29) X(30) X(zr)
#undef X
#define X(n) void str_probe_##n(uint64_t addr, uint64_t value, uint64_t* out);
X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15) X(16) X(17) X(18)
X(19) X(20) X(21) X(22) X(23) X(24) X(25) X(26) X(27) X(28) X(29) X(30) X(h5) X(w5)
#undef X
uint32_t read32_isv0(uint64_t addr);
void write8_isv0(uint64_t addr, uint8_t value);
}

namespace probe {

using Load = void (*)(uint64_t, uint64_t*);
using Store = void (*)(uint64_t, uint64_t, uint64_t*);
#define X(n) ldr_probe_##n,
inline const Load LDR[32] = {X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14)
                             X(15) X(16) X(17) X(18) X(19) X(20) X(21) X(22) X(23) X(24) X(25) X(26) X(27)
                             X(28) X(29) X(30) X(zr)};
#undef X
#define X(n) str_probe_##n,
inline const Store STR[31] = {X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14)
                              X(15) X(16) X(17) X(18) X(19) X(20) X(21) X(22) X(23) X(24) X(25) X(26) X(27)
                              X(28) X(29) X(30)};
#undef X

// The registers after a probe with register n (31: wzr) and base `addr`: `want` in n, the address
// in the base register, the pattern in every other one. A failed check names the first wrong one.
inline bool regs_ok(const char* what, unsigned n, const uint64_t* r, uint64_t addr, uint64_t want) {
    const unsigned base = n == 1 ? 2 : 1;
    for (unsigned i = 0; i < 31; ++i) {
        const uint64_t expect = i == n ? want : i == base ? addr : 0x5000 + i;
        if (r[i] != expect)
            return rt::check(false, "%s, register %u: x%u = %lx, expected %lx", what, n, i, r[i], expect);
    }
    return true;
}

} // namespace probe
