// hello: the smallest guest. Proves the VM boots, its console works and HC_VM_INFO answers.
#include "rt.hpp"

void guest_main() {
    rt::test_start("hello");
    rt::VmInfo vm = rt::vm_info();
    if (vm.ok)
        rt::printf("hello from cxvisor guest, vcpu %lu, vm %lu\n", vm.vcpu_id, vm.vm_id);
    else
        rt::printf("hello from cxvisor guest, vcpu %lu, vm unknown\n", vm.vcpu_id);
    rt::check(vm.ok, "HC_VM_INFO answers");
    rt::check(vm.vcpu_id == 0, "boot vcpu is vcpu 0");
}
