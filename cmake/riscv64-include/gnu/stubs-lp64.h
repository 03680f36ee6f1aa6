/* Debian's riscv64 glibc headers exist for the lp64d ABI only; cxvisor's HS code is built for lp64
 * (no FP registers) and uses no glibc function, but libstdc++'s freestanding headers (<atomic>,
 * <new>) still pull in <features.h> -> <gnu/stubs.h>, which names this file for lp64. glibc's
 * stubs-*.h only lists functions glibc does not implement (__stub_* macros); the image calls none,
 * so the list is empty. */
