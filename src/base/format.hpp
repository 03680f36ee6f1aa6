// A small printf-style formatter. The image has no libc; host tools and tests use the same code so
// what is tested is what runs. Supports %d %i %u %x %X %p %s %c %% with l/ll/z length modifiers,
// field width, '-' (left-justify), '0' (zero pad) and a precision for %s ("%.31s"). Unknown conversions print verbatim.
#pragma once
#include "base/types.hpp"
#include <stdarg.h>

// Writes at most cap-1 characters and a NUL; returns the number of characters the full output
// needs (like vsnprintf), so callers can detect truncation.
usize vformat(char* buf, usize cap, const char* fmt, va_list ap);
usize format(char* buf, usize cap, const char* fmt, ...) __attribute__((format(printf, 3, 4)));
