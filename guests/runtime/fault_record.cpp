// The armed-fault record of the runtimes whose trap handler keeps nothing else per vCPU (riscv64,
// x86_64; aarch64's per-CPU state holds more and keeps its own): rt.hpp's expect_fault /
// disarm_fault / last_exception over one record per vCPU, the trap handler's side of it, and the
// probes' common ending.
#include "rt.hpp"
#include "rt_detail.hpp"

namespace rt {
namespace detail {

FaultRecord g_fault[MAX_CPUS];

bool record_armed_fault(uint64_t esr, uint64_t far, uint64_t elr) {
    FaultRecord& t = g_fault[cpu_index()];
    if (!t.armed) return false;
    t.last.esr = esr;
    t.last.far = far;
    t.last.elr = elr;
    t.last.count = t.last.count + 1;
    t.armed = false;
    return true;
}

Probe probe_end(uint64_t before, uint64_t v) {
    disarm_fault();
    const ExcRecord& e = last_exception();
    bool taken = e.count != before;
    return {taken, taken ? e.esr : 0, taken ? e.far : 0, v};
}

} // namespace detail

void expect_fault() {
    detail::g_fault[cpu_index()].armed = true;
    asm volatile("" ::: "memory");
}
void disarm_fault() {
    asm volatile("" ::: "memory");
    detail::g_fault[cpu_index()].armed = false;
    detail::g_fault[cpu_index()].resume = 0;
}
const ExcRecord& last_exception() { return detail::g_fault[cpu_index()].last; }

} // namespace rt
