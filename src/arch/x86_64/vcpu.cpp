// The SVM vCPU backend (vcpu.hpp). AMD64 APM vol. 2 (publication 24593) rev. 3.42, chapter 15;
// APM vol. 3 rev. 3.36 for instructions; sections cited where each piece is set.
#include "vcpu.hpp"
#include "abi/hypercall.hpp"
#include "arch_stage2.hpp"
#include "base/format.hpp"
#include "kernel/frames.hpp"
#include "kernel/log.hpp"
#include "kernel/percpu.hpp"
#include "cpuid_view.hpp"
#include "mmio_decode.hpp"
#include "svm.hpp"
#include "vmx/probe.hpp"

extern "C" void cxv_svm_run(arch::X86Gprs* gprs, u64 vmcb_pa, u64 host_vmsave_pa);

namespace arch {

u64 g_npt_generation[NPT_GEN_SLOTS];

namespace {

using namespace svm;

// Per CPU: the host save area VMRUN keeps the host's state in (VM_HSAVE_PA, 15.30.4: software
// never touches it) and the page VMSAVE/VMLOAD keep the host's FS/GS/TR/LDTR/syscall state in
// (svm_entry.S). Static, so identity-mapped like all of cxvisor: VA == PA.
struct alignas(4096) CpuSvmPages {
    u8 hsave[4096];
    u8 host_vmsave[4096];
};
CpuSvmPages g_cpu_pages[MAX_CPUS];
// The VMCB that last ran on each CPU: another one there means its guest TLB entries are not this
// vCPU's (arch_stage2.hpp).
const Vmcb* g_last_vmcb[MAX_CPUS];

// 15.10.1 "I/O Permissions Map": one bit per port, 12 KiB (QEMU reads a 16-bit word at port / 8,
// so the third page is needed for the ports near 0xFFFF). Every port is intercepted: a VM's ports
// are all emulated. 15.11 "MSR Intercepts": two bits (read, write) per MSR in three 2 KiB ranges
// (0-0x1FFF, 0xC000_0000-0xC000_1FFF, 0xC001_0000-0xC001_1FFF), 8 KiB with the reserved rest;
// MSRs outside the ranges always exit. Shared by every VM, built once.
alignas(4096) u8 g_iopm[3 * 4096];
alignas(4096) u8 g_msrpm[2 * 4096];
bool g_maps_built;

// The MSRs the guest reads and writes directly: what VMLOAD/VMSAVE and the VMCB switch
// (15.5.2: FS/GS base, KernelGsBase, STAR/LSTAR/CSTAR/SFMASK, SYSENTER_CS/ESP/EIP) and the
// guest PAT, which nested paging keeps in the VMCB's G_PAT (15.25.8). Everything else exits.
constexpr u32 PASSTHROUGH_MSRS[] = {0x174, 0x175, 0x176, 0x277, 0xC000'0081, 0xC000'0082, 0xC000'0083,
                                    0xC000'0084, 0xC000'0100, 0xC000'0101, 0xC000'0102};

void msrpm_allow(u32 msr) {
    u32 base;
    if (msr < 0x2000) base = 0;
    else if (msr - 0xC000'0000u < 0x2000) base = 0x800, msr -= 0xC000'0000u;
    else if (msr - 0xC001'0000u < 0x2000) base = 0x1000, msr -= 0xC001'0000u;
    else return;
    const u32 bitno = msr * 2; // read bit, then write bit
    g_msrpm[base + bitno / 8] &= u8(~(3u << (bitno % 8)));
}

void build_maps() {
    if (g_maps_built) return;
    __builtin_memset(g_iopm, 0xFF, sizeof g_iopm);
    __builtin_memset(g_msrpm, 0xFF, sizeof g_msrpm);
    for (u32 m : PASSTHROUGH_MSRS) msrpm_allow(m);
    g_maps_built = true;
}

constexpr u64 CR0_PE = bit(0), CR0_ET = bit(4), CR0_NE = bit(5), CR0_PG = bit(31);
constexpr u64 EFER_SCE = bit(0), EFER_LME = bit(8), EFER_LMA = bit(10);
constexpr u64 CR4_OSFXSR = bit(9), CR4_OSXMMEXCPT = bit(10), CR4_PKE = bit(22);

// The CPU has protection keys (CPUID 7.0:ECX[3] PKU): PKRU is switched per vCPU (fpu_cpu_init).
bool g_pku;

// The XSAVE state guests are offered, decided on the boot CPU (fpu_cpu_init) before any VM exists.
xsave::Layout g_xsave;
constexpr u32 MSR_EFER = 0xC000'0080, MSR_APIC_BASE = 0x1B, MSR_TSC = 0x10;
constexpr u64 APIC_BASE_DEFAULT = 0xFEE0'0000, APIC_BASE_BSP = bit(8), APIC_BASE_ENABLE = bit(11);

inline u64 pa_of(const void* p) { return reinterpret_cast<u64>(p); } // identity-mapped

} // namespace

// CR4.OSFXSR lets FXSAVE/FXRSTOR move the XMM registers too (APM vol. 3, "FXSAVE": without it the
// image leaves them out). With XSAVE (xsave.hpp): CR4.OSXSAVE (SDM vol. 1 13.3: XSETBV, XSAVE and
// XRSTOR need it), and XCR0 = every offered component, which is cxvisor's XCR0 whenever no guest
// is loaded: put() saves and load() restores all of them whatever the guest's own XCR0, so a
// component one guest has turned off still holds its own values, never another VM's, when it
// turns it on again. cxvisor itself uses no x87/SSE/AVX (built with -mgeneral-regs-only), so none
// of this changes anything else for it.
void fpu_cpu_init() {
    if (this_cpu().id == 0) {
        const x86::CpuidRegs d0 = x86::cpuid(0xD, 0);
        g_xsave = xsave::layout_from_cpuid(x86::cpuid(1), d0, x86::cpuid(0xD, 2));
        if (g_xsave.present())
            kprint("cxvisor: x86_64: XSAVE (the CPU's XCR0 bits %lx): guests get XCR0 %lx (x87, SSE%s), %u-byte areas "
                   "switched with XSAVE/XRSTOR\n",
                   u64(d0.d) << 32 | d0.a, g_xsave.offered, (g_xsave.offered & xsave::AVX) ? ", AVX" : "",
                   g_xsave.size(g_xsave.offered));
        else
            kprint("cxvisor: x86_64: no XSAVE: guests get x87 and SSE, switched with FXSAVE/FXRSTOR\n");
        // PKRU: guests are not offered protection keys (CPUID 7 is hidden), but nothing stops one
        // from setting CR4.PKE where the CPU has them (CR4 writes are not intercepted; VMRUN and VM
        // entry accept any bit the CPU supports) and writing PKRU, which neither the VMCB nor the
        // VMCS holds and XSAVE state component 9 is not offered: without switching it, one VM's
        // PKRU would deny another VM's user-mode accesses on the same CPU. So PKRU is switched like
        // the FP state (load/put), which needs CR4.PKE on the host (RDPKRU/WRPKRU #UD without it;
        // PKRU governs only user-mode pages, and cxvisor has none).
        g_pku = x86::cpuid(7, 0).c & bit(3);
    }
    x86::write_cr4(x86::read_cr4() | CR4_OSFXSR | CR4_OSXMMEXCPT | (g_xsave.present() ? xsave::CR4_OSXSAVE : 0) |
                   (g_pku ? CR4_PKE : 0));
    if (g_xsave.present()) x86::xsetbv(0, g_xsave.offered);
}

// 15.4 "Enabling SVM", 15.30.4: EFER.SVME, then VM_HSAVE_PA; the FP set-up (fpu_cpu_init).
void virt_cpu_init() {
    if (virt_chosen().backend == VirtBackend::Vmx) return vmx_cpu_init();
    if (!svm_enable_this_cpu()) {
        if (svm_probe().present)
            kprint("cxvisor: x86_64: CPU %lu: SVM is disabled by the firmware (VM_CR.SVMDIS); EFER.SVME left clear\n",
                   this_cpu().id);
        return;
    }
    x86::wrmsr(x86::MSR_VM_HSAVE_PA, pa_of(g_cpu_pages[this_cpu().id].hsave));
    fpu_cpu_init();
    if (this_cpu().id == 0) build_maps(); // the boot CPU, before any VM exists
}

const char* vcpu_backend_missing() {
    if (virt_chosen().backend == VirtBackend::Vmx) return vmx_backend_missing();
    const SvmInfo s = svm_probe();
    if (!s.present) return "x86_64: the CPU has no AMD SVM (CPUID 8000_0001h ECX[2]): no VM can run";
    if (s.disabled) return "x86_64: SVM is disabled by the firmware (VM_CR.SVMDIS): no VM can run";
    if (!s.npt) return "x86_64: the CPU's SVM has no nested paging (CPUID 8000_000Ah EDX[0]): no VM can run";
    return nullptr;
}

void npt_kick_others() {
    const usize me = this_cpu().id;
    for (usize i = 0; i < g_cpu_count; ++i)
        if (i != me && g_percpu[i].online.load(std::memory_order_acquire)) send_ipi(g_percpu[i].hw_id);
}

const char* describe_sysreg(u64 msr, char* buf, usize size) {
    format(buf, size, "MSR %lx", msr);
    return buf;
}

Vcpu::~Vcpu() {
    for (auto& last : g_last_vmcb)
        if (last == m_vmcb) last = nullptr;
    if (m_vmcb) frames_free(HostPhysAddr(pa_of(m_vmcb)), 1);
    if (m_vmcs) vmx_forget(), frames_free(HostPhysAddr(pa_of(m_vmcs)), 1);
}

void Vcpu::init(u32 id, u32 vcpu_count, u64 vmid) {
    m_id = id;
    m_vcpu_count = vcpu_count;
    m_vmid = vmid;
    if (virt_chosen().backend == VirtBackend::Vmx) return vmx_init();
    auto page = frames_alloc(1, FRAME_SIZE);
    // The VM is being built: out of memory here cannot be reported through init's void; the VMCB
    // is checked at every entry (run) and the VM stops with a message instead.
    if (page.is_ok()) m_vmcb = reinterpret_cast<Vmcb*>(page.value().value());
}

// The boot protocol of cxvisor's x86 VMs (docs/porting.md "x86 VMs"): 32-bit flat protected mode
// with paging off, as Multiboot and Linux's 32-bit boot protocol enter a kernel: CS a 4 GiB
// 32-bit code segment, the data segments 4 GiB writable, EDI = the vCPU's index, ESI = the boot
// argument (0 when the VM has no DTB). Interrupts off, no IDT: the guest sets up its own tables
// and long mode. Segment attribute encoding: 15.5.1 / table B-2 (type, S, DPL, P in 7:0; AVL, L,
// D/B, G in 11:8).
void Vcpu::reset(u64 entry, u64 arg) {
    m_gprs = X86Gprs{};
    m_gprs.r[RDI] = m_id;
    m_gprs.r[RSI] = arg;
    u8* fpu = fpu_area();
    __builtin_memset(fpu, 0, xsave::AREA_CAPACITY);
    // FCW 0x37F and MXCSR 0x1F80: the x87 and SSE control words after FNINIT / reset (vol. 2,
    // 11.2.4 "SSE, MMX, and x87 Programming Model"; vol. 3 "FXSAVE" gives the image layout, which
    // is the XSAVE area's legacy region too). With XSAVE, the header's XSTATE_BV says x87 and SSE
    // come from the image (SDM vol. 1 13.8.1) and the rest (AVX) from the initial configuration:
    // zeros; XCOMP_BV 0 (the standard format) and the reserved header bytes 0, as XRSTOR requires.
    fpu[0] = 0x7F, fpu[1] = 0x03;
    fpu[24] = 0x80, fpu[25] = 0x1F;
    if (g_xsave.present()) fpu[xsave::HEADER_OFFSET] = u8(xsave::X87 | xsave::SSE);
    m_xcr0 = xsave::X87; // SDM vol. 1 13.3: XCR0 is 1 after reset
    m_pkru = 0;          // SDM vol. 3A 4.6.2: PKRU is 0 after reset (every key allowed)
    m_reinject = 0;
    m_msr_exit = false;
    m_halted = false;
    // The same boot protocols (guest_state.hpp): cxvisor's 32-bit entry, or real mode after a SIPI.
    if (m_use_vmx) {
        if (arg == SIPI_START_ARG) m_gprs.r[RSI] = 0; // no register carries an argument then
        return m_vmx.reset(arg == SIPI_START_ARG ? vmx::sipi_start(u8(entry >> 12)) : vmx::flat32_start(entry));
    }
    if (!m_vmcb) return;
    Vmcb& v = *m_vmcb;
    __builtin_memset(&v, 0, sizeof v);
    // Intercepts (docs/porting.md "x86_64: SVM intercepts"): 15.9-15.14.
    v.intercept1 = INTERCEPT1_INTR | INTERCEPT1_NMI | INTERCEPT1_SMI | INTERCEPT1_INIT | INTERCEPT1_CPUID |
                   INTERCEPT1_HLT | INTERCEPT1_INVLPGA | INTERCEPT1_IOIO | INTERCEPT1_MSR | INTERCEPT1_SHUTDOWN;
    // VMRUN must be intercepted (15.5.1: VMRUN fails the consistency checks otherwise).
    // XSETBV: the guest's XCR0 is checked against what cxvisor offers (xsave.hpp); VMRUN does not
    // switch XCR0, so an unchecked XSETBV would set any bit the CPU supports.
    v.intercept2 = INTERCEPT2_VMRUN | INTERCEPT2_VMMCALL | INTERCEPT2_VMLOAD | INTERCEPT2_VMSAVE |
                   INTERCEPT2_STGI | INTERCEPT2_CLGI | INTERCEPT2_SKINIT | INTERCEPT2_XSETBV;
    v.iopm_base_pa = pa_of(g_iopm);
    v.msrpm_base_pa = pa_of(g_msrpm);
    // 15.16: ASID 0 is the host's. The guest's ASID is its VM slot; TLB_CONTROL flushes make
    // sharing one between VMs harmless (arch_stage2.hpp), so it only has to be non-zero and
    // below the CPU's count.
    const u32 asids = svm_probe().asids;
    v.asid = asids > 1 ? u32(1 + m_vmid % (asids - 1)) : 1;
    v.tlb_control = TLB_CONTROL_FLUSH_ALL;
    v.v_intr = V_INTR_MASKING;
    v.np_enable = 1; // 15.25.3 "Enabling Nested Paging"
    v.n_cr3 = m_ncr3;
    v.tsc_offset = m_tsc_offset;

    const u16 code32 = 0xC9B, data32 = 0xC93; // P, DPL 0, S; code exec/read accessed, data r/w accessed; G, D/B
    v.cs = {0x08, code32, 0xFFFF'FFFF, 0};
    for (VmcbSegment* s : {&v.ds, &v.es, &v.ss, &v.fs, &v.gs}) *s = {0x10, data32, 0xFFFF'FFFF, 0};
    v.gdtr = {0, 0, 0xFFFF, 0};
    v.idtr = {0, 0, 0, 0};
    v.ldtr = {0, 0x0082, 0xFFFF, 0}; // P, type 2 LDT
    v.tr = {0, 0x008B, 0xFFFF, 0};   // P, type 11 busy 32-bit TSS
    v.cpl = 0;
    v.efer = x86::EFER_SVME; // 15.5.1: VMRUN requires it; the guest never sees it (handle_msr)
    v.cr0 = CR0_PE | CR0_ET | CR0_NE;
    v.cr4 = 0;
    v.cr3 = 0;
    v.rflags = 2; // bit 1 is reserved and reads 1 (vol. 2, 3.1.6 "RFLAGS Register")
    v.rip = entry;
    v.rsp = 0;
    v.dr7 = 0x400;
    v.dr6 = 0xFFFF'0FF0;
    v.g_pat = 0x0007'0406'0007'0406ull; // the power-on PAT (vol. 2, 7.8.2 "PAT Register")
    if (arg == SIPI_START_ARG) {
        // Started by a SIPI (vcpu.hpp SIPI_START_ARG): the state after INIT (vol. 2, 14.1.3
        // "Processor Initialization State": CR0 60000010h, real mode, segments with base 0 and
        // limit FFFFh), then CS = vector << 8 with base vector << 12 and IP 0 (Intel SDM vol. 3A
        // 8.4.4.2 / 11.6.1). No register carries an argument.
        m_gprs.r[RSI] = 0;
        v.cr0 = 0x6000'0010; // CD, NW, ET
        v.cs = {u16(entry >> 4), 0x009B, 0xFFFF, entry};
        for (VmcbSegment* s : {&v.ds, &v.es, &v.ss, &v.fs, &v.gs}) *s = {0, 0x0093, 0xFFFF, 0};
        v.tr = {0, 0x008B, 0xFFFF, 0}; // a busy 16-bit-limit TSS descriptor, as KVM's init_vmcb
        v.idtr = {0, 0, 0xFFFF, 0};    // the real-mode interrupt vector table at 0
        v.rip = 0;
    }
}

void Vcpu::set_stage2(HostPhysAddr root) {
    if (m_use_vmx) {
        if (!vmx_setup()) return; // no VMX set-up: init() recorded why, run() stops the VM with it
        const char* what = "";
        const auto eptp = vmx::ept_pointer(root.value(), vmx_setup()->ept, g_stage2_levels, false, &what);
        if (eptp.is_ok()) m_vmx.set_eptp(eptp.value());
        else m_vmx_problem = what; // run() stops the VM with it
        return;
    }
    m_ncr3 = NptFormat::ncr3(root);
    if (m_vmcb) m_vmcb->n_cr3 = m_ncr3;
}

// The guest's x87/SSE(/AVX) registers and XCR0 go into the CPU when the vCPU takes it and come
// back when it leaves: another vCPU on the same CPU must not see or change them. Neither VMRUN nor
// VM entry switches XCR0 (APM vol. 2 15.5.1 lists what VMRUN loads; SDM vol. 3C 26.3.2), so it
// stays the guest's from load() to put(): cxvisor runs with it in between and never needs its own
// (it uses no XSAVE-managed state). XRSTOR and XSAVE run under cxvisor's XCR0, all offered
// components (fpu_cpu_init says why).
void Vcpu::load() {
    if (g_xsave.present()) {
        x86::xrstor64(fpu_area(), g_xsave.offered);
        if (m_xcr0 != g_xsave.offered) x86::xsetbv(0, m_xcr0);
    } else {
        x86::fxrstor64(fpu_area());
    }
    if (g_pku) x86::wrpkru(m_pkru);
    if (m_use_vmx) vmx_load();
}
void Vcpu::put() {
    if (g_xsave.present()) {
        const u64 live = x86::xgetbv(0);
        m_xcr0 = xsave::sanitize(g_xsave, live);
        if (live != g_xsave.offered) x86::xsetbv(0, g_xsave.offered);
        x86::xsave64(fpu_area(), g_xsave.offered);
    } else {
        x86::fxsave64(fpu_area());
    }
    if (g_pku) m_pkru = x86::rdpkru();
    if (m_use_vmx) m_vmx.put();
}

u64 Vcpu::guest_xcr0_live() const { return g_xsave.present() ? xsave::sanitize(g_xsave, x86::xgetbv(0)) : xsave::X87; }

void Vcpu::handle_xsetbv(const X86Exit& x) {
    const u32 index = u32(m_gprs.r[RCX]);
    const u64 value = (m_gprs.r[RDX] & 0xFFFF'FFFF) << 32 | (m_gprs.r[RAX] & 0xFFFF'FFFF);
    switch (xsave::check_xsetbv(g_xsave, guest_cr4() & xsave::CR4_OSXSAVE, x.cpl, index, value)) {
    case xsave::XsetbvResult::Ok:
        x86::xsetbv(0, value); // the guest is loaded: its XCR0 is the CPU's (load/put)
        skip(x.insn_len);
        return;
    case xsave::XsetbvResult::Ud: return inject_exception(VEC_UD);
    case xsave::XsetbvResult::Gp: return inject_exception(VEC_GP, 0);
    }
}

ExitReason Vcpu::run() {
    // A start-up IPI the guest sent (the vLAPIC's start request), on either backend: the target is
    // started by the generic level's CpuUp before this vCPU goes on (vmm_handle_exit,
    // Vm::start_vcpu).
    if (m_intc && m_intc->start_requests()) {
        u32 target;
        u8 vector;
        if (m_intc->take_start(target, vector)) return start_request(target, vector);
    }
    if (m_use_vmx) return vmx_run();
    ExitReason e;
    if (!m_vmcb) {
        e.kind = ExitKind::Fatal;
        e.reason = "x86_64: no memory for the vCPU's VMCB";
        return e;
    }
    Vmcb& v = *m_vmcb;
    const u32 cpu = u32(this_cpu().id);
    // TLB_CONTROL (arch_stage2.hpp): flush when this CPU last ran another VMCB, when this vCPU
    // last ran elsewhere, or when the VM's nested tables lost a mapping since the last flush.
    const u64 gen = __atomic_load_n(&g_npt_generation[m_vmid % NPT_GEN_SLOTS], __ATOMIC_ACQUIRE);
    if (g_last_vmcb[cpu] != m_vmcb || m_last_cpu != cpu || gen != m_npt_seen) v.tlb_control = TLB_CONTROL_FLUSH_ALL;
    g_last_vmcb[cpu] = m_vmcb;
    m_last_cpu = cpu;
    m_npt_seen = gen;
    // Halted (HLT): the vCPU stays so until an interrupt it can take is pending (APM vol. 3
    // "HLT"). A wake-up for anything else (an interrupt while RFLAGS.IF = 0, a pause ending)
    // halts it again without entering the guest.
    if (m_halted) {
        if (!interrupt_pending()) {
            e.kind = ExitKind::Halt;
            return e;
        }
        m_halted = false;
    }
    // An event whose delivery the last exit cut short goes in again first (15.7.2 "Event
    // Injection and Intercepts": EXITINTINFO), unless something else is being injected.
    if (m_reinject && !(v.eventinj & EVENTINJ_VALID)) v.eventinj = m_reinject;
    m_reinject = 0;
    // The common entry has nothing to deliver and no window to withdraw: two loads, no call.
    if (m_intc && (m_intc->deliverable(m_id) || (v.intercept1 & INTERCEPT1_VINTR))) inject_interrupt();
    v.rax = m_gprs.r[RAX];
    v.rsp = m_gprs.r[RSP];
    v.tsc_offset = m_tsc_offset;
    v.clean = 0; // nothing is cached across VMRUNs (15.15 "VMCB State Caching")
    cxv_svm_run(&m_gprs, pa_of(m_vmcb), pa_of(g_cpu_pages[cpu].host_vmsave));
    m_gprs.r[RAX] = v.rax;
    m_gprs.r[RSP] = v.rsp;
    v.tlb_control = TLB_CONTROL_NONE;
    // EVENTINJ is cleared by a successful injection; what was cut short comes back in EXITINTINFO.
    if (v.exitintinfo & EVENTINJ_VALID) m_reinject = v.exitintinfo & ~u64(0x7FFF'F000); // reserved bits 30:12
    v.exitintinfo = 0;
    m_msr_exit = false;
    return handle(svm_decode_exit(v.exitcode, v.exitinfo1, v.exitinfo2, v.cpl));
}

// The x86 level: from the decoded exit to what the generic levels handle, or handled here.
ExitReason Vcpu::handle(const X86Exit& x) {
    ExitReason e;
    switch (x.kind) {
    case X86ExitKind::Io: {
        m_io = x.io;
        m_io_next_rip = x.next_rip;
        m_io_info = x.info;
        // The chipset's power ports (vcpu.hpp): SLP_EN in PM1a_CNT powers off, RST in the reset
        // control register resets; other values are stored nowhere (the registers' other bits
        // select sleep types and reset kinds that all mean the same here).
        if (!x.io.in && !x.io.string) {
            const u64 value = m_gprs.r[RAX] & (x.io.size == 4 ? 0xFFFF'FFFFull : x.io.size == 2 ? 0xFFFF : 0xFF);
            if (x.io.port == PORT_PM1A_CNT && x.io.size >= 2 && (value & PM1_SLP_EN)) {
                set_rip(x.next_rip);
                e.kind = ExitKind::SystemDown;
                e.reason = "ACPI PM1a_CNT SLP_EN (port 604)";
                return e;
            }
            if (x.io.port == PORT_RESET_CONTROL && x.io.size == 1 && (value & RESET_CONTROL_RST)) {
                set_rip(x.next_rip);
                e.kind = ExitKind::SystemReset;
                e.reason = "the reset control register (port cf9)";
                return e;
            }
        }
        e.kind = ExitKind::PortIo;
        e.gpa = x.io.port;
        e.access = x.io.in ? AccessKind::Read : AccessKind::Write;
        e.detail = x.info;
        return e;
    }
    case X86ExitKind::Npf:
        e.kind = ExitKind::NestedPageFault;
        e.gpa = x.gpa;
        e.access = x.npf.fetch ? AccessKind::Fetch : x.npf.write ? AccessKind::Write : AccessKind::Read;
        e.stage1_walk = x.npf.table_walk;
        e.detail = x.info;
        return e;
    case X86ExitKind::MsrRead:
    case X86ExitKind::MsrWrite:
        if (!handle_msr(x.kind == X86ExitKind::MsrWrite, e)) return e;
        skip(x.insn_len);
        return e;
    case X86ExitKind::Cpuid: {
        const u32 leaf = u32(m_gprs.r[RAX]), sub = u32(m_gprs.r[RCX]);
        const xsave::GuestXsave xs{g_xsave, guest_xcr0_live(), (guest_cr4() & xsave::CR4_OSXSAVE) != 0};
        const x86::CpuidRegs r =
            guest_cpuid(leaf, sub, x86::cpuid(leaf, sub), m_id, g_tsc_hz / 1000, m_vcpu_count, xs);
        m_gprs.r[RAX] = r.a, m_gprs.r[RBX] = r.b, m_gprs.r[RCX] = r.c, m_gprs.r[RDX] = r.d;
        skip(x.insn_len);
        return e; // Nothing
    }
    case X86ExitKind::Hlt:
        skip(x.insn_len);
        if (m_use_vmx) m_vmx.halt(); // the VMX vCPU keeps its own halt state (vmx/vcpu_core.hpp)
        else m_halted = true;
        e.kind = ExitKind::Halt;
        return e;
    case X86ExitKind::Hypercall:
        // VMMCALL executes at any CPL (APM vol. 3, "VMMCALL"); cxvisor's calls are the guest
        // kernel's, as HVC is EL1's on aarch64: from user mode (CPL > 0, 15.5.1: the CPL is the
        // VMCB's) it is #UD, as on a CPU without a hypervisor to call.
        if (x.cpl != 0) {
            inject_exception(VEC_UD);
            e.kind = ExitKind::Undefined;
            e.reason = "VMMCALL from CPL > 0";
            e.detail = x.cpl;
            return e;
        }
        // cxvisor's call ABI on x86 (src/abi/hypercall.hpp): VMMCALL with RAX = the call number,
        // "x1".."x6" in RDI, RSI, RDX, R10, R8, R9 (the SysV syscall order); results "x0".."x3"
        // in RAX, RDI, RSI, RDX.
        skip(x.insn_len);
        e.kind = ExitKind::Hypercall;
        e.nr = m_gprs.r[RAX];
        e.detail = m_gprs.r[RAX];
        e.args[0] = m_gprs.r[RDI], e.args[1] = m_gprs.r[RSI], e.args[2] = m_gprs.r[RDX];
        e.args[3] = m_gprs.r[R10], e.args[4] = m_gprs.r[R8], e.args[5] = m_gprs.r[R9];
        return e;
    case X86ExitKind::Interrupt:
        e.kind = ExitKind::ExternalInterrupt;
        return e;
    case X86ExitKind::Nmi:
        return e; // taken by the host's NMI handler at STGI (svm_entry.S)
    case X86ExitKind::IrqWindow:
        return e; // Nothing: the next entry injects (inject_interrupt)
    case X86ExitKind::Xsetbv:
        // Done, or an exception for the guest (architectural, so not reported).
        handle_xsetbv(x);
        return e;
    case X86ExitKind::NestedVirt:
        // A guest never runs SVM itself (CPUID hides it): #UD, as on a CPU without it (vol. 3,
        // VMRUN: "#UD if EFER.SVME = 0").
        inject_exception(VEC_UD);
        e.kind = ExitKind::Undefined;
        e.reason = x.insn;
        e.detail = x.code;
        return e;
    case X86ExitKind::Shutdown:
        // 15.12 "Shutdown Intercept": the VMCB's guest state is undefined now; reset() rebuilds it
        // if the VM is restarted.
        e.kind = ExitKind::Fatal;
        e.reason = "x86_64: the guest shut down (triple fault: a fault while delivering a double fault)";
        e.detail = pc();
        return e;
    case X86ExitKind::InvalidState:
        e.kind = ExitKind::Fatal;
        e.reason = "x86_64: VMRUN refused the guest state (VMEXIT_INVALID, APM vol. 2 15.5.1 consistency checks)";
        e.detail = x.code;
        return e;
    case X86ExitKind::Other:
        break;
    }
    e.kind = ExitKind::Fatal;
    e.reason = "x86_64: #VMEXIT with an exit code cxvisor does not intercept";
    e.detail = x.code;
    return e;
}

// MSRs the guest may not reach directly (the MSRPM, 15.11). True: emulated here, RIP moves on.
// False: `e` says what the generic level must do (a SysRegRead/SysRegWrite it reports, after
// which inject_undefined raises #GP, as RDMSR/WRMSR of an unimplemented MSR do: vol. 3 "RDMSR").
bool Vcpu::handle_msr(bool write, ExitReason& e) {
    const u32 msr = u32(m_gprs.r[RCX]);
    const u64 value = (m_gprs.r[RDX] & 0xFFFF'FFFF) << 32 | (m_gprs.r[RAX] & 0xFFFF'FFFF);
    auto answer = [&](u64 r) {
        m_gprs.r[RAX] = r & 0xFFFF'FFFF;
        m_gprs.r[RDX] = r >> 32;
    };
    switch (msr) {
    case MSR_EFER:
        // 3.1.7 "Extended Feature Enable Register": SCE, LME, LMA (written by the CPU), NXE. SVME
        // stays set underneath (VMRUN needs it) and is never shown; a write of any other bit is
        // #GP, as on a CPU without the feature.
        if (!write) {
            answer(guest_efer());
            return true;
        }
        if (value & ~(EFER_SCE | EFER_LME | EFER_LMA | x86::EFER_NXE)) break;
        set_guest_efer(value);
        return true;
    case MSR_APIC_BASE:
        // The local APIC at its default place, enabled, in xAPIC mode (vol. 2, 16.3.1 "Local APIC
        // Enable"); BSP for vCPU 0. The vLAPIC does not move or turn off: a write that would
        // change it is refused.
        if (!write) {
            answer(APIC_BASE_DEFAULT | APIC_BASE_ENABLE | (m_id == 0 ? APIC_BASE_BSP : 0));
            return true;
        }
        if (value == (APIC_BASE_DEFAULT | APIC_BASE_ENABLE | (m_id == 0 ? APIC_BASE_BSP : 0))) return true;
        break;
    case MSR_TSC:
        // The guest's TSC is the host's plus TSC_OFFSET (15.30.5); writing it is not supported.
        if (!write) {
            answer(x86::rdtsc() + m_tsc_offset);
            return true;
        }
        break;
    default: break;
    }
    m_msr_exit = true;
    e.kind = write ? ExitKind::SysRegWrite : ExitKind::SysRegRead;
    e.sysreg = msr;
    e.value = value;
    return false;
}

// Port I/O (ExitKind::PortIo, from the IOIO exit) and MMIO (NestedPageFault on a device: the
// instruction at RIP decoded, mmio_decode.hpp) become one MmioAccess.
Result<MmioAccess> Vcpu::decode_mmio(ExitReason& exit, GuestMemoryReader mem) {
    MmioAccess a;
    a.gpa = exit.gpa;
    if (exit.kind == ExitKind::PortIo) {
        // INS/OUTS (string) and REP forms move memory too: not emulated (15.10.2 gives only the
        // port and sizes; the buffer would have to be walked).
        if (m_io.string || m_io.rep || m_io.size == 0) {
            exit.detail = m_io_info;
            return Error::Unsupported;
        }
        a.width = m_io.size;
        a.is_write = !m_io.in;
        a.insn.op = m_io.in ? MmioInsn::Op::PortIn : MmioInsn::Op::PortOut;
        a.insn.reg = RAX;
        a.insn.dest_width = m_io.size;
        a.insn.length = u8(m_io_next_rip - pc());
        return a;
    }
    const vmx::GuestMode v = guest_mode();
    // CS.L: 64-bit code; else CS.D gives 32- or 16-bit code (vol. 2, 4.8.1 "Code-Segment
    // Descriptors"). The linear address of RIP is CS.base + RIP outside 64-bit mode.
    const bool long_code = (v.efer & EFER_LMA) && v.cs_l;
    const bool default_16 = !long_code && !v.cs_d;
    const u64 linear = long_code ? v.rip : (v.cs_base + v.rip) & 0xFFFF'FFFF;
    const GuestPaging paging{(v.cr0 & CR0_PG) != 0, (v.efer & EFER_LMA) != 0, v.cr3, (guest_cr4() & CR4_LA57) != 0};
    u8 bytes[15] = {};
    auto got = x86_fetch_instruction(paging, linear, bytes, sizeof bytes, GuestPhysRead{mem.read, mem.ctx});
    if (got.is_error()) return got.error() == Error::Unsupported ? Error::NotMapped : got.error();
    auto d = x86_decode_mov(bytes, got.value(), long_code, default_16);
    exit.detail = u64(bytes[0]) | u64(bytes[1]) << 8 | u64(bytes[2]) << 16 | u64(bytes[3]) << 24;
    if (d.is_error()) return d.error() == Error::OutOfRange ? Error::Unsupported : d.error();
    a.width = d.value().width;
    a.is_write = d.value().is_write;
    a.insn = d.value().insn;
    return a;
}

u64 Vcpu::mmio_write_value(const MmioAccess& a) const {
    if (a.insn.op == MmioInsn::Op::StoreImm) return a.insn.imm;
    const u64 r = m_gprs.r[a.insn.reg & 15];
    return a.insn.high_byte ? (r >> 8) & 0xFF : r;
}

// Loads write the register as the instruction would (APM vol. 1, 3.1.2.3 "Operand Sizes": a
// 32-bit result zero-extends to 64 bits, 8- and 16-bit results leave the rest alone).
void Vcpu::complete_mmio(const MmioAccess& a, u64 value) {
    const MmioInsn& in = a.insn;
    if (in.op == MmioInsn::Op::Load || in.op == MmioInsn::Op::LoadSx || in.op == MmioInsn::Op::PortIn) {
        if (in.op == MmioInsn::Op::LoadSx) {
            const u32 shift = 64 - 8 * a.width;
            value = u64(i64(value << shift) >> shift);
        }
        u64& r = m_gprs.r[in.reg & 15];
        if (in.high_byte) r = (r & ~u64(0xFF00)) | (value & 0xFF) << 8;
        else if (in.dest_width == 1) r = (r & ~u64(0xFF)) | (value & 0xFF);
        else if (in.dest_width == 2) r = (r & ~u64(0xFFFF)) | (value & 0xFFFF);
        else if (in.dest_width == 4) r = value & 0xFFFF'FFFF;
        else r = value;
    }
    skip(in.length);
}

void Vcpu::complete_sysreg(const ExitReason& exit, u64 value) {
    if (exit.kind == ExitKind::SysRegRead) {
        m_gprs.r[RAX] = value & 0xFFFF'FFFF;
        m_gprs.r[RDX] = value >> 32;
    }
    skip(2); // RDMSR / WRMSR
}

void Vcpu::set_hypercall_result(u64 r0, u64 r1, u64 r2, u64 r3) {
    m_gprs.r[RAX] = r0, m_gprs.r[RDI] = r1, m_gprs.r[RSI] = r2, m_gprs.r[RDX] = r3;
}

// 15.20 "Injecting Events": the exception is delivered at the next VMRUN through the guest's
// IDT, RIP unchanged (a fault: it points at the instruction that caused it).
void Vcpu::inject_exception(u8 vector, u32 error) {
    if (m_use_vmx) return m_vmx.inject_exception(vector, exception_has_error_code(vector), error);
    m_vmcb->eventinj = eventinj(vector, EventType::Exception, exception_has_error_code(vector), error);
}

// A SIPI the vLAPIC accepted for `target`: CpuUp at the start page (vector * 4 KiB) with the SIPI
// marker, so the target's reset() builds the real-mode state. The generic level answers through
// set_power_result, which has nothing to tell the guest: a SIPI has no status. A start page
// outside the VM's RAM is refused there (InvalidAddress) and the target stays off.
ExitReason Vcpu::start_request(u32 target, u8 vector) {
    ExitReason e;
    e.kind = ExitKind::CpuUp;
    e.args[0] = target;
    e.args[1] = u64(vector) << 12;
    e.args[2] = SIPI_START_ARG;
    return e;
}

// What the vLAPIC presents, delivered the SVM way (APM vol. 2 15.20 "Injecting Events", 15.21
// "Interrupts"). EVENTINJ delivers without looking at RFLAGS.IF or the interrupt shadow, so an
// external interrupt goes in only when the guest could take one (IF = 1, no shadow, nothing else
// being injected: KVM's svm_interrupt_blocked); the APIC then moves it from IRR to ISR, as the
// CPU's acknowledge cycle does. Otherwise a virtual interrupt with the VINTR intercept (15.21.4)
// asks for the exit that says the guest can now take one: V_IRQ with priority 0xF and V_IGN_TPR,
// so the guest's V_TPR does not hold it back (the vLAPIC's TPR has decided already). The window
// request is dropped at every entry and made again when still needed.
void Vcpu::inject_interrupt() {
    Vmcb& v = *m_vmcb;
    v.v_intr &= ~(V_IRQ | V_INTR_PRIO_MASK | V_IGN_TPR | V_INTR_VECTOR_MASK);
    v.intercept1 &= ~INTERCEPT1_VINTR;
    switch (irq_plan(m_intc->deliverable(m_id) != 0, v.rflags, v.interrupt_shadow, v.eventinj)) {
    case IrqPlan::Nothing: return;
    case IrqPlan::Inject:
        if (const u8 vector = m_intc->acknowledge(m_id)) v.eventinj = eventinj(vector, EventType::Intr);
        return;
    case IrqPlan::Window:
        v.v_intr |= V_IRQ | V_INTR_PRIO_MASK | V_IGN_TPR;
        v.intercept1 |= INTERCEPT1_VINTR;
        return;
    }
}

bool Vcpu::interrupt_pending() const {
    if (m_use_vmx) {
        vmx::ModelIrq<Vlapic> irq{m_intc, m_id};
        return m_vmx.interrupt_pending(irq);
    }
    return m_intc && m_vmcb && m_intc->deliverable(m_id) && (m_vmcb->rflags & RFLAGS_IF);
}

// x86 has no bus error a load or store could report: cxvisor raises #GP(0) at the instruction,
// as for an access the platform does not decode (docs/porting.md "x86 VMs").
void Vcpu::inject_external_abort(u64, AccessKind) { inject_exception(VEC_GP, 0); }

// RDMSR/WRMSR of an MSR cxvisor does not emulate: #GP(0) (vol. 3 "RDMSR"); anything else #UD.
void Vcpu::inject_undefined() { inject_exception(m_msr_exit ? VEC_GP : VEC_UD, 0); }

} // namespace arch

namespace arch {

// The backend dispatchers handle() and decode_mmio() reach the guest's state through.
u64 Vcpu::pc() const {
    if (m_use_vmx) return m_vmx.loaded() ? const_cast<vmx::HwVcpu&>(m_vmx).rip() : 0;
    return m_vmcb ? m_vmcb->rip : 0;
}
void Vcpu::skip(u64 length) {
    if (m_use_vmx) return m_vmx.skip(length);
    m_vmcb->rip += length;
    m_vmcb->interrupt_shadow &= ~u64(1);
}
void Vcpu::set_rip(u64 rip) {
    if (m_use_vmx) return m_vmx.set_rip(rip);
    m_vmcb->rip = rip;
}
// EFER as the guest sees it: SVME stays set underneath under SVM and is never shown (handle_msr).
u64 Vcpu::guest_efer() const {
    if (m_use_vmx) return const_cast<vmx::HwVcpu&>(m_vmx).efer();
    return m_vmcb->efer & ~x86::EFER_SVME;
}
void Vcpu::set_guest_efer(u64 value) {
    if (m_use_vmx) return m_vmx.set_efer(value);
    m_vmcb->efer = (value & ~EFER_LMA) | (m_vmcb->efer & EFER_LMA) | x86::EFER_SVME;
}
u64 Vcpu::guest_cr4() {
    if (m_use_vmx) return m_vmx.cr4();
    return m_vmcb->cr4;
}
vmx::GuestMode Vcpu::guest_mode() {
    if (m_use_vmx) return m_vmx.mode();
    const Vmcb& v = *m_vmcb;
    return {v.rip, v.cs.base, v.cr0, v.cr3, v.efer, (v.cs.attrib & bit(9)) != 0, (v.cs.attrib & bit(10)) != 0};
}

} // namespace arch
