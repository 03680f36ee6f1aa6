// hypercall: every cxvisor call and the firmware's discovery calls (hypercall-<isa>.cpp), each
// result checked.
#include "rt.hpp"

using namespace cxv_abi;

void check_firmware(); // hypercall-<isa>.cpp

void guest_main() {
    rt::test_start("hypercall");
    if (!rt::hypercalls_available()) rt::fail("cxvisor's calls do not work");

    rt::HcResult r = rt::hypercall(HC_NR_VERSION);
    rt::printf("HC_VERSION -> %lx\n", r.x0);
    rt::check(r.x0 == int64_t(VERSION_MAJOR << 16 | VERSION_MINOR), "HC_VERSION == %u.%u",
              VERSION_MAJOR, VERSION_MINOR);

    r = rt::hypercall(HC_NR_NOP);
    rt::check(r.x0 == CXV_OK, "HC_NOP returns 0 (got %ld)", r.x0);

    // Arguments with high bits set, so a 32-bit truncation anywhere shows.
    const uint64_t a[6] = {0x1111222233334444, 0x8000000000000001, 0x0123456789abcdef,
                           0xfedcba9876543210, 0x7fffffffffffffff, 0x00000000ffffffff};
    r = rt::hypercall(HC_NR_ECHO, a[0], a[1], a[2], a[3], a[4], a[5]);
    uint64_t sum = a[0] + a[1] + a[2] + a[3] + a[4] + a[5];
    rt::printf("HC_ECHO -> x0=%ld x1=%lx x2=%lx x3=%lx\n", r.x0, r.x1, r.x2, r.x3);
    rt::check(r.x0 == CXV_OK, "HC_ECHO x0 == 0");
    rt::check(r.x1 == sum, "HC_ECHO x1 == sum of x1..x6 (%lx)", sum);
    rt::check(r.x2 == (a[0] ^ a[1]), "HC_ECHO x2 == x1 ^ x2 (%lx)", a[0] ^ a[1]);
    rt::check(r.x3 == ~a[0], "HC_ECHO x3 == ~x1 (%lx)", ~a[0]);

    r = rt::hypercall(HC_NR_VM_INFO);
    rt::printf("HC_VM_INFO -> x0=%ld vm %lu vcpu %lu resets %lu\n", r.x0, r.x1, r.x2, r.x3);
    rt::check(r.x0 == CXV_OK, "HC_VM_INFO x0 == 0");
    rt::check(r.x2 == 0, "HC_VM_INFO vcpu id == 0 on the boot vcpu");
    rt::check(r.x3 == 0, "HC_VM_INFO reset count == 0 on first boot");

    r = rt::hypercall(0xFFFF);
    rt::check(r.x0 == CXV_NOT_SUPPORTED, "unknown call 0xFFFF returns -1 (got %ld)", r.x0);

    check_firmware();
}
