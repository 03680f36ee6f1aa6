// loongarch64 vCPU backend under LVZ (vcpu.hpp). LoongArch Reference Manual Vol. 1 v1.10 ("LA Vol.
// 1") for the basic CSRs and exceptions; the virtualization extension as Linux's
// arch/loongarch/include/asm/loongarch.h and kvm/ name its CSRs (lvz_csr.hpp); exit codes as
// measured on the LVZ QEMU (../shared/platform-notes.md, loongarch64).
#include "vcpu.hpp"
#include "abi/hypercall.hpp"
#include "abi/smccc.hpp"
#include "abi/vm_package.hpp"
#include "arch_stage2.hpp"
#include "arch_vcpu.hpp"
#include "kernel/log.hpp"
#include "kernel/percpu.hpp"
#include "lvz.hpp"
#include "lvz_board.hpp"
#include "lvz_irq.hpp"

extern "C" void cxv_la_guest_run(arch::GuestContext* ctx); // guest_entry.S

namespace arch {
namespace {

using namespace lvz;

// Guest CSR access from the host (GCSRRD/GCSRWR/GCSRXCHG, LVZ), by compile-time number.
template <u32 N> u64 gcsr_read() {
    u64 v;
    asm volatile("gcsrrd %0, %1" : "=r"(v) : "i"(N) : "memory");
    return v;
}
template <u32 N> void gcsr_write(u64 v) { asm volatile("gcsrwr %0, %1" : "+r"(v) : "i"(N) : "memory"); }
template <u32 N> void gcsr_xchg(u64 value, u64 mask) {
    asm volatile("gcsrxchg %0, %1, %2" : "+r"(value) : "r"(mask), "i"(N) : "memory");
}
// The whole GUEST_CSRS list, in its order.
template <usize I = 0> void gcsr_save_all(u64* out) {
    if constexpr (I < GUEST_CSR_COUNT) {
        out[I] = gcsr_read<GUEST_CSRS[I]>();
        gcsr_save_all<I + 1>(out);
    }
}
template <usize I = 0> void gcsr_restore_all(const u64* in) {
    if constexpr (I < GUEST_CSR_COUNT) {
        gcsr_write<GUEST_CSRS[I]>(in[I]);
        gcsr_restore_all<I + 1>(in);
    }
}
constexpr usize IDX_CRMD = guest_csr_index(GCSR_CRMD), IDX_PRMD = guest_csr_index(GCSR_PRMD),
                IDX_ECFG = guest_csr_index(GCSR_ECFG), IDX_ESTAT = guest_csr_index(GCSR_ESTAT),
                IDX_ERA = guest_csr_index(GCSR_ERA), IDX_BADV = guest_csr_index(GCSR_BADV),
                IDX_EENTRY = guest_csr_index(GCSR_EENTRY), IDX_CPUID = guest_csr_index(GCSR_CPUID);
static_assert(IDX_CPUID < GUEST_CSR_COUNT && IDX_EENTRY < GUEST_CSR_COUNT && IDX_BADV < GUEST_CSR_COUNT);

constexpr u32 ECODE_ADE = 0x8, ECODE_INE = 0xD;

// Host-mode CSR numbering (the one switch, lvz_csr.hpp), decided on the boot core, and why VMs
// cannot run if the per-core check failed.
CsrNumbering g_numbering = CsrNumbering::Manual;
const char* g_lvz_problem = nullptr;

// GPA-table generations (arch_stage2.hpp Stage2Tlb), per VM id, and per core the generation it
// last invalidated for; the vCPU last loaded on each core (its guest's TLB entries carry the VM's
// GID, shared by all vCPUs of the VM: a switch between them invalidates).
constexpr u32 VM_SLOTS = 64;
static_assert(vm_package::MAX_VMS < VM_SLOTS);
u32 g_gpa_generation[VM_SLOTS];
u32 g_core_generation[MAX_CPUS][VM_SLOTS];
const Vcpu* g_last_vcpu[MAX_CPUS];

// Each VM's IPI blocks, one per vCPU (lvz_board.hpp), and which of its vCPUs have run since their
// reset: an IPI to one that has not, with a start address in its mail buffer 0, starts it.
constexpr u32 MAX_VM_VCPUS = 32;
IpiCore g_ipi[VM_SLOTS][MAX_VM_VCPUS];
u32 g_ipi_started[VM_SLOTS];

// What the guest's CPUCFG shows (LA Vol. 1 2.2.10.5): the host's, word 2 as guest_cpucfg2 has it
// (fp_context.hpp: FP/LSX/LASX as far as cxvisor switches them, no LVZ, no LBT).
u64 guest_cpucfg(u64 word) {
    if (word > 0x14) return 0; // words the manual does not define read as 0
    u32 v = la::cpucfg(u32(word));
    if (word == 2) v = guest_cpucfg2(v);
    return v;
}

// How wide the FP/vector registers cxvisor switches are (fp_context.hpp), decided on the boot core.
FpWidth g_fp_width = FpWidth::None;

} // namespace

void Stage2Tlb::invalidate_all() {
    __atomic_fetch_add(&g_gpa_generation[vmid % VM_SLOTS], 1, __ATOMIC_ACQ_REL);
    invalidate_local();
}

// Which GTLBC number keeps a written TGID: the manual's 0x15, or the LVZ QEMU's 0x54. Runs before
// any guest, in two instructions with no TLB refill between them (the TGID would tag it).
static bool gtlbc_keeps(CsrNumbering n) {
    const u64 probe = gtlbc_value(1, 0);
    u64 got;
    if (n == CsrNumbering::Manual) {
        la::csr_write<0x15>(probe);
        got = la::csr_read<0x15>();
        la::csr_write<0x15>(0);
    } else {
        la::csr_write<0x54>(probe);
        got = la::csr_read<0x54>();
        la::csr_write<0x54>(0);
    }
    return (got & (0xFFull << 16 | GTLBC_USE_TGID)) == (probe & (0xFFull << 16 | GTLBC_USE_TGID));
}

void virt_cpu_init() {
    if (!(la::cpucfg(2) & CPUCFG2_LVZ)) return; // VMs are refused with that reason (vcpu_backend_missing)
    const bool manual = gtlbc_keeps(CsrNumbering::Manual), fork = !manual && gtlbc_keeps(CsrNumbering::QemuLvzFork);
    if (!manual && !fork) {
        g_lvz_problem = "loongarch64: GTLBC keeps no TGID at 0x15 (the manual's number) or 0x54 (the LVZ QEMU's): "
                        "cannot tag guest TLB entries";
        return;
    }
    const CsrNumbering n = manual ? CsrNumbering::Manual : CsrNumbering::QemuLvzFork;
    if (this_cpu().id == 0) g_numbering = n;
    else if (n != g_numbering) g_lvz_problem = "loongarch64: the cores disagree on the GTLBC CSR number";
    // The FP/vector units the guests get: enabled for the host (its save/restore uses them; on
    // hardware, they also let the guest's instructions run under the guest's own EUEN).
    const FpWidth w = fp_width(la::cpucfg(2));
    if (this_cpu().id == 0) g_fp_width = w;
    else if (w != g_fp_width)
        g_lvz_problem = "loongarch64: the cores disagree on the FP/LSX/LASX units (CPUCFG2)";
    la::csr_write<0x2>(host_euen(w)); // EUEN
    // No guest runs and no interrupt is injected until a vCPU enters; the guest CSRs must be
    // reachable from the host (a value written with GCSRWR reads back).
    la::csr_write<0x50>(0); // GSTAT
    la::csr_write<0x52>(0); // GINTC
    gcsr_write<0x37>(0x5A5A'0000'0000'A5A5ull); // guest SAVE7
    if (gcsr_read<0x37>() != 0x5A5A'0000'0000'A5A5ull)
        g_lvz_problem = "loongarch64: GCSRWR/GCSRRD do not reach the guest CSRs (a written guest SAVE7 does not read back)";
    gcsr_write<0x37>(0);
}

const char* vcpu_backend_missing() {
    if (const char* r = vcpu_missing_reason(la::cpucfg(2))) return r;
    return g_lvz_problem;
}

void Vcpu::init(u32 id, u32 vcpu_count, u64 vmid) {
    m_id = id;
    m_vcpu_count = vcpu_count < MAX_VM_VCPUS ? vcpu_count : MAX_VM_VCPUS;
    m_vmid = vmid;
    // The VM's GID is its id (unique among live VMs, never 0: GID 0 is cxvisor's own entries).
    m_ctx.gstat = gstat_for_entry(u32(vmid));
    m_ctx.gtlbc = gtlbc_value(u32(vmid), 0);
    m_ctx.fork_csrs = g_numbering == CsrNumbering::QemuLvzFork;
}

// Architectural reset as the guest board's boot convention has it (abi/hypercall.hpp CPU_ON): the
// PC at the entry, a0 = the vCPU id, a1 = the argument; the guest CSRs as after a reset (LA Vol. 1
// 6.1: CRMD.DA = 1, PLV0, interrupts off, everything else 0), CPUID = the vCPU id.
void Vcpu::reset(u64 entry, u64 arg) {
    for (u64& r : m_ctx.r) r = 0;
    m_ctx.r[4] = m_id;
    m_ctx.r[5] = arg;
    m_ctx.era = entry;
    for (u64& c : m_gcsr) c = 0;
    m_gcsr[IDX_CRMD] = la::CRMD_DA;
    m_gcsr[IDX_CPUID] = m_id;
    m_fp.clear(); // FP/vector registers as after a reset: zero, nothing of a previous life's values
    // Off the core, its previous life's CSRs (a running timer among them) may still be in the core
    // it left: the next load() must write these back even if it comes back there.
    if (!m_loaded) m_csrs_changed = true;
    m_timer = {};
    m_timer_due = 0;
    g_ipi[m_vmid % VM_SLOTS][m_id % MAX_VM_VCPUS] = {};
    m_ipi_presented = false;
    __atomic_fetch_and(&g_ipi_started[m_vmid % VM_SLOTS], ~(1u << (m_id % MAX_VM_VCPUS)), __ATOMIC_ACQ_REL);
    if (m_loaded) {
        cxv_la_fp_restore(m_fp.get(), unsigned(g_fp_width));
        gcsr_restore_all(m_gcsr);
        gcsr_write<GCSR_TCFG>(0);
        gcsr_write<GCSR_TICLR>(1);
        present_hwi(0);
    }
}

void Vcpu::load() {
    const usize core = this_cpu().id;
    m_tlb_generation = __atomic_load_n(&g_gpa_generation[m_vmid % VM_SLOTS], __ATOMIC_ACQUIRE);
    g_core_generation[core][m_vmid % VM_SLOTS] = m_tlb_generation;
    m_loaded = true;
    // The FP/vector registers, always: cheap next to an entry, and independent of what else this
    // core still holds of the vCPU (fp_context.hpp: why eagerly).
    cxv_la_fp_restore(m_fp.get(), unsigned(g_fp_width));
    // Back on the core it left, which no other vCPU used meanwhile: the guest CSRs there are still
    // its own, its timer ran on in the core (and raises its own interrupt, as no restart can on the
    // LVZ QEMU: lvz_csr.hpp GuestTimer).
    if (g_last_vcpu[core] == this && m_last_core == core && !m_csrs_changed) return;
    // The guest's own TLB entries carry the VM's GID and nothing else of this vCPU: after another
    // vCPU ran here, or when this one comes from another core (whose guest-side invalidations did
    // not reach this one), they go.
    Stage2Tlb::invalidate_local();
    g_last_vcpu[core] = this;
    m_last_core = core;
    m_csrs_changed = false;
    m_ipi_presented = (m_gcsr[IDX_ESTAT] & IS_IPI) != 0;
    gcsr_restore_all(m_gcsr);
    present_hwi(hwi_lines()); // GINTC is the core's: this vCPU's lines now
    la::csr_write<0x53>(m_gcntc); // GCNTC: the guest's counter = the host's + GCNTC
    gcsr_write<GCSR_TICLR>(1);    // the previous vCPU's timer interrupt, if it left one
    const TimerRestore t = timer_restore(m_timer, m_put_at ? counter() - m_put_at : 0);
    gcsr_write<GCSR_TCFG>(t.tcfg);
    if (t.raise) {
        gcsr_xchg<GCSR_ESTAT>(IS_TI, IS_TI);
        m_timer_due = 0;
    }
}

// The guest CSRs are copied out (wake_deadline and interrupt_pending read them; the next load()
// on another core, or after another vCPU, writes them back), but left in the core: the timer keeps
// running there until another vCPU's load() replaces it.
void Vcpu::put() {
    cxv_la_fp_save(m_fp.get(), unsigned(g_fp_width));
    gcsr_save_all(m_gcsr);
    m_timer = timer_save(gcsr_read<GCSR_TCFG>(), gcsr_read<GCSR_TVAL>(), (m_gcsr[IDX_ESTAT] & IS_TI) != 0);
    m_put_at = counter();
    m_timer_due = (m_timer.tcfg & TCFG_EN) && !(m_timer.tcfg & TCFG_PERIODIC) ? m_put_at + m_timer.remaining : 0;
    m_loaded = false;
}

ExitReason Vcpu::run() {
    // A GPA mapping removed or weakened on another core since this core last invalidated for the
    // VM (arch_stage2.hpp).
    const usize core = this_cpu().id;
    const u32 gen = __atomic_load_n(&g_gpa_generation[m_vmid % VM_SLOTS], __ATOMIC_ACQUIRE);
    if (g_core_generation[core][m_vmid % VM_SLOTS] != gen) {
        Stage2Tlb::invalidate_local();
        la::ibar();
        g_core_generation[core][m_vmid % VM_SLOTS] = gen;
    }
    // An enabled IPI vector pending in this vCPU's IPI block is the guest's IPI interrupt
    // (ESTAT.IS[12]; it stays raised until the guest clears the status, as on the board).
    const u32 me = 1u << (m_id % MAX_VM_VCPUS);
    if (!(__atomic_load_n(&g_ipi_started[m_vmid % VM_SLOTS], __ATOMIC_ACQUIRE) & me))
        __atomic_fetch_or(&g_ipi_started[m_vmid % VM_SLOTS], me, __ATOMIC_ACQ_REL);
    const IpiCore& ipi = g_ipi[m_vmid % VM_SLOTS][m_id % MAX_VM_VCPUS];
    const bool ipi_pending = (__atomic_load_n(&ipi.status, __ATOMIC_ACQUIRE) & ipi.enable) != 0;
    if (ipi_pending != m_ipi_presented) { // written only on a change: most entries have no IPI
        gcsr_xchg<GCSR_ESTAT>(ipi_pending ? IS_IPI : 0, IS_IPI);
        m_ipi_presented = ipi_pending;
    }
    // A one-shot guest timer that came due while the vCPU was off the guest (halted, or another
    // vCPU ran): its interrupt is raised here as well as by the core's timer. The LVZ QEMU drops a
    // guest timer expiry that falls while the core runs the host (lvz-wfi saw ESTAT.IS[11] in 2
    // runs of 3 with one CPU); where the core's timer did raise it, this writes the same bit.
    if (m_timer_due && counter() >= m_timer_due) {
        gcsr_xchg<GCSR_ESTAT>(IS_TI, IS_TI);
        m_timer_due = 0;
    }
    // HWI0-7 from the VM's interrupt controller, through GINTC.HWIS (lvz_irq.hpp).
    const u8 hwi = hwi_lines();
    if (hwi != m_hwi_presented) present_hwi(hwi);
    cxv_la_guest_run(&m_ctx);

    m_exit = decode_exit({m_ctx.estat, m_ctx.badv, u32(m_ctx.badi), false, 0});
    ExitReason e;
    switch (m_exit.kind) {
    case lvz::ExitKind::HostInterrupt: e.kind = ::ExitKind::ExternalInterrupt; return e;
    case lvz::ExitKind::Hypercall: handle_hvcl(e); return e;
    case lvz::ExitKind::Privileged: handle_gspr(m_exit.gspr, e); return e;
    case lvz::ExitKind::GpaFault:
        if (is_ged(m_exit.gpa) && m_exit.kind_of_access != GpaAccess::Fetch && m_exit.access.ok) {
            handle_ged(e);
            return e;
        }
        e.kind = ::ExitKind::NestedPageFault;
        e.gpa = m_exit.gpa;
        e.access = m_exit.kind_of_access == GpaAccess::Fetch   ? AccessKind::Fetch
                   : m_exit.kind_of_access == GpaAccess::Write ? AccessKind::Write
                                                               : AccessKind::Read;
        e.detail = m_ctx.badi;
        return e;
    case lvz::ExitKind::Other: break;
    }
    // An exception the guest cannot cause on purpose without a cxvisor bug or a hardware quirk
    // (the guest's own exceptions go to its own EENTRY): the VM ends, cxvisor goes on.
    e.kind = ::ExitKind::Fatal;
    e.reason = "loongarch64: the guest's run ended with an exception cxvisor does not handle (ESTAT in detail; "
               "Ecode [21:16], EsubCode [30:22])";
    e.detail = m_ctx.estat;
    return e;
}

// GINTC.HWIS = the vCPU's HWI lines (lvz_irq.hpp). GINTC is a host-mode CSR of the core, so
// load() writes it for whichever vCPU takes the core.
void Vcpu::present_hwi(u8 lines) {
    la::csr_write<0x52>(gintc_inject(lines));
    m_hwi_presented = lines;
}

// HVCL (Ecode 0x17): ERA is the HVCL itself; the call returns after it. Code 0 is cxvisor's
// conduit (abi/hypercall.hpp), any other is refused.
void Vcpu::handle_hvcl(ExitReason& e) {
    m_ctx.era += 4;
    if (m_exit.hvcl_code != 0) {
        m_ctx.r[4] = u64(cxv_abi::CXV_NOT_SUPPORTED);
        return; // Nothing
    }
    e.kind = ::ExitKind::Hypercall;
    e.nr = m_ctx.r[4];
    e.detail = m_ctx.r[4];
    for (int i = 0; i < 6; ++i) e.args[i] = m_ctx.r[5 + i];
}

// A load or store on the GED page (lvz_board.hpp): the sleep register's S5 powers the VM off, the
// reset register's value resets it; anything else there reads 0 and ignores writes.
void Vcpu::handle_ged(ExitReason& e) {
    const MemAccess& m = m_exit.access;
    m_ctx.era += 4;
    if (!m.store) {
        set_gpr(m.rd, 0);
        return;
    }
    const u64 v = m.rd ? m_ctx.r[m.rd] : 0;
    switch (ged_store(m_exit.gpa, m.size, m.size < 8 ? v & ((1ull << (8 * m.size)) - 1) : v)) {
    case GedAction::PowerOff:
        e.kind = ::ExitKind::SystemDown;
        e.reason = "the GED sleep control register (S5)";
        return;
    case GedAction::Reset:
        e.kind = ::ExitKind::SystemReset;
        e.reason = "the GED reset register";
        return;
    case GedAction::None: return;
    }
}

// An IOCSR access: the IPI block is emulated (lvz_board.hpp), everything else refused.
void Vcpu::handle_iocsr(const GsprInsn& g, ExitReason& e) {
    IpiCore* cores = g_ipi[m_vmid % VM_SLOTS];
    const bool write = g.op == Gspr::IocsrWrite;
    const u64 addr = m_ctx.r[g.rj], value = g.rd ? m_ctx.r[g.rd] : 0;
    // The EIOINTC's registers of an "emulated" VM (vintc/veiointc.hpp): whatever the model does
    // not have reads 0 and ignores writes there, counted by the model.
    if (m_intc && veiointc::is_eiointc(addr)) {
        m_ctx.era += 4;
        if (!write) {
            set_gpr(g.rd, m_intc->iocsr_read(m_id, addr, g.size));
            return;
        }
        vgic::VcpuSet kick;
        m_intc->iocsr_write(m_id, addr, g.size, g.size < 8 ? value & ((1ull << (8 * g.size)) - 1) : value, kick);
        if (!kick.empty()) {
            e.kind = ::ExitKind::Kick;
            e.args[0] = kick.bits();
        }
        return;
    }
    const IocsrOutcome o = iocsr_access(cores, m_vcpu_count, m_id % MAX_VM_VCPUS, write, addr, g.size, value);
    switch (o.kind) {
    case IocsrOutcome::Kind::Done:
        if (!write) set_gpr(g.rd, o.value);
        m_ctx.era += 4;
        return;
    case IocsrOutcome::Kind::IpiSent: {
        m_ctx.era += 4;
        if (o.target == m_id) return; // this vCPU's next entry presents it
        const u32 bit = 1u << o.target;
        if (!(__atomic_load_n(&g_ipi_started[m_vmid % VM_SLOTS], __ATOMIC_ACQUIRE) & bit) && cores[o.target].mbuf[0]) {
            // A vCPU that has not run since its reset, with a start address in its mail buffer 0:
            // the board's boot protocol (the parked core jumps there), as a start of that vCPU.
            e.kind = ::ExitKind::CpuUp;
            e.args[0] = o.target, e.args[1] = cores[o.target].mbuf[0], e.args[2] = cores[o.target].mbuf[1];
            m_ipi_start = true;
            return;
        }
        e.kind = ::ExitKind::Kick;
        e.args[0] = bit;
        return;
    }
    case IocsrOutcome::Kind::Refused: break;
    }
    inject_undefined();
    e.kind = ::ExitKind::Undefined;
    e.reason = write ? "loongarch64: IOCSR write outside the VM's IPI block and EIOINTC (IOCSR address in detail)"
                     : "loongarch64: IOCSR read outside the VM's IPI block and EIOINTC (IOCSR address in detail)";
    e.detail = addr;
}

// GSPR (Ecode 0x16): a privileged instruction the guest may not execute itself.
void Vcpu::handle_gspr(const GsprInsn& g, ExitReason& e) {
    switch (g.op) {
    case Gspr::Cpucfg:
        set_gpr(g.rd, guest_cpucfg(m_ctx.r[g.rj]));
        m_ctx.era += 4;
        return;
    case Gspr::Idle: // the vCPU blocks until an interrupt it enabled is pending (wake_deadline)
        m_ctx.era += 4;
        e.kind = ::ExitKind::Halt;
        return;
    case Gspr::CsrRead:
    case Gspr::CsrWrite:
    case Gspr::CsrXchg:
        // A host-mode CSR (GSTAT, GCFG...) the guest does not have: it reads as 0 and ignores
        // writes, as an undefined CSR does (LA Vol. 1 4.2.10.1).
        set_gpr(g.rd, 0);
        m_ctx.era += 4;
        return;
    case Gspr::IocsrRead:
    case Gspr::IocsrWrite: handle_iocsr(g, e); return;
    case Gspr::Unknown: break;
    }
    inject_undefined();
    e.kind = ::ExitKind::Undefined;
    e.reason = "loongarch64: privileged instruction cxvisor does not emulate (instruction in detail)";
    e.detail = m_ctx.badi;
}

void Vcpu::deliver(u32 ecode, u32 subcode, u64 badv) {
    const u64 estat_fields = u64(ecode) << 16 | u64(subcode) << 22, estat_mask = 0x7FFFull << 16;
    if (m_loaded) {
        const u64 crmd = gcsr_read<GCSR_CRMD>();
        gcsr_write<GCSR_PRMD>(crmd & 7); // PPLV [1:0], PIE [2]
        gcsr_write<GCSR_CRMD>(crmd & ~u64(7));
        gcsr_write<GCSR_ERA>(m_ctx.era);
        gcsr_xchg<GCSR_ESTAT>(estat_fields, estat_mask);
        gcsr_write<GCSR_BADV>(badv);
        m_ctx.era = gcsr_read<GCSR_EENTRY>();
        return;
    }
    m_csrs_changed = true;
    const u64 crmd = m_gcsr[IDX_CRMD];
    m_gcsr[IDX_PRMD] = crmd & 7;
    m_gcsr[IDX_CRMD] = crmd & ~u64(7);
    m_gcsr[IDX_ERA] = m_ctx.era;
    m_gcsr[IDX_ESTAT] = (m_gcsr[IDX_ESTAT] & ~estat_mask) | estat_fields;
    m_gcsr[IDX_BADV] = badv;
    m_ctx.era = m_gcsr[IDX_EENTRY];
}

Result<MmioAccess> Vcpu::decode_mmio(ExitReason& exit, GuestMemoryReader) {
    const MemAccess& m = m_exit.access;
    exit.detail = m_ctx.badi;
    if (exit.access == AccessKind::Fetch || !m.ok) return Error::Unsupported;
    if (m.store != (exit.access == AccessKind::Write)) return Error::BadFormat;
    MmioAccess a;
    a.gpa = exit.gpa;
    a.width = u8(m.size);
    a.is_write = m.store;
    a.insn.reg = u8(m.rd);
    a.insn.sign_extend = m.sign_extend;
    return a;
}

u64 Vcpu::mmio_write_value(const MmioAccess& a) const {
    const u64 v = (a.insn.reg & 31) ? m_ctx.r[a.insn.reg & 31] : 0;
    return a.width < 8 ? v & ((1ull << (a.width * 8)) - 1) : v;
}

void Vcpu::complete_mmio(const MmioAccess& a, u64 value) {
    if (!a.is_write && a.width) {
        const u32 bits = a.width * 8;
        if (bits < 64) {
            value &= (1ull << bits) - 1;
            if (a.insn.sign_extend && (value >> (bits - 1) & 1)) value |= ~0ull << bits;
        }
        set_gpr(a.insn.reg, value);
    }
    m_ctx.era += 4; // every LoongArch instruction is 4 bytes
}

void Vcpu::set_hypercall_result(u64 r0, u64 r1, u64 r2, u64 r3) {
    m_ctx.r[4] = r0, m_ctx.r[5] = r1, m_ctx.r[6] = r2, m_ctx.r[7] = r3;
}

// A start through the IPI block (handle_iocsr) has no result register: the board's protocol has
// the starting core watch for the started one itself. A refusal (the vCPU was on already, or is
// starting) leaves the IPI pending in its status, where it sees it.
void Vcpu::set_power_result(PowerResult) { m_ipi_start = false; }
void Vcpu::set_power_state_result(CpuPowerState) {}

// LoongArch has no bus error for a load or store: the guest gets the address error it would get
// for an address nothing answers, ADEF for a fetch, ADEM otherwise (LA Vol. 1 table 7-8: Ecode 8,
// EsubCode 0/1), BADV = the address.
void Vcpu::inject_external_abort(u64 gpa, AccessKind access) { deliver(ECODE_ADE, access == AccessKind::Fetch ? 0 : 1, gpa); }

// An instruction the guest may not execute here: INE (Ecode 0xD), as on a CPU without it.
void Vcpu::inject_undefined() { deliver(ECODE_INE, 0, 0); }

u64 Vcpu::wake_deadline() const {
    const u64 ecfg = m_loaded ? gcsr_read<GCSR_ECFG>() : m_gcsr[IDX_ECFG];
    if (!(ecfg & IS_TI)) return ~0ull; // the guest's IDLE cannot end on its timer
    if (m_loaded) {
        const u64 tcfg = gcsr_read<GCSR_TCFG>();
        return (tcfg & TCFG_EN) ? counter() + gcsr_read<GCSR_TVAL>() : ~0ull;
    }
    if (!(m_timer.tcfg & TCFG_EN)) return ~0ull;
    return m_put_at + m_timer.remaining;
}

bool Vcpu::interrupt_pending() const {
    // After put(): the saved ESTAT's pending lines the guest enabled in ECFG.LIE end its IDLE (LA
    // Vol. 1 4.2.10.5), and so does its timer once its deadline has passed.
    const IpiCore& ipi = g_ipi[m_vmid % VM_SLOTS][m_id % MAX_VM_VCPUS];
    const bool ipi_pending = (__atomic_load_n(&ipi.status, __ATOMIC_ACQUIRE) & ipi.enable) != 0;
    const u64 deadline = wake_deadline();
    return wakes_from_idle(m_gcsr[IDX_ECFG], m_gcsr[IDX_ESTAT], hwi_lines(), ipi_pending, deadline != ~0ull && counter() >= deadline);
}

} // namespace arch
