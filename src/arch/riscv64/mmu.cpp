#include "mmu.hpp"
#include "addrspace/page_table.hpp"
#include "arch.hpp"
#include "kernel/frames.hpp"
#include "mmu_format.hpp"
#include <new>

extern "C" char __image_start[], __text_end[], __rodata_end[];

namespace arch {

namespace {

u64 g_satp;

// Before translation is on there is nothing in any TLB to invalidate.
struct NoTlb {
    void invalidate_range(u64, u64) {}
    void invalidate_all() {}
    void after_map(u64, u64) {}
};

// satp write, then SFENCE.VMA: orders the table stores before the walks that use them and
// flushes whatever the TLB held for the previous (bare) mode (Privileged Spec 20211203, 4.1.11
// "satp" and 4.2.1 "Supervisor Memory-Management Fence Instruction").
void enable(u64 satp) {
    sfence_vma_all();
    csr_write(satp, satp);
    sfence_vma_all();
}

} // namespace

Result<void> mmu_init(const PhysRange* ram, usize ram_count, const PhysRange* devices, usize device_count) {
    for (usize i = 0; i < ram_count + device_count; ++i) {
        const PhysRange& r = i < ram_count ? ram[i] : devices[i - ram_count];
        if (r.base.value() + r.size > HostSv39Format::va_limit || r.base.value() + r.size < r.base.value())
            return Error::OutOfRange; // an identity map in Sv39 cannot reach it
    }
    auto pt = TRY((PageTable<HostSv39Format, KernelFrames>::create(g_kernel_frames, HostSv39Format::geometry())));
    NoTlb tlb;
    for (usize i = 0; i < ram_count; ++i)
        TRY(pt.map(ram[i].base.value(), ram[i].base, ram[i].size, MemFlags::Read | MemFlags::Write));
    for (usize i = 0; i < device_count; ++i) {
        const u64 base = align_down(devices[i].base.value(), FRAME_SIZE);
        const u64 size = align_up(devices[i].base.value() + devices[i].size, FRAME_SIZE) - base;
        TRY(pt.map(base, HostPhysAddr(base), size, MemFlags::Read | MemFlags::Write | MemFlags::Device));
    }
    const u64 text = u64(__image_start), text_end = u64(__text_end), ro_end = u64(__rodata_end);
    TRY(pt.protect(text, text_end - text, MemFlags::Read | MemFlags::Exec, tlb));
    TRY(pt.protect(text_end, ro_end - text_end, MemFlags::Read, tlb));
    g_satp = HostSv39Format::satp(pt.root());
    // The table lives for the life of the hypervisor: keep it from being destroyed.
    using Table = PageTable<HostSv39Format, KernelFrames>;
    alignas(Table) static char keep[sizeof(Table)];
    new (keep) Table(static_cast<Table&&>(pt));
    enable(g_satp);
    return {};
}

void mmu_enable_secondary() { enable(g_satp); }

} // namespace arch
