# Cross toolchain for the freestanding loongarch64 image: clang 19 and ld.lld 19 from Debian
# bookworm's main archive. Debian has no GNU cross compiler or binutils for loongarch64, and
# bookworm's clang-16 compiles LoongArch but its lld-16 cannot link it (lld learned LoongArch
# relocations in LLVM 17: "unknown relocation (71)" for every pcalau12i), so clang-19/lld-19.
# The "gnusf" environment with -msoft-float: the lp64s ABI, no FP registers in hypervisor code
#   (LoongArch ELF psABI v2.20, "lp64s"), so a guest's FP state stays live in the registers across
#   exits. (-mabi=lp64s on a plain "elf" triple does the same but makes LLVM warn for every file
#   that the triple implies lp64d.)
# -march=loongarch64: the base ISA every LoongArch64 CPU has (no LSX/LASX in cxvisor).
# -mcmodel=normal with -fno-pie: the image is linked at 2 MiB and runs at its physical address, so
#   PC-relative pcalau12i/addi.d pairs (+-2 GiB) reach every symbol.
# No libgcc exists for this target on Debian (CXV_ARCH_LIBS is empty in sources.cmake).
# C++ headers: cxvisor uses only freestanding ones (<new>, <atomic>, <concepts>, <type_traits>,
#   <compare>, <utility>); Debian has no libstdc++ for loongarch64, so they are the build machine's
#   g++'s libstdc++ headers (GCC 12 on bookworm: target-independent templates over compiler
#   builtins, LP64 little endian like this target), with loongarch64-include standing in for the C
#   library headers they and base/string.hpp reach (features.h, string.h) and for the threading
#   part of bits/c++config.h; -nostdlibinc keeps the build machine's /usr/include out. The image
#   links no C++ library.
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR loongarch64)
set(CMAKE_C_COMPILER clang-19)
set(CMAKE_CXX_COMPILER clang++-19)
set(CMAKE_ASM_COMPILER clang-19)
set(CMAKE_C_COMPILER_TARGET loongarch64-unknown-none-gnusf)
set(CMAKE_CXX_COMPILER_TARGET loongarch64-unknown-none-gnusf)
set(CMAKE_ASM_COMPILER_TARGET loongarch64-unknown-none-gnusf)
set(CMAKE_OBJCOPY llvm-objcopy-19 CACHE FILEPATH "")
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)

# The build machine's g++ (its version and Debian multiarch triplet name its libstdc++ directories).
execute_process(COMMAND g++ -dumpversion OUTPUT_VARIABLE CXV_HOST_GXX OUTPUT_STRIP_TRAILING_WHITESPACE)
execute_process(COMMAND g++ -print-multiarch OUTPUT_VARIABLE CXV_HOST_MULTIARCH OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT EXISTS /usr/include/c++/${CXV_HOST_GXX}/atomic)
  message(FATAL_ERROR "loongarch64 image: no libstdc++ headers for the build machine's g++ ${CXV_HOST_GXX} "
                      "(/usr/include/c++/${CXV_HOST_GXX}); scripts/setup.sh installs g++")
endif()
set(CXV_FREESTANDING_FLAGS
    "-ffreestanding -fno-pie -fno-pic -march=loongarch64 -msoft-float -mcmodel=normal \
-fno-stack-protector -fno-asynchronous-unwind-tables -fno-unwind-tables -ffunction-sections -fdata-sections -g \
-nostdlibinc -isystem ${CMAKE_CURRENT_LIST_DIR}/loongarch64-include")
set(CMAKE_C_FLAGS_INIT "${CXV_FREESTANDING_FLAGS}")
set(CMAKE_ASM_FLAGS_INIT "${CXV_FREESTANDING_FLAGS}")
set(CMAKE_CXX_FLAGS_INIT
    "${CXV_FREESTANDING_FLAGS} -nostdinc++ -isystem /usr/include/c++/${CXV_HOST_GXX} -isystem /usr/include/${CXV_HOST_MULTIARCH}/c++/${CXV_HOST_GXX} \
-fno-exceptions -fno-rtti -fno-threadsafe-statics -fno-use-cxa-atexit")
# Linked by ld.lld-19 itself: clang's driver for a bare "none" target hands linking to the host gcc.
set(CMAKE_C_LINK_EXECUTABLE "ld.lld-19 <CMAKE_C_LINK_FLAGS> <LINK_FLAGS> <OBJECTS> -o <TARGET> <LINK_LIBRARIES>")
set(CMAKE_CXX_LINK_EXECUTABLE "ld.lld-19 <CMAKE_CXX_LINK_FLAGS> <LINK_FLAGS> <OBJECTS> -o <TARGET> <LINK_LIBRARIES>")
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static --gc-sections --build-id=none")
