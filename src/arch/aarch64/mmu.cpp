#include "mmu.hpp"
#include "addrspace/page_table.hpp"
#include "arch_stage2.hpp"
#include "el2_format.hpp"
#include "base/string.hpp"
#include "kernel/frames.hpp"
#include "kernel/percpu.hpp"
#include "sysreg.hpp"
#include <new>

extern "C" char __image_start[], __text_end[], __rodata_end[];
extern "C" bool cxv_guarded_copy(void* dst, const volatile void* src, u64 len, u64 words); // boot.S

namespace arch {
using namespace arch;

namespace {

KernelFrames g_frames;
u64 g_ttbr0, g_tcr;

// Before the MMU is on there is nothing in any TLB to invalidate.
struct NoTlb {
    void invalidate_range(u64, u64) {}
    void invalidate_all() {}
    void after_map(u64, u64) {}
};

// The host window: slot i (CPU i's) is the 4 KiB page at g_window_va + i * 4 KiB, its level-3
// descriptor g_window_pte[i]. Invalid except during one host_window_read on CPU i.
constexpr usize MAX_IDENTITY = 32;
MmuRegion g_identity[MAX_IDENTITY]; // what the identity map covers (RAM and cxvisor's devices)
usize g_identity_count;
u64 g_window_va;
volatile u64* g_window_pte;
u64 g_pa_limit; // 1 << the CPU's physical address size

bool identity_overlaps(u64 pa, u64 size) {
    for (usize i = 0; i < g_identity_count; ++i)
        if (pa < g_identity[i].base + g_identity[i].size && g_identity[i].base < pa + size) return true;
    return false;
}

// The level-3 table that holds the descriptor of `va`, which must be mapped by a page (D8.2
// "Translation process": each level indexes 9 bits, the initial level as many as its entries).
volatile u64* leaf_table(HostPhysAddr root, const El2Config& cfg, u64 va) {
    u64 table = root.value();
    for (u32 level = cfg.start_level; level < El2Format::leaf_level; ++level) {
        const u32 shift = El2Format::page_shift + El2Format::bits_per_level * (El2Format::leaf_level - level);
        const u64 index = (va >> shift) & ((level == cfg.start_level ? cfg.root_entries : 512) - 1);
        const u64 d = reinterpret_cast<const u64*>(table)[index];
        if (!El2Format::is_table(d, level)) return nullptr;
        table = El2Format::address(d).value();
    }
    return reinterpret_cast<volatile u64*>(table);
}

// Builds the slots: maps them (so the walker creates the tables down to level 3), then clears the
// leaf descriptors, which from then on are written directly. The table is not changed through the
// walker after boot, so its view of those entries does not matter.
template <typename Table> Result<void> window_init(Table& pt, const El2Config& cfg) {
    u64 top = 0;
    for (usize i = 0; i < g_identity_count; ++i)
        if (g_identity[i].base + g_identity[i].size > top) top = g_identity[i].base + g_identity[i].size;
    constexpr u64 span = 2 * MiB; // one level-3 table: every slot's descriptor in the same table
    static_assert(MAX_CPUS * FRAME_SIZE <= span);
    const u64 va = align_up(top, span);
    if (va + span > (1ull << cfg.va_bits)) return Error::NoMemory; // no free VA above the identity map
    TRY(pt.map(va, HostPhysAddr(0), MAX_CPUS * FRAME_SIZE, MemFlags::Read));
    volatile u64* l3 = leaf_table(pt.root(), cfg, va);
    if (!l3) return Error::BadFormat; // the walker did not map pages: a cxvisor bug
    l3 += (va >> El2Format::page_shift) & 511;
    for (usize i = 0; i < MAX_CPUS; ++i) l3[i] = 0; // MMU still off: nothing cached to invalidate
    g_window_va = va;
    g_window_pte = l3;
    g_pa_limit = 1ull << parange_bits(cpu_parange());
    return {};
}

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
    g_identity_count = 0;
    for (usize i = 0; i < ram_count + device_count; ++i) {
        if (g_identity_count == MAX_IDENTITY) return Error::NoMemory;
        const MmuRegion& r = i < ram_count ? ram[i] : devices[i - ram_count];
        g_identity[g_identity_count++] = {r.base, align_up(r.size, 4096), r.device};
    }
    TRY(window_init(pt, cfg));
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
    frames_set_host_window(host_window_read);
    return {};
}

void mmu_enable_secondary() { enable(g_ttbr0, g_tcr); }

Result<void> host_window_read(HostPhysAddr pa, void* dst, usize len, bool device) {
    const u64 a = pa.value();
    if (len == 0) return {};
    if (!g_window_pte) return Error::Denied;
    if (a + len < a || a + len > g_pa_limit) return Error::OutOfRange; // would be an address size fault
    if (identity_overlaps(a, len)) return Error::Denied;
    // Device registers may have read side effects: only the whole aligned words the guest itself
    // could read (an instruction fetch reads one).
    if (device && ((a | len) & 3)) return Error::Denied;
    const usize slot = cpu_id();
    volatile u64* pte = g_window_pte + slot;
    const u64 va = g_window_va + slot * FRAME_SIZE;
    u8* out = static_cast<u8*>(dst);
    for (u64 at = a; at < a + len;) {
        const u64 off = at & (FRAME_SIZE - 1);
        const usize chunk = usize(a + len - at < FRAME_SIZE - off ? a + len - at : FRAME_SIZE - off);
        // Read-only and execute-never (El2Format: no Write, no Exec), with the guest's memory type.
        *pte = El2Format::make_page(HostPhysAddr(at - off), device ? MemFlags::Read | MemFlags::Device : MemFlags::Read);
        dsb_ishst(); // the descriptor reaches the walker before the access (D8 "TLB maintenance")
        isb();
        // What lies behind a carve-out or device page is the configuration's business: a hole in
        // the physical address map answers with a synchronous external abort, which the guarded
        // copy turns into an error instead of a fault at EL2 (boot.S cur_spx_sync).
        const bool aborted = cxv_guarded_copy(out, reinterpret_cast<const volatile void*>(va + off), chunk, device);
        // Break: invalid again, and no CPU keeps the translation (C5.5 TLBI VAE2IS; a TLB may
        // have cached it on another CPU through a speculative walk).
        *pte = 0;
        dsb_ishst();
        asm volatile("tlbi vae2is, %0" ::"r"(va >> 12) : "memory");
        dsb_ish();
        isb();
        if (aborted) return Error::Aborted;
        out += chunk;
        at += chunk;
    }
    return {};
}

} // namespace arch
