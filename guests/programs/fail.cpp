// fail: a test guest that fails on purpose, for the exit status of scriptable runs (exit status 2
// when a test guest reports FAIL). Its one check is false; the runtime prints "TEST fail FAIL"
// and reports it to cxvisor with HC_TEST_RESULT before powering the VM off.
#include "rt.hpp"

void guest_main() {
    rt::test_start("fail");
    rt::check(false, "this guest fails on purpose");
}
