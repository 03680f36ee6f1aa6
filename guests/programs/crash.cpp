// crash: an MMIO access cxvisor cannot emulate (the ISA's part, crash-<isa>.cpp, names it), so
// cxvisor is expected to stop this VM with a message. Nothing after START should ever print.
#include "rt.hpp"

// One access to the UART that no MMIO emulation can carry out; returns what it loaded, if anything.
uint64_t crash_access();

void guest_main() {
    rt::test_start("crash");
    uint64_t v = crash_access();
    rt::printf("the access returned %lx\n", v);
    rt::printf("TEST crash FAIL: still running\n");
    rt::system_off();
}
