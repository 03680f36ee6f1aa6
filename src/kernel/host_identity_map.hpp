// cxvisor's own translation as most ISAs build it: an identity map (VA == PA) in the ISA's
// stage-1 format, built with the generic walker: RAM RW, the device windows cxvisor drives (and
// `extra` ones, e.g. the host disk's) RW as device memory, the image's text RX and rodata R (W^X).
// Built before translation is on, so there is no TLB to maintain; the table lives for the life of
// cxvisor. The ISA loads the returned root into its translation register (riscv64: satp; x86_64:
// CR3). `va_limit`: the first address the format cannot identity-map (a range beyond it fails with
// OutOfRange). `geo`: the tree's shape where the ISA chooses it at boot (x86_64: 4- or 5-level
// paging), else the format's own.
#pragma once
#include "addrspace/page_table.hpp"
#include "kernel/frames.hpp"
#include "kernel/host_platform.hpp"
#include <new>

extern "C" char __image_start[], __text_end[], __rodata_end[];

template <typename Format>
Result<HostPhysAddr> build_host_identity_map(const HostPlatform& p, const PhysRange* extra, usize extra_count,
                                             u64 va_limit, TableGeometry geo = Format::geometry()) {
    PhysRange dev[HostPlatform::kMaxDevices + 4];
    usize ndev = 0;
    for (u32 i = 0; i < p.device_count; ++i) dev[ndev++] = p.devices[i];
    for (usize i = 0; i < extra_count && ndev < sizeof dev / sizeof dev[0]; ++i) dev[ndev++] = extra[i];
    for (usize i = 0; i < p.ram_count + ndev; ++i) {
        const PhysRange& r = i < p.ram_count ? p.ram[i] : dev[i - p.ram_count];
        if (r.base.value() + r.size > va_limit || r.base.value() + r.size < r.base.value())
            return Error::OutOfRange; // the identity map cannot reach it
    }
    using Table = PageTable<Format, KernelFrames>;
    auto pt = TRY(Table::create(g_kernel_frames, geo));
    struct NoTlb { // nothing of the new tree can be cached yet
        void invalidate_range(u64, u64) {}
        void invalidate_all() {}
        void after_map(u64, u64) {}
    } tlb;
    for (u32 i = 0; i < p.ram_count; ++i)
        TRY(pt.map(p.ram[i].base.value(), p.ram[i].base, p.ram[i].size, MemFlags::Read | MemFlags::Write));
    for (usize i = 0; i < ndev; ++i) {
        const u64 base = align_down(dev[i].base.value(), FRAME_SIZE);
        const u64 size = align_up(dev[i].base.value() + dev[i].size, FRAME_SIZE) - base;
        TRY(pt.map(base, HostPhysAddr(base), size, MemFlags::Read | MemFlags::Write | MemFlags::Device));
    }
    const u64 text = u64(__image_start), text_end = u64(__text_end), ro_end = u64(__rodata_end);
    TRY(pt.protect(text, text_end - text, MemFlags::Read | MemFlags::Exec, tlb));
    TRY(pt.protect(text_end, ro_end - text_end, MemFlags::Read, tlb));
    const HostPhysAddr root = pt.root();
    alignas(Table) static char keep[sizeof(Table)]; // never destroyed: cxvisor runs on it
    new (keep) Table(static_cast<Table&&>(pt));
    return root;
}
