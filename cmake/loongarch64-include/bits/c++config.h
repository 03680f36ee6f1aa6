/* libstdc++'s configuration for the freestanding loongarch64 image: the build machine's (GCC 12,
 * see loongarch64-elf.cmake) minus what needs an operating system. Its configuration has threads
 * (gthreads over pthread.h) and Linux futexes, which <atomic>'s wait/notify would include; cxvisor
 * never waits on an atomic and has neither. */
#pragma once
#include_next <bits/c++config.h>
#undef _GLIBCXX_HAS_GTHREADS
#undef _GLIBCXX_HAVE_LINUX_FUTEX
#undef _GLIBCXX_USE_SCHED_YIELD
