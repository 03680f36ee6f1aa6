/* The image's stand-in for glibc's <features.h>. Debian has no C library headers for loongarch64,
 * and the freestanding libstdc++ headers the image uses (the build machine's GCC 12 ones, see
 * loongarch64-elf.cmake) include <features.h> only from bits/os_defines.h, for the glibc version
 * macros. The image links no C library: no glibc feature applies. */
#pragma once
#define __GLIBC_PREREQ(maj, min) 0
