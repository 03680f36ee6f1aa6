// cow: guest RAM that cxvisor maps from the VM package copy-on-write (the kernel image's whole
// pages, vm/vm.cpp map_image) must behave exactly like a private copy of the image: a write is
// the VM's own, invisible to another VM booting the same image (cow-a and cow-b run this binary,
// which the package holds once), and a restart finds the original bytes again.
// Boot 0 checks the image, writes its VM id into a 2 MiB block of .data that the image covers
// whole, waits so the other VM writes too, checks it still reads its own value, and resets;
// boot 1 checks the original bytes and passes.
#include "rt.hpp"

namespace {
constexpr uint64_t FIRST = 0xC0DE'0000'F1F5'7001, LAST = 0xC0DE'0000'1A57'7002;
// A whole 2 MiB-aligned block of initialised data (so it is in the image file, not .bss).
struct alignas(0x200000) Block {
    uint64_t first;
    uint64_t middle[0x200000 / 8 - 2];
    uint64_t last;
};
volatile Block g_block = {FIRST, {}, LAST};
} // namespace

void guest_main() {
    const rt::VmInfo vm = rt::vm_info();
    if (vm.resets == 0) rt::test_start("cow");
    else rt::test_start_quiet("cow");
    if (!vm.ok) rt::fail("HC_VM_INFO unavailable");
    rt::printf("boot %lu of vm %lu, block at %p\n", vm.resets, vm.vm_id, static_cast<volatile void*>(&g_block));
    rt::check(g_block.first == FIRST && g_block.last == LAST && g_block.middle[4096] == 0,
              "boot %lu: the image's bytes are the original ones (%lx %lx)", vm.resets, g_block.first, g_block.last);
    if (rt::failures() || vm.resets >= 1) rt::finish();

    const uint64_t mine = 0x5A5A'0000'0000'0000 | vm.vm_id;
    g_block.first = mine;
    g_block.middle[4096] = mine;
    g_block.last = mine;
    rt::delay_us(300'000); // the other VM writes its own id meanwhile
    rt::check(g_block.first == mine && g_block.middle[4096] == mine && g_block.last == mine,
              "boot 0: the writes are this VM's own (%lx %lx %lx)", g_block.first, g_block.middle[4096], g_block.last);
    if (rt::failures()) rt::finish();
    rt::printf("boot 0: image written, calling PSCI SYSTEM_RESET\n");
    rt::hvc_call(cxv_abi::PSCI_SYSTEM_RESET);
    rt::fail("SYSTEM_RESET returned");
}
