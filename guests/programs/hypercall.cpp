// hypercall: every cxvisor call and the PSCI discovery calls, each result checked.
#include "rt.hpp"

using namespace cxv_abi;

void guest_main() {
    rt::test_start("hypercall");
    if (!rt::hypercalls_available()) rt::fail("HVC to cxvisor's calls does not work");

    rt::HvcResult r = rt::hvc_call(HC_VERSION);
    rt::printf("HC_VERSION -> %lx\n", r.x0);
    rt::check(r.x0 == int64_t(VERSION_MAJOR << 16 | VERSION_MINOR), "HC_VERSION == %u.%u",
              VERSION_MAJOR, VERSION_MINOR);

    r = rt::hvc_call(HC_NOP);
    rt::check(r.x0 == CXV_OK, "HC_NOP returns 0 (got %ld)", r.x0);

    // Arguments with high bits set, so a 32-bit truncation anywhere shows.
    const uint64_t a[6] = {0x1111222233334444, 0x8000000000000001, 0x0123456789abcdef,
                           0xfedcba9876543210, 0x7fffffffffffffff, 0x00000000ffffffff};
    r = rt::hvc_call(HC_ECHO, a[0], a[1], a[2], a[3], a[4], a[5]);
    uint64_t sum = a[0] + a[1] + a[2] + a[3] + a[4] + a[5];
    rt::printf("HC_ECHO -> x0=%ld x1=%lx x2=%lx x3=%lx\n", r.x0, r.x1, r.x2, r.x3);
    rt::check(r.x0 == CXV_OK, "HC_ECHO x0 == 0");
    rt::check(r.x1 == sum, "HC_ECHO x1 == sum of x1..x6 (%lx)", sum);
    rt::check(r.x2 == (a[0] ^ a[1]), "HC_ECHO x2 == x1 ^ x2 (%lx)", a[0] ^ a[1]);
    rt::check(r.x3 == ~a[0], "HC_ECHO x3 == ~x1 (%lx)", ~a[0]);

    r = rt::hvc_call(HC_VM_INFO);
    rt::printf("HC_VM_INFO -> x0=%ld vm %lu vcpu %lu resets %lu\n", r.x0, r.x1, r.x2, r.x3);
    rt::check(r.x0 == CXV_OK, "HC_VM_INFO x0 == 0");
    rt::check(r.x2 == 0, "HC_VM_INFO vcpu id == 0 on the boot vcpu");
    rt::check(r.x3 == 0, "HC_VM_INFO reset count == 0 on first boot");

    r = rt::hvc_call(0xC600FFFF);
    rt::check(r.x0 == CXV_NOT_SUPPORTED, "unknown id 0xC600FFFF returns -1 (got %ld)", r.x0);

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
