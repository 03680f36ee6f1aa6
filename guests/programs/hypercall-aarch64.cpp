// hypercall, the aarch64 part: PSCI's discovery calls (PSCI_VERSION, PSCI_FEATURES; Arm DEN 0022)
// through HVC #0.
#include "rt.hpp"

using namespace cxv_abi;

void check_firmware() {
    int64_t v = rt::psci_version();
    rt::printf("PSCI_VERSION -> %lx\n", v);
    rt::check(v >= 0x10000, "PSCI_VERSION >= 1.0");
    int64_t f = rt::psci_features(uint32_t(PSCI_CPU_ON_64));
    rt::check(f == PSCI_SUCCESS, "PSCI_FEATURES(CPU_ON_64) == 0 (got %ld)", f);
    f = rt::psci_features(uint32_t(PSCI_SYSTEM_OFF));
    rt::check(f == PSCI_SUCCESS, "PSCI_FEATURES(SYSTEM_OFF) == 0 (got %ld)", f);
    f = rt::psci_features(0x840000FF); // not a PSCI function id
    rt::check(f == PSCI_NOT_SUPPORTED, "PSCI_FEATURES(0x840000FF) == -1 (got %ld)", f);
}
