// crash, the aarch64 part: LDP to the UART gives a data abort without a valid instruction syndrome
// (ISV = 0), and a load pair is not decodable as one MMIO access.
#include "rt.hpp"

uint64_t crash_access() {
    uint64_t a, b;
    asm volatile("ldp %0, %1, [%2]" : "=&r"(a), "=&r"(b) : "r"(rt::UART_BASE) : "memory");
    return a ^ b;
}
