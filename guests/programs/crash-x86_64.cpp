// crash, the x86_64 part: a locked read-modify-write (LOCK ADD, APM vol. 3) on the 16550 in memory
// (configs/vms/x86_64/crash.toml): no single device register access can carry it out, and the MOV
// decoder (arch/x86_64/mmio_decode.cpp) does not take it.
#include "rt.hpp"

uint64_t crash_access() {
    asm volatile("lock addb $1, (%0)" ::"r"(0x1000'0000ull) : "memory", "cc");
    return 0;
}
