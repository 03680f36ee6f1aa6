#include "mmu.hpp"
#include "arch.hpp"
#include "kernel/host_identity_map.hpp"
#include "mmu_format.hpp"

namespace arch {

namespace {

u64 g_satp;

// satp write, then SFENCE.VMA: orders the table stores before the walks that use them and
// flushes whatever the TLB held for the previous (bare) mode (Privileged Spec 20211203, 4.1.11
// "satp" and 4.2.1 "Supervisor Memory-Management Fence Instruction").
void enable(u64 satp) {
    sfence_vma_all();
    csr_write(satp, satp);
    sfence_vma_all();
}

} // namespace

Result<void> mmu_init(const HostPlatform& p, const PhysRange* extra, usize extra_count) {
    g_satp = HostSv39Format::satp(TRY(build_host_identity_map<HostSv39Format>(p, extra, extra_count, HostSv39Format::va_limit)));
    enable(g_satp);
    return {};
}

void mmu_enable_secondary() { enable(g_satp); }

// 4.1.11: "If satp is written with an unsupported MODE, the entire write has no effect; no fields in
// satp are modified" (unlike hgatp and, at V=0, possibly vsatp: QEMU 7.2 reads back any MODE of
// those). A supported MODE takes effect at once, so the probe table maps the whole lower half of the
// address space to itself with root-level leaves (4.3.1: a leaf may sit at any level, its PPN
// aligned to the leaf's size), and every instruction between the write and the restore runs
// identity-mapped. Entry i of the root maps [i * S, (i + 1) * S), S = 2^(12 + 9 * (levels - 1)), as
// far as the 56-bit physical address space goes.
u32 satp_probe_va_bits() {
    alignas(4096) static u64 root[512];
    struct Mode {
        u64 mode;
        u32 va_bits;
    };
    constexpr Mode modes[] = {{10, 57}, {9, 48}, {8, 39}}; // Sv57, Sv48, Sv39 (4.1.11 table 4.4)
    for (const Mode& m : modes) {
        const u32 shift = m.va_bits - 9; // bits under one root entry: 48, 39, 30
        for (u64 i = 0; i < 512; ++i)
            root[i] = i < 256 && (i << shift) < (u64(1) << 56)
                          ? ((i << shift) >> 12) << 10 | HostSv39Format::v | HostSv39Format::r | HostSv39Format::w |
                                HostSv39Format::x | HostSv39Format::a | HostSv39Format::d
                          : 0;
        const u64 want = m.mode << 60 | u64(root) >> 12;
        sfence_vma_all(); // the table stores before any walk
        csr_write(satp, want);
        const u64 got = csr_read(satp);
        csr_write(satp, 0);
        sfence_vma_all();
        if (got == want) return m.va_bits;
    }
    return 0;
}

} // namespace arch
