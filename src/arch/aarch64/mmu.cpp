#include "mmu.hpp"
#include "addrspace/page_table.hpp"
#include "arch_stage2.hpp"
#include "el2_format.hpp"
#include "kernel/frames.hpp"
#include "sysreg.hpp"
#include <new>

extern "C" char __image_start[], __text_end[], __rodata_end[];

namespace arch {
using namespace arch;

namespace {

KernelFrames g_frames;
u64 g_ttbr0, g_tcr;

// Before the MMU is on there is nothing in any TLB to invalidate.
struct NoTlb {
    void invalidate_range(u64, u64) {}
    void invalidate_all() {}
};

void enable(u64 ttbr0, u64 tcr) {
    write_sysreg(mair_el2, mair_el2_value());
    write_sysreg(tcr_el2, tcr);
    write_sysreg(ttbr0_el2, ttbr0);
    isb();
    asm volatile("tlbi alle2" ::: "memory");
    dsb_sy();
    isb();
    // SCTLR_EL2 (D13.2.119, non-VHE): RES1 bits 29:28, 23:22, 18, 16, 11, 5:4; M (MMU), C (data
    // cache), SA (stack alignment check), I (instruction cache), WXN (writable => never executable).
    u64 sctlr = 0x30C50830ull | bit(0) | bit(2) | bit(3) | bit(12) | bit(19);
    write_sysreg(sctlr_el2, sctlr);
    isb();
}

} // namespace

Result<void> mmu_init(const MmuRegion* ram, usize ram_count, const MmuRegion* devices, usize device_count) {
    El2Config cfg = el2_config(cpu_parange());
    auto pt = TRY((PageTable<El2Format, KernelFrames>::create(g_frames, cfg.geometry())));
    NoTlb tlb;
    for (usize i = 0; i < ram_count; ++i)
        TRY(pt.map(ram[i].base, HostPhysAddr(ram[i].base), ram[i].size, MemFlags::Read | MemFlags::Write));
    for (usize i = 0; i < device_count; ++i)
        TRY(pt.map(devices[i].base, HostPhysAddr(devices[i].base), align_up(devices[i].size, 4096),
                   MemFlags::Read | MemFlags::Write | MemFlags::Device));
    u64 text = u64(__image_start), text_end = u64(__text_end), ro_end = u64(__rodata_end);
    TRY(pt.protect(text, text_end - text, MemFlags::Read | MemFlags::Exec, tlb));
    TRY(pt.protect(text_end, ro_end - text_end, MemFlags::Read, tlb));
    g_ttbr0 = pt.root().value();
    g_tcr = cfg.tcr;
    // The table lives for the life of the hypervisor: keep it from being destroyed.
    using Table = PageTable<El2Format, KernelFrames>;
    alignas(Table) static char keep[sizeof(Table)];
    new (keep) Table(static_cast<Table&&>(pt));
    enable(g_ttbr0, g_tcr);
    return {};
}

void mmu_enable_secondary() { enable(g_ttbr0, g_tcr); }

} // namespace arch
