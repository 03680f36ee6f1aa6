// bench-irq: guest-visible cost of the interrupt paths (bench.hpp for the output). The cases are
// the ISA's: bench-irq-aarch64.cpp (vGIC: virtual timer, SGI to self, GICD_TYPER, EOI),
// bench-irq-riscv64.cpp (Sstc timer spinning and in WFI, SBI IPI to self, a vPLIC register).
#include "bench.hpp"

void guest_main() {
    rt::test_start("bench-irq");
    bench::cases();
}
