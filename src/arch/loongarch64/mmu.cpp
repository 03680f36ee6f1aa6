// cxvisor's own translation on loongarch64: paging (CRMD.PG) over an identity map in the LoongArch
// page-table format (page_format.hpp), built by the generic helper (text RX, rodata R, RAM and
// data RW + NX, device windows strongly-ordered uncached), walked by cxvisor's TLB refill handler
// (boot.S). Until then the core runs in direct address mode (CRMD.DA, reset state), where
// everything is readable, writable and executable: W^X holds from host_mmu_init on.
// LoongArch Reference Manual Vol. 1 v1.10: 5.2 (DA and PG modes), 5.4 (page walk: PWCL/PWCH,
// LDDIR/LDPTE), 7.5 (PGDL, STLBPS, TLBREHI), 4.2.5.5 INVTLB.
#include "mmu.hpp"
#include "arch.hpp"
#include "kernel/host_identity_map.hpp"
#include "page_format.hpp"

namespace arch {

namespace {

u64 g_root;

void enable() {
    using F = HostLaFormat;
    la::csr_write<la::CSR_PWCL>(F::pwcl);
    la::csr_write<la::CSR_PWCH>(F::pwch);
    la::csr_write<la::CSR_PGDL>(g_root);
    la::csr_write<la::CSR_PGDH>(g_root); // nothing in the upper half: its walks end at page 0 too
    la::csr_write<la::CSR_STLBPS>(F::page_shift);     // STLB page size: 4 KiB
    la::csr_write<la::CSR_TLBREHI>(F::page_shift);    // TLBREHI.PS for refills of 4 KiB pages
    la::csr_write<la::CSR_ASID>(0);
    asm volatile("invtlb 0, $zero, $zero" ::: "memory"); // op 0: every entry (4.2.5.5)
    // PG = 1, DA = 0 (5.2: the only legal paged combination). The next fetch already translates:
    // the code runs at its identity-mapped address.
    la::csr_xchg<la::CSR_CRMD>(la::CRMD_PG, la::CRMD_PG | la::CRMD_DA);
}

} // namespace

Result<void> mmu_init(const HostPlatform& p, const PhysRange* extra, usize extra_count) {
    g_root = TRY(build_host_identity_map<HostLaFormat>(p, extra, extra_count, HostLaFormat::va_limit)).value();
    enable();
    return {};
}

void mmu_enable_secondary() { enable(); }

} // namespace arch
