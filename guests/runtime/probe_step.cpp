// rt::probe_read / rt::probe_write for the runtimes whose exception handler steps over an armed
// faulting instruction itself (riscv64, loongarch64: it knows the instruction's length): the one
// access is the ISA's (detail::probe_load / probe_store in <isa>/arch.cpp), armed around it.
// x86_64 cannot measure its instructions and keeps probes of its own (x86_64/arch.cpp).
#include "rt.hpp"
#include "rt_detail.hpp"

namespace rt {

Probe probe_read(uint64_t addr, unsigned size) {
    const uint64_t before = last_exception().count;
    expect_fault();
    const uint64_t v = detail::probe_load(addr, size);
    return detail::probe_end(before, v);
}

Probe probe_write(uint64_t addr, unsigned size, uint64_t v) {
    const uint64_t before = last_exception().count;
    expect_fault();
    detail::probe_store(addr, size, v);
    return detail::probe_end(before, v);
}

} // namespace rt
