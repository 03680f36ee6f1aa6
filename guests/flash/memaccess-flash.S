// The contents of QEMU virt's second flash bank (pflash unit 1, host-physical 0x0400_0000, 64 MiB)
// for the memaccess guest: isv0_access at offset 0 (its config maps that 2 MiB as a reserved
// region of Normal memory) and again at offset 2 MiB (mapped as a reserved DEVICE region). The
// build pads the binary to the 64 MiB QEMU requires.
    .text
#include "../programs/memaccess-isv0.inc"
    .org    0x200000
#include "../programs/memaccess-isv0.inc"
