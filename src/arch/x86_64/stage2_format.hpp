// The stage-2 format of x86 VMs, chosen at boot with the virtualization backend: AMD's nested page
// tables (NptFormat, page_format.hpp; AMD64 APM vol. 2 rev. 3.42, 15.25) under SVM, Intel's EPT
// (EptFormat, ept_format.hpp; SDM vol. 3C 326019-067, 28.2) under VMX. Both have 512 entries a
// table, 4 KiB pages and 4 or 5 levels numbered alike, so the walker's shape is the same; only the
// entry bits differ, and each function forwards to the chosen one. The depth (g_stage2_levels) is
// chosen at boot too: NPT walks as deep as the host's own paging (mmu.cpp sets it), EPT as deep as
// the EPTP says (vmx/caps.hpp ept_levels). In a constant expression (the PageTableFormat concept's
// constexpr checks) it is the NPT format, the one QEMU's TCG runs; at run time it is what
// stage2_use_ept() set, before any VM was built (host.cpp, from the backend choice).
#pragma once
#include "ept_format.hpp"
#include "page_format.hpp"

namespace arch {

// Written once on the boot CPU before any VM exists. max_leaf: the largest EPT leaf the CPU takes
// (IA32_VMX_EPT_VPID_CAP bits 16/17, vmx/caps.hpp ept_max_leaf); NPT's 2 MiB is its format's own.
// levels: the nested tables' depth, 4 or 5 (X86Paging): the host's under SVM (stage2_use_host_levels,
// from mmu_init), the EPTP's walk length under VMX.
inline bool g_stage2_ept = false;
inline u64 g_stage2_max_leaf = ~u64(0);
inline u32 g_stage2_levels = 4;
inline void stage2_use_host_levels(u32 levels) {
    if (!g_stage2_ept) g_stage2_levels = levels; // an EPT keeps the walk length its EPTP gives
}
inline void stage2_use_ept(u64 max_leaf, u32 levels) {
    g_stage2_ept = true;
    g_stage2_max_leaf = max_leaf;
    g_stage2_levels = levels;
}

struct X86Stage2Format {
    static_assert(NptFormat::page_shift == EptFormat::page_shift && NptFormat::bits_per_level == EptFormat::bits_per_level &&
                  NptFormat::leaf_level == EptFormat::leaf_level);
    static constexpr u32 page_shift = NptFormat::page_shift;
    static constexpr u32 bits_per_level = NptFormat::bits_per_level;
    static constexpr u32 leaf_level = NptFormat::leaf_level;

    static constexpr bool ept() { return !__builtin_is_constant_evaluated() && g_stage2_ept; }
    static constexpr bool block_allowed(u32 l) { return ept() ? EptFormat::block_allowed(l) : NptFormat::block_allowed(l); }
    static constexpr u64 make_table(HostPhysAddr pa) { return ept() ? EptFormat::make_table(pa) : NptFormat::make_table(pa); }
    static constexpr u64 make_block(HostPhysAddr pa, MemFlags f) {
        return ept() ? EptFormat::make_block(pa, f) : NptFormat::make_block(pa, f);
    }
    static constexpr u64 make_page(HostPhysAddr pa, MemFlags f) {
        return ept() ? EptFormat::make_page(pa, f) : NptFormat::make_page(pa, f);
    }
    static constexpr bool is_valid(u64 e) { return ept() ? EptFormat::is_valid(e) : NptFormat::is_valid(e); }
    static constexpr bool is_table(u64 e, u32 l) { return ept() ? EptFormat::is_table(e, l) : NptFormat::is_table(e, l); }
    static constexpr bool is_block(u64 e, u32 l) { return ept() ? EptFormat::is_block(e, l) : NptFormat::is_block(e, l); }
    static constexpr HostPhysAddr address(u64 e) { return ept() ? EptFormat::address(e) : NptFormat::address(e); }
    static constexpr MemFlags flags(u64 e) { return ept() ? EptFormat::flags(e) : NptFormat::flags(e); }
};
static_assert(PageTableFormat<X86Stage2Format>);

} // namespace arch
