// crash, the loongarch64 part: an atomic memory operation (AMADD.W, LA Vol. 1 v1.10 2.2.7.3) on
// the 16550: a read-modify-write that no device register access can carry out (cxvisor decodes
// only plain loads and stores: arch/loongarch64/lvz_exit.hpp).
#include "rt.hpp"

uint64_t crash_access() {
    uint64_t old;
    asm volatile("amadd.w %0, %1, %2" : "=&r"(old) : "r"(1ull), "r"(rt::UART_BASE) : "memory");
    return old;
}
