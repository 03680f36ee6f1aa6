#include "mmu.hpp"
#include "arch.hpp"
#include "kernel/host_identity_map.hpp"
#include "page_format.hpp"
#include "stage2_format.hpp"

namespace arch {

namespace {

u64 g_cr3;

// NX must be usable before a table with bit 63 set is loaded (it is reserved otherwise: APM vol.
// 2 rev. 3.42, 5.4.1 "NX"); the CR3 write flushes the boot tables' translations (5.5.2).
void enable(u64 cr3) {
    x86::wrmsr(x86::MSR_EFER, x86::rdmsr(x86::MSR_EFER) | x86::EFER_NXE);
    x86::write_cr3(cr3);
}

} // namespace

X86Paging host_paging() { return x86_paging_from_cr4(x86::read_cr4()); }

// The tables have the depth of the paging boot.S turned on; the nested tables of SVM VMs follow it
// (NptFormat: the nested walk has the host's paging mode at VMRUN).
Result<void> mmu_init(const HostPlatform& p, const PhysRange* extra, usize extra_count) {
    const X86Paging paging = host_paging();
    g_cr3 = HostX86Format::cr3(TRY(build_host_identity_map<HostX86Format>(p, extra, extra_count, paging.identity_limit(),
                                                                          paging.geometry())));
    enable(g_cr3);
    stage2_use_host_levels(paging.levels);
    return {};
}

void mmu_enable_secondary() { enable(g_cr3); }

} // namespace arch
