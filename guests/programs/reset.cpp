// reset: the firmware's system reset (PSCI SYSTEM_RESET, SBI SRST cold reboot) must restart the VM
// with a freshly loaded image and cleared RAM.
// HC_VM_INFO x3 counts resets: boots 0 and 1 check the state, dirty it and reset; boot 2 checks and
// passes. "TEST reset START" is printed on boot 0 only, so one test run has one START and one result.
// The ISA's part (reset-<isa>.cpp, where one exists) does the same with CPU state the reset must
// clear (registers the runtime itself never sets); without one only memory is checked.
#include "rt.hpp"

__attribute__((weak)) void reset_dirty_cpu(uint64_t) {}
__attribute__((weak)) void reset_check_cpu(uint64_t) {}

namespace {
volatile uint64_t g_data = 0x1234ABCD5678EF01; // .data: must read its initial value on every boot
volatile uint64_t g_bss;                       // .bss
// A RAM word outside the image and outside the DTB: nothing but this test writes it.
volatile uint64_t* ram_marker() {
    uint64_t a = rt::RAM_BASE + rt::RAM_SIZE / 2;
    const rt::Range dtb = rt::dtb_range();
    if (a >= dtb.lo && a < dtb.hi) a = dtb.hi;
    return reinterpret_cast<volatile uint64_t*>(a);
}
} // namespace

void guest_main() {
    volatile uint64_t* const g_ram_marker = ram_marker();
    rt::VmInfo vm = rt::vm_info();
    if (vm.resets == 0) rt::test_start("reset");
    else rt::test_start_quiet("reset");
    if (!vm.ok) rt::fail("HC_VM_INFO unavailable");
    rt::printf("boot %lu\n", vm.resets);
    rt::check(g_data == 0x1234ABCD5678EF01, "boot %lu: .data variable has its initial value",
              vm.resets);
    rt::check(g_bss == 0, "boot %lu: .bss variable is 0", vm.resets);
    rt::check(*g_ram_marker == 0, "boot %lu: RAM outside the image is 0 (%lx)", vm.resets,
              *g_ram_marker);
    reset_check_cpu(vm.resets);
    if (rt::failures() || vm.resets >= 2) rt::finish();

    g_data = 0xDEAD0000 + vm.resets;
    g_bss = 0xBEEF;
    *g_ram_marker = 0x5A5A5A5A00000000 | vm.resets;
    reset_dirty_cpu(vm.resets);
    rt::printf("boot %lu: state dirtied, calling %s\n", vm.resets, rt::SYSTEM_RESET_NAME);
    rt::system_reset_call();
    rt::fail("%s returned", rt::SYSTEM_RESET_NAME);
}
