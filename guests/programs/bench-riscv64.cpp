// bench, the riscv64 cases (bench.cpp, bench.hpp), timed with the time CSR: under QEMU -icount
// shift=0 it advances once per 100 instructions (10 MHz timebase), so each figure is the mean of
// 1000 iterations with a resolution of 0.1 instruction.
//   add100          100 ADDIs in the bench loop (the loop's own cost: add100 - 100)
//   hc_nop          cxvisor's null hypercall (ECALL, EID CXV_SBI_EID, FID HC_NR_NOP); not on bare QEMU
//   sbi_base        SBI BASE get_spec_version (cxvisor's SBI; on bare QEMU OpenSBI's, in M-mode)
//   mmio_read       LBU of the 16550's LSR (an emulated device register under cxvisor)
//   mmio_write      SB to the 16550's SCR (scratch register: no side effect)
//   ram_first_touch one store to a 2 MiB block of RAM the VM never touched (cxvisor backs it
//                   lazily: allocate, zero, map, fence), mean over the untouched blocks
#include "bench.hpp"

namespace {
constexpr uint64_t LSR = rt::UART_BASE + 5, SCR = rt::UART_BASE + 7;
constexpr uint64_t BLOCK = 2ull << 20;

// The blocks of the guest's 16 MiB of RAM that hold neither the image nor the DTB (the image is at
// IMAGE_BASE, its stacks and BSS right behind it: the first 6 MiB are left out; a DTB is far below
// 64 KiB, and rt::dtb_range needs libgcc's byte swap, which the runtime does not link).
void first_touch() {
    const uint64_t dtb = rt::boot_dtb();
    uint64_t sum = 0, n = 0;
    for (uint64_t b = rt::RAM_BASE + 3 * BLOCK; b < rt::RAM_BASE + rt::RAM_SIZE; b += BLOCK) {
        if (dtb + (64 << 10) > b && dtb < b + BLOCK) continue;
        volatile uint64_t* p = reinterpret_cast<volatile uint64_t*>(b + 0x100);
        const uint64_t t0 = rt::counter();
        *p = b;
        sum += rt::counter() - t0;
        rt::check(*p == b, "block %lx keeps what was stored", b);
        ++n;
    }
    if (rt::check(n > 0, "an untouched RAM block exists"))
        rt::printf("BENCH ram_first_touch %lu %lu\n", sum * 1000 / n, rt::counter_freq());
}
} // namespace

void bench::cases() {
    using namespace cxv_abi;
    run("add100", [] { asm volatile(".rept 100\n addi x9, x9, 1\n .endr" ::: "x9"); });
    if (rt::hypercalls_available())
        run("hc_nop", [] { (void)rt::sbi_call(CXV_SBI_EID, HC_NR_NOP); });
    else
        rt::check(false, "HC_NOP available");
    run("sbi_base", [] { (void)rt::sbi_call(SBI_EXT_BASE, SBI_BASE_GET_SPEC_VERSION); });
    run("mmio_read", [] { (void)rt::read8(LSR); });
    run("mmio_write", [] { rt::write8(SCR, 0x5a); });
    first_touch();
}
