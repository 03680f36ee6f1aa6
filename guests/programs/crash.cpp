// crash: an MMIO access cxvisor cannot emulate. LDP to the UART gives a data abort without a valid
// instruction syndrome (ISV = 0) and a load pair is not decodable as one MMIO access, so cxvisor is
// expected to stop this VM with a message. Nothing after START should ever print.
#include "rt.hpp"

void guest_main() {
    rt::test_start("crash");
    uint64_t a, b;
    asm volatile("ldp %0, %1, [%2]" : "=&r"(a), "=&r"(b) : "r"(rt::UART_BASE) : "memory");
    rt::printf("ldp returned %lx %lx\n", a, b);
    rt::printf("TEST crash FAIL: still running\n");
    rt::system_off();
}
