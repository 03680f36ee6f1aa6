# Cross toolchain for the freestanding riscv64 image: Debian's riscv64-linux-gnu GCC 12
# (cross-gcc.cmake has what every ISA shares).
# -march=rv64imac_zicsr_zifencei -mabi=lp64: no F/D in HS code, so a guest's FP state stays live in
#   the registers across exits and is switched only when another vCPU takes the hart (GCC 12 needs
#   the Zicsr/Zifencei names spelled out; it rejects "_h": hypervisor instructions are written with
#   `.option arch, +h` or `.insn` in assembly).
# -mcmodel=medany: the image is linked at 0x80200000, beyond medlow's +-2 GiB around 0.
# -isystem riscv64-include: an empty gnu/stubs-lp64.h (see that file): Debian ships the lp64d one
#   only. Its libgcc is lp64d only too, so the image links without it (src/arch/riscv64/sources.cmake).
# No -mno-relax needed: the linker relaxes against __global_pointer$, which the image does not
#   define, so gp stays an ordinary (unused) register.
set(CXV_CROSS_TRIPLET riscv64-linux-gnu)
set(CXV_CROSS_PROCESSOR riscv64)
set(CXV_CROSS_ISA_FLAGS
    "-march=rv64imac_zicsr_zifencei -mabi=lp64 -mcmodel=medany -isystem ${CMAKE_CURRENT_LIST_DIR}/riscv64-include")
include(${CMAKE_CURRENT_LIST_DIR}/cross-gcc.cmake)
