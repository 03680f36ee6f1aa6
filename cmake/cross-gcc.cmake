# What every cross toolchain file shares: Debian's <triplet>-gcc used without its libc for the
# freestanding image (Debian's cross compilers default to PIE, so PIE is switched off explicitly).
# The including file sets CXV_CROSS_TRIPLET (e.g. aarch64-linux-gnu), CXV_CROSS_PROCESSOR and
# CXV_CROSS_ISA_FLAGS (the ISA's own code-generation flags, with the reasons for them).
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR ${CXV_CROSS_PROCESSOR})
set(CMAKE_C_COMPILER ${CXV_CROSS_TRIPLET}-gcc)
set(CMAKE_CXX_COMPILER ${CXV_CROSS_TRIPLET}-g++)
set(CMAKE_ASM_COMPILER ${CXV_CROSS_TRIPLET}-gcc)
set(CMAKE_OBJCOPY ${CXV_CROSS_TRIPLET}-objcopy CACHE FILEPATH "")
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)

set(CXV_FREESTANDING_FLAGS
    "-ffreestanding -fno-pie -fno-pic ${CXV_CROSS_ISA_FLAGS} -fno-stack-protector -fno-asynchronous-unwind-tables \
-fno-unwind-tables -ffunction-sections -fdata-sections -g")
set(CMAKE_C_FLAGS_INIT "${CXV_FREESTANDING_FLAGS}")
set(CMAKE_ASM_FLAGS_INIT "${CXV_FREESTANDING_FLAGS}")
set(CMAKE_CXX_FLAGS_INIT
    "${CXV_FREESTANDING_FLAGS} -fno-exceptions -fno-rtti -fno-threadsafe-statics -fno-use-cxa-atexit")
set(CMAKE_EXE_LINKER_FLAGS_INIT "-nostdlib -static -no-pie -Wl,--gc-sections -Wl,--build-id=none -Wl,--no-warn-rwx-segments")
