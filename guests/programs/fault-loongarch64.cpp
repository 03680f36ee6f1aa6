// fault, the loongarch64 part: the LVZ host-mode CSRs (GSTAT 0x50, GCFG 0x51, GINTC 0x52, GCNTC
// 0x53: LA virtualization extension), which a guest may not reach. Its CSR access exits to cxvisor
// (GSPR, measured on the LVZ QEMU), and cxvisor answers as a CPU without LVZ does for a CSR it does
// not have: the read gives 0, the write is dropped, no exception (measured on stock QEMU's la464,
// where this part passes too: system.loongarch64-guest-runtime-fault).
#include "rt.hpp"

extern const uint64_t g_fault_unmapped = 0x30000000, g_fault_beyond_ram = 0x02000000;

namespace {
// Runs `access` (which returns what its CSR instruction left in the register) with the fault
// handler armed; checks that nothing was raised and that the value is 0.
void check_absent(const char* what, uint64_t (*access)()) {
    const uint64_t before = rt::last_exception().count;
    rt::expect_fault();
    const uint64_t v = access();
    rt::disarm_fault();
    const rt::ExcRecord& e = rt::last_exception();
    const bool taken = e.count != before;
    rt::printf("%s: %s, value %lx\n", what, taken ? "exception" : "no exception", v);
    rt::check(!taken && v == 0, "%s -> 0, no exception (esr %lx, value %lx)", what, taken ? e.esr : 0, v);
}
} // namespace

void check_trapped_registers() {
    check_absent("csrrd GSTAT", [] {
        uint64_t v = 0x1234;
        asm volatile("csrrd %0, 0x50" : "+r"(v)::"memory");
        return v;
    });
    check_absent("csrwr GCFG 0x5a (the old value)", [] {
        uint64_t v = 0x5a;
        asm volatile("csrwr %0, 0x51" : "+r"(v)::"memory");
        return v;
    });
    check_absent("csrrd GCFG after the write", [] {
        uint64_t v = 0x1234;
        asm volatile("csrrd %0, 0x51" : "+r"(v)::"memory");
        return v;
    });
    check_absent("csrxchg GINTC", [] {
        uint64_t v = ~0ull;
        asm volatile("csrxchg %0, %1, 0x52" : "+r"(v) : "r"(~0ull) : "memory");
        return v;
    });
}
