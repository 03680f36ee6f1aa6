// triple-fault (x86_64 only): the guest makes its own IDT unusable (limit 0) and raises an
// exception: #GP on delivery, then #DF, then a shutdown (AMD64 APM vol. 2 rev. 3.42, 8.2.9
// "Double-Fault Exception": a fault while delivering #DF shuts the processor down). cxvisor's
// SHUTDOWN intercept must stop only this VM, with one line; nothing after START may print.
#include "rt.hpp"

void guest_main() {
    rt::test_start("triple-fault");
    struct __attribute__((packed)) {
        uint16_t limit;
        uint64_t base;
    } empty{0, 0};
    asm volatile("lidt %0\n\tint3" ::"m"(empty) : "memory");
    rt::printf("TEST triple-fault FAIL: still running after the triple fault\n");
    rt::system_off();
}
