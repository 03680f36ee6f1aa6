// poweroff: PSCI SYSTEM_OFF must stop the VM. There is no PASS line: success is cxvisor reporting
// this VM as powered off (and nothing printed after the line below).
#include "rt.hpp"

void guest_main() {
    rt::test_start("poweroff");
    rt::printf("poweroff: calling PSCI SYSTEM_OFF\n");
    rt::hvc_call(cxv_abi::PSCI_SYSTEM_OFF);
    rt::printf("TEST poweroff FAIL: SYSTEM_OFF returned\n");
    for (;;) asm volatile("wfe");
}
