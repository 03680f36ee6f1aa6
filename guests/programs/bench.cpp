// bench: guest-visible cost of exits (bench.hpp for the output). The cases are the ISA's:
// bench-aarch64.cpp (HVC hypercall and PSCI calls, a PL011 read), bench-riscv64.cpp (cxvisor's SBI
// call and an SBI BASE call, 16550 reads and writes, first touch of lazily backed RAM).
#include "bench.hpp"

void guest_main() {
    rt::test_start("bench");
    bench::cases();
}
