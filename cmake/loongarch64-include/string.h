/* The C string functions the loongarch64 image uses (base/string.hpp), which base/freestanding.cpp
 * defines: Debian has no C library headers for loongarch64, and the image links no C library. */
#pragma once
#include <stddef.h>
#ifdef __cplusplus
extern "C" {
#endif
void* memcpy(void* dst, const void* src, size_t n);
void* memmove(void* dst, const void* src, size_t n);
void* memset(void* dst, int c, size_t n);
int memcmp(const void* a, const void* b, size_t n);
size_t strlen(const char* s);
int strcmp(const char* a, const char* b);
int strncmp(const char* a, const char* b, size_t n);
#ifdef __cplusplus
}
#endif
