// mmio: the VM's emulated console UART as a register file, through every form of load and store
// cxvisor must emulate (it decodes the trapping instruction where the hardware does not describe
// it), and an access width the device refuses (-> the guest's external abort). The cases are the
// ISA's (mmio-<isa>.cpp): the PL011 on aarch64, the 16550 on riscv64.
#include "rt.hpp"

void mmio_cases();

void guest_main() {
    rt::test_start("mmio");
    mmio_cases();
}
