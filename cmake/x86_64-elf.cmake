# Cross toolchain for the freestanding x86_64 image: Debian's x86_64-linux-gnu GCC 12 (the build
# machine's own compiler under its triplet name; cross-gcc.cmake has what every ISA shares).
# -mno-red-zone: interrupts and exceptions are taken on the interrupted code's stack (no IST for
#   them, AMD64 APM vol. 2 rev. 3.42, 8.9.3 "Interrupt Stack Frame"), which would overwrite the 128
#   bytes below RSP that the SysV ABI lets leaf functions use.
# -mgeneral-regs-only: no SSE/x87 in hypervisor code, so a guest's x87/SSE state stays in the
#   registers across exits and is switched (XSAVE/XRSTOR, or FXSAVE/FXRSTOR without XSAVE:
#   arch/x86_64/vcpu.cpp) only when another vCPU takes the CPU. The test guests are built with
#   the same flags.
# -mcmodel=small (the default) with -fno-pie: the image is linked at 2 MiB and identity-mapped, so
#   every symbol lies below 2 GiB and fits a sign-extended 32-bit absolute address.
# -march=x86-64: the baseline every 64-bit CPU (and QEMU's qemu64 model) has.
set(CXV_CROSS_TRIPLET x86_64-linux-gnu)
set(CXV_CROSS_PROCESSOR x86_64)
set(CXV_CROSS_ISA_FLAGS "-m64 -march=x86-64 -mno-red-zone -mgeneral-regs-only -mcmodel=small")
include(${CMAKE_CURRENT_LIST_DIR}/cross-gcc.cmake)
