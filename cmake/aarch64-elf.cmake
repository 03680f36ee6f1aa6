# Cross toolchain for the freestanding aarch64 image and guests: Debian's aarch64-linux-gnu GCC
# (cross-gcc.cmake has what every ISA shares).
# -mgeneral-regs-only: EL2 code never touches FP/SIMD, so a guest's FP state stays live in the
#   registers across exits and is switched only when another vCPU takes the CPU.
# -mstrict-align: code that runs before the MMU is on sees Device memory, where unaligned faults.
# -mno-outline-atomics: otherwise GCC calls libgcc's __aarch64_* helpers, which we do not link.
set(CXV_CROSS_TRIPLET aarch64-linux-gnu)
set(CXV_CROSS_PROCESSOR aarch64)
set(CXV_CROSS_ISA_FLAGS "-mgeneral-regs-only -mstrict-align -mno-outline-atomics -march=armv8-a -mcpu=cortex-a72")
include(${CMAKE_CURRENT_LIST_DIR}/cross-gcc.cmake)
