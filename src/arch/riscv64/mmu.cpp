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

} // namespace arch
