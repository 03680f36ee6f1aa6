# Cross toolchain for the freestanding aarch64 image and guests: Debian's aarch64-linux-gnu GCC,
# used without its libc (platform notes: it defaults to PIE, so PIE is switched off explicitly).
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_ASM_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_OBJCOPY aarch64-linux-gnu-objcopy CACHE FILEPATH "")
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)

# -mgeneral-regs-only: EL2 code never touches FP/SIMD, so a guest's FP state stays live in the
#   registers across exits and is switched only when another vCPU takes the CPU.
# -mstrict-align: code that runs before the MMU is on sees Device memory, where unaligned faults.
# -mno-outline-atomics: otherwise GCC calls libgcc's __aarch64_* helpers, which we do not link.
set(CXV_FREESTANDING_FLAGS
    "-ffreestanding -fno-pie -fno-pic -mgeneral-regs-only -mstrict-align -mno-outline-atomics \
-fno-stack-protector -fno-asynchronous-unwind-tables -fno-unwind-tables -ffunction-sections -fdata-sections \
-march=armv8-a -mcpu=cortex-a72 -g")
set(CMAKE_C_FLAGS_INIT "${CXV_FREESTANDING_FLAGS}")
set(CMAKE_ASM_FLAGS_INIT "${CXV_FREESTANDING_FLAGS}")
set(CMAKE_CXX_FLAGS_INIT
    "${CXV_FREESTANDING_FLAGS} -fno-exceptions -fno-rtti -fno-threadsafe-statics -fno-use-cxa-atexit")
set(CMAKE_EXE_LINKER_FLAGS_INIT "-nostdlib -static -no-pie -Wl,--gc-sections -Wl,--build-id=none -Wl,--no-warn-rwx-segments")
