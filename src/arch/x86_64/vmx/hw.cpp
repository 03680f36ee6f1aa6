// VMX on the running CPU (hw.hpp): the machine-wide set-up and VMXON per CPU. Intel SDM vol. 3C,
// Order Number 326019-067: 23.7 "Enabling and Entering VMX Operation", 23.8 "Restrictions on VMX
// Operation", 24.11.5 "VMXON Region", 24.5 "Host-State Area" with the checks of 26.2.2-26.2.4.
#include "hw.hpp"
#include "../cpu.hpp"
#include "../percpu_x86.hpp"
#include "bitmaps.hpp"
#include "kernel/percpu.hpp"
#include "probe.hpp"

namespace arch::vmx {

namespace {

// Static, so identity-mapped like the rest of cxvisor (VA == PA) and write-back (A.1 bits 53:50).
alignas(4096) u8 g_vmxon_region[MAX_CPUS][4096];
bool g_vmx_on[MAX_CPUS];
alignas(4096) u8 g_io_a[BITMAP_BYTES];
alignas(4096) u8 g_io_b[BITMAP_BYTES];
alignas(4096) u8 g_msr_bitmap[BITMAP_BYTES];
VmxSetup g_setup;
bool g_setup_done;

// MSRs the guest reaches directly because the VMCS switches them at every entry and exit: the
// SYSENTER MSRs and FS/GS base (guest-state fields, 27.3.1 and 26.3.2.1), IA32_PAT (the save/load
// controls vmx_choose_controls requires). Every other MSR exits and is emulated or refused
// (vcpu.cpp handle_msr). EFER exits too: its LMA and the "IA-32e mode guest" control go together.
constexpr u32 PASSTHROUGH_MSRS[] = {0x174, 0x175, 0x176, 0x277, 0xC000'0100, 0xC000'0101};

inline u64 pa_of(const void* p) { return reinterpret_cast<u64>(p); }

struct [[gnu::packed]] DescriptorRegister {
    u16 limit;
    u64 base;
};

} // namespace

HostState HwVmcs::host_state() {
    HostState h;
    asm volatile("mov %%cr0, %0" : "=r"(h.cr0));
    asm volatile("mov %%cr3, %0" : "=r"(h.cr3));
    asm volatile("mov %%cr4, %0" : "=r"(h.cr4));
    // 26.2.3: selector RPL and TI must be 0, CS and TR not 0 (cxvisor's GDT: code 08h, data 10h, TSS 18h).
    auto sel = [](u16 s) { return u16(s & ~7u); };
#define CXV_READ_SELECTOR(insn, field)                                                            \
    do {                                                                                          \
        u16 v;                                                                                    \
        asm volatile(insn " %0" : "=r"(v));                                                       \
        h.field = sel(v);                                                                         \
    } while (0)
    CXV_READ_SELECTOR("mov %%cs,", cs);
    CXV_READ_SELECTOR("mov %%ss,", ss);
    CXV_READ_SELECTOR("mov %%ds,", ds);
    CXV_READ_SELECTOR("mov %%es,", es);
    CXV_READ_SELECTOR("mov %%fs,", fs);
    CXV_READ_SELECTOR("mov %%gs,", gs);
    CXV_READ_SELECTOR("str", tr);
#undef CXV_READ_SELECTOR
    h.fs_base = x86::rdmsr(0xC000'0100);
    h.gs_base = x86::rdmsr(x86::MSR_GS_BASE);
    h.tr_base = pa_of(&this_x86_cpu().tss);
    DescriptorRegister g{}, i{};
    asm volatile("sgdt %0" : "=m"(g));
    asm volatile("sidt %0" : "=m"(i));
    h.gdtr_base = g.base;
    h.idtr_base = i.base;
    h.sysenter_cs = x86::rdmsr(0x174);
    h.sysenter_esp = x86::rdmsr(0x175);
    h.sysenter_eip = x86::rdmsr(0x176);
    h.efer = x86::rdmsr(x86::MSR_EFER);
    h.pat = x86::rdmsr(0x277);
    h.rip = pa_of(cxv_vmx_exit);
    return h;
}

const VmxSetup* vmx_setup_get() { return g_setup_done ? &g_setup : nullptr; }

Result<void> vmx_setup(const char** what) {
    VmxSetup s;
    s.msrs = read_msrs();
    s.controls = TRY(vmx_choose_controls(s.msrs, what));
    s.ept = decode_ept_vpid(s.msrs.ept_vpid_cap);
    s.invept = TRY(choose_invept(s.ept, what));
    s.vpid = choose_vpid(s.controls.vpid, s.ept);
    io_bitmap_fill(g_io_a, g_io_b, true); // every port is emulated (25.1.3)
    msr_bitmap_fill(g_msr_bitmap, true);
    for (u32 m : PASSTHROUGH_MSRS) TRY(msr_bitmap_set(g_msr_bitmap, m, false, false));
    s.io_bitmap_a = pa_of(g_io_a);
    s.io_bitmap_b = pa_of(g_io_b);
    s.msr_bitmap = pa_of(g_msr_bitmap);
    g_setup = s;
    g_setup_done = true;
    return {};
}

Result<void> vmx_enable_this_cpu(const VirtChoice& choice, const char** what) {
    if (!g_setup_done) {
        *what = "the VMX set-up failed on the boot CPU";
        return Error::Unsupported;
    }
    const u32 cpu = u32(this_cpu().id);
    // 23.7: VMXON needs IA32_FEATURE_CONTROL locked with "VMX outside SMX"; select.cpp decided that
    // the firmware left it unlocked (or locked it that way).
    u64 fc = x86::rdmsr(MSR_FEATURE_CONTROL);
    if (!(fc & FEATURE_CONTROL_LOCK) && choice.lock_feature_control) {
        fc |= FEATURE_CONTROL_LOCK | FEATURE_CONTROL_VMX_OUTSIDE_SMX;
        x86::wrmsr(MSR_FEATURE_CONTROL, fc);
    }
    if (!(fc & FEATURE_CONTROL_LOCK) || !(fc & FEATURE_CONTROL_VMX_OUTSIDE_SMX)) {
        *what = "IA32_FEATURE_CONTROL does not allow VMX outside SMX (23.7)";
        return Error::Unsupported;
    }
    // 23.8: CR0 and CR4 must obey IA32_VMX_CR0/CR4_FIXED0/1 (CR4.VMXE is FIXED0's bit 13).
    const VmxMsrs& m = g_setup.msrs;
    u64 cr0, cr4;
    asm volatile("mov %%cr0, %0" : "=r"(cr0));
    asm volatile("mov %%cr4, %0" : "=r"(cr4));
    asm volatile("mov %0, %%cr0" ::"r"(fix_cr(cr0, m.cr0_fixed0, m.cr0_fixed1)));
    asm volatile("mov %0, %%cr4" ::"r"(fix_cr(cr4 | CR4_VMXE, m.cr4_fixed0, m.cr4_fixed1)));
    u8* region = g_vmxon_region[cpu];
    TRY(prepare_region(region, sizeof g_vmxon_region[cpu], pa_of(region), decode_basic(m.basic), what));
    const u64 pa = pa_of(region);
    bool fail;
    asm volatile("vmxon %1; setna %0" : "=q"(fail) : "m"(pa) : "cc", "memory");
    if (fail) {
        *what = "VMXON failed (30.3 VMXON: region, revision identifier or CR0/CR4 refused)";
        return Error::Unsupported;
    }
    g_vmx_on[cpu] = true;
    return {};
}

bool vmx_on_this_cpu() { return g_vmx_on[this_cpu().id]; }

} // namespace arch::vmx
