// poweroff: the firmware's system-off call (aarch64: PSCI SYSTEM_OFF; riscv64: SBI SRST shutdown)
// must stop the VM. There is no PASS line: success is cxvisor reporting this VM as powered off
// (and nothing printed after the line below).
#include "rt.hpp"

void guest_main() {
    rt::test_start("poweroff");
    rt::printf("poweroff: calling %s\n", rt::SYSTEM_OFF_NAME);
    rt::system_off_call();
    rt::printf("TEST poweroff FAIL: %s returned\n", rt::SYSTEM_OFF_NAME);
    for (;;) rt::cpu_relax();
}
