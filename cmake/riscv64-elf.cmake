# Cross toolchain for the freestanding riscv64 image: Debian's riscv64-linux-gnu GCC 12, used
# without its libc (it defaults to PIE like the aarch64 one, so PIE is switched off explicitly).
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR riscv64)
set(CMAKE_C_COMPILER riscv64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER riscv64-linux-gnu-g++)
set(CMAKE_ASM_COMPILER riscv64-linux-gnu-gcc)
set(CMAKE_OBJCOPY riscv64-linux-gnu-objcopy CACHE FILEPATH "")
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)

# -march=rv64imac_zicsr_zifencei -mabi=lp64: no F/D in HS code, so a guest's FP state stays live in
#   the registers across exits and is switched only when another vCPU takes the hart (GCC 12 needs
#   the Zicsr/Zifencei names spelled out; it rejects "_h": hypervisor instructions are written with
#   `.option arch, +h` or `.insn` in assembly).
# -mcmodel=medany: the image is linked at 0x80200000, beyond medlow's +-2 GiB around 0.
# -isystem riscv64-include: an empty gnu/stubs-lp64.h (see that file): Debian ships the lp64d one only.
# -mno-relax is not needed: the linker relaxes against __global_pointer$, which the image does not
#   define, so gp stays an ordinary (unused) register.
set(CXV_FREESTANDING_FLAGS
    "-ffreestanding -fno-pie -fno-pic -march=rv64imac_zicsr_zifencei -mabi=lp64 -mcmodel=medany \
-isystem ${CMAKE_CURRENT_LIST_DIR}/riscv64-include -fno-stack-protector -fno-asynchronous-unwind-tables -fno-unwind-tables -ffunction-sections -fdata-sections -g")
set(CMAKE_C_FLAGS_INIT "${CXV_FREESTANDING_FLAGS}")
set(CMAKE_ASM_FLAGS_INIT "${CXV_FREESTANDING_FLAGS}")
set(CMAKE_CXX_FLAGS_INIT
    "${CXV_FREESTANDING_FLAGS} -fno-exceptions -fno-rtti -fno-threadsafe-statics -fno-use-cxa-atexit")
set(CMAKE_EXE_LINKER_FLAGS_INIT "-nostdlib -static -no-pie -Wl,--gc-sections -Wl,--build-id=none -Wl,--no-warn-rwx-segments")
