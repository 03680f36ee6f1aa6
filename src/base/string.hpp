// Declarations of the C string functions; the image gets them from base/freestanding.cpp, host
// builds from libc.
#pragma once
#include <string.h>
