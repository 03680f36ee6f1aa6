// crash, the riscv64 part: an atomic memory operation (AMOADD.W, RISC-V Unprivileged Spec 20191213,
// 8.4) on the 16550: a read-modify-write that no device register access can carry out.
#include "rt.hpp"

uint64_t crash_access() {
    uint64_t old;
    asm volatile(".insn r 0x2f, 2, 0, %0, %1, %2" : "=r"(old) : "r"(rt::UART_BASE), "r"(1ull) : "memory");
    return old;
}
