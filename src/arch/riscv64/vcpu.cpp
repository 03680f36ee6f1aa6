// riscv64 vCPU backend (vcpu.hpp). RISC-V Privileged Spec 20211203, chapter 8; sections cited
// where each register is set.
#include "vcpu.hpp"
#include "abi/sbi.hpp"
#include "abi/vm_package.hpp"
#include "arch_stage2.hpp"
#include "kernel/log.hpp"
#include "kernel/percpu.hpp"
#include "mmio_decode.hpp"
#include "sbi.hpp"
#include "vcpu_rules.hpp"

extern "C" void cxv_guest_run(arch::GuestContext* ctx);
extern "C" u64 cxv_guest_fetch16(u64 gva, u64* cause);
extern "C" void cxv_fp_save(u64* area);
extern "C" void cxv_fp_restore(const u64* area);

namespace arch {
using namespace rv;
namespace {

// Requests between the vCPUs of one VM, indexed by VMID (1..MAX_VMS, vmm/main.cpp), bit i = vCPU i:
// remote fences a guest asked for (SBI RFENCE: flush the VS-stage TLB and instruction cache before
// the next entry) and software interrupts (SBI IPI: hvip.VSSIP at the next entry). The IPIs move
// to the VM's interrupt model (vPLIC send_ipi) once it is bound to riscv64 vCPUs.
constexpr u32 VM_SLOTS = 64;
static_assert(vm_package::MAX_VMS < VM_SLOTS);
u32 g_rfence_pending[VM_SLOTS];
u32 g_soft_pending[VM_SLOTS];
// HLVX.HU at `addr` as the guest's own access (8.2.1: hstatus.SPVP gives the guest's privilege;
// guest_entry.S cxv_guest_fetch16 runs it under a temporary stvec). *fault: 0, or the scause.
u64 guest_fetch16(u64 guest_hstatus, u64 addr, u64* fault) {
    const u64 saved = csr::swap<csr::hstatus>(guest_hstatus);
    const u64 v = cxv_guest_fetch16(addr, fault);
    csr::write<csr::hstatus>(saved);
    return v;
}

// Takes bit `me` of a request word: true if it was set.
bool take(u32& word, u32 me) { return (__atomic_fetch_and(&word, ~me, __ATOMIC_ACQ_REL) & me) != 0; }


} // namespace

void virt_cpu_init() {
    csr::write<csr::hedeleg>(hedeleg_for(host_has_sstc()));
    csr::write<csr::hideleg>(HIDELEG);
    csr::write<csr::hcounteren>(HCOUNTEREN);
    csr::write<csr::hvip>(0);
    // VMIDLEN; the G-stage mode was chosen on the boot hart (host_discover), and this one must have it.
    if (!stage2_cpu_probe())
        panic("cxvisor: hart %lu's hgatp does not keep MODE %s, which the boot hart chose for every VM (RISC-V "
              "Privileged Spec 20211203, 8.2.10)", this_cpu().hw_id, gstage_mode_name(g_stage2_mode));
}

void Vcpu::init(u32 id, u32 vcpu_count, u64 vmid) {
    m_id = id;
    m_vmid = vmid;
    // A hart list naming a hart the VM does not have is INVALID_PARAM (SBI v2.0, 3.1, 7.1, 8.x),
    // never a request for a vCPU that does not exist; never more than the request words hold
    // (vgic::MaxVcpus).
    m_vcpu_count = vcpu_count < vgic::MaxVcpus ? vcpu_count : vgic::MaxVcpus;
    // Sstc is decided once at boot, before any VM (host.cpp host_discover). Without it the
    // guest's timer is cxvisor's (emulated_timer_update).
    m_henvcfg = host_has_sstc() ? HENVCFG_STCE : 0;
    m_timer.callback = [](void*) {}; // its interrupt has ended the guest's run: run() sees the deadline
}

// Architectural reset for the boot convention: hart id in a0, the argument (DTB GPA) in a1,
// VS-mode with translation and interrupts off (SBI v2.0 9.1 hart_start; Linux's riscv boot
// protocol).
void Vcpu::reset(u64 entry, u64 arg) {
    m_ctx = GuestContext{};
    m_ctx.x[10] = m_id;
    m_ctx.x[11] = arg;
    m_ctx.sepc = entry;
    m_ctx.sstatus = SSTATUS_SPP | SSTATUS_FS_DIRTY; // SRET enters S (VS with SPV); FP usable
    // SPV: SRET enters V = 1; SPVP: HLVX reads with VS privilege; VTW: WFI raises a virtual
    // instruction exception so the vCPU can block; VSXL: 64-bit VS-mode (8.2.1).
    m_ctx.hstatus = HSTATUS_VSXL_64 | HSTATUS_SPV | HSTATUS_SPVP | HSTATUS_VTW;
    m_vs = VsState{};
    m_vs.vsstatus = VSSTATUS_UXL_64 | SSTATUS_FS_DIRTY; // FS Dirty: the FP registers are part of the state
    m_vs.vstimecmp = ~0ull; // no timer interrupt until the guest sets one
    m_hvip = 0;
    timer_cancel(m_timer);
    m_pending = Pending::None;
    m_idle.forget(); // an Off vCPU was put(): no wait is noted, and hstatus above has VTW
    take(g_rfence_pending[m_vmid % VM_SLOTS], 1u << (m_id & 31));
    take(g_soft_pending[m_vmid % VM_SLOTS], 1u << (m_id & 31));
}

void Vcpu::set_stage2(HostPhysAddr root) {
    m_hgatp = gstage_config(g_stage2_mode).hgatp(root, vmid_fits(m_vmid) ? m_vmid : 0);
}

void Vcpu::load() {
    csr::write<csr::vsstatus>(m_vs.vsstatus);
    csr::write<csr::vsie>(m_vs.vsie);
    csr::write<csr::vstvec>(m_vs.vstvec);
    csr::write<csr::vsscratch>(m_vs.vsscratch);
    csr::write<csr::vsepc>(m_vs.vsepc);
    csr::write<csr::vscause>(m_vs.vscause);
    csr::write<csr::vstval>(m_vs.vstval);
    csr::write<csr::vsatp>(m_vs.vsatp);
    csr::write<csr::henvcfg>(m_henvcfg);
    csr::write<csr::htimedelta>(m_htimedelta);
    csr::write<csr::hgatp>(m_hgatp);
    cxv_fp_restore(m_vs.fp);
    // TLB entries of this hart that this vCPU may not use (8.3.2): without a usable VMID every VM
    // shares VMID 0, so all G-stage and VS-stage entries of whoever ran before must go; with one,
    // entries tagged with this VM's VMID but made on this hart by another of its vCPUs (or by
    // this vCPU before a guest-local SFENCE.VMA on another hart) must go when the vCPU moved.
    const u64 hart = this_cpu().hw_id;
    if (!vmid_fits(m_vmid)) {
        hfence_gvma_all();
        hfence_vvma_all();
    } else if (hart != m_last_hart) {
        hfence_vvma_all(); // uses the VMID now in hgatp
    }
    // FENCE.I orders only the executing hart's instruction fetches after earlier stores (Unprivileged
    // Spec 20191213, 3.1 "Zifencei": "FENCE.I does not ensure that other RISC-V harts' instruction
    // fetches will observe the local hart's stores"). A guest that wrote code and ran FENCE.I on the
    // hart it last ran on has the right to fetch that code, so when cxvisor moves it to another hart
    // (whose instruction cache may hold those lines from before, e.g. from an earlier run of this
    // vCPU there) this hart fences before the guest fetches. The stores are visible here already:
    // the vCPU's hand-over between harts goes through the scheduler's locks (release on the old
    // hart, acquire here). Not testable on QEMU: TCG keeps translated code coherent with every store
    // (it invalidates translations on writes), so a test that could fail without this fence cannot be
    // written for it; a hart with a real instruction cache needs it.
    if (hart != m_last_hart) fence_i();
    m_last_hart = hart;
    m_loaded = true;
    // Without Sstc the deadline's host timer is armed on this hart by run(), before each entry.
    if (host_has_sstc()) csr::write<csr::vstimecmp>(m_vs.vstimecmp);
}

void Vcpu::put() {
    // A wait in the guest does not move with the vCPU: it executes the WFI again (trapped) when it
    // next runs, or completes it at once if an interrupt is pending by then.
    m_idle.put(m_ctx.sepc);
    m_vs.vsstatus = csr::read<csr::vsstatus>();
    m_vs.vsie = csr::read<csr::vsie>();
    m_vs.vstvec = csr::read<csr::vstvec>();
    m_vs.vsscratch = csr::read<csr::vsscratch>();
    m_vs.vsepc = csr::read<csr::vsepc>();
    m_vs.vscause = csr::read<csr::vscause>();
    m_vs.vstval = csr::read<csr::vstval>();
    m_vs.vsatp = csr::read<csr::vsatp>();
    if (host_has_sstc()) {
        m_vs.vstimecmp = csr::read<csr::vstimecmp>();
        // A compare left in the hart would keep VSTIP pending and make the host's WFI return at
        // once (KVM does the same at put).
        csr::write<csr::vstimecmp>(~0ull);
    }
    timer_cancel(m_timer); // re-armed where the vCPU loads next; while off a hart, wake_deadline covers it
    m_hvip = (m_hvip & HVIP_VSTIP) | (csr::read<csr::hvip>() & (HVIP_VSSIP | HVIP_VSEIP));
    csr::write<csr::hvip>(0);
    cxv_fp_save(m_vs.fp);
    m_loaded = false;
}

ExitReason Vcpu::run() {
    const u32 me = 1u << (m_id & 31);
    if (__atomic_load_n(&g_rfence_pending[m_vmid % VM_SLOTS], __ATOMIC_ACQUIRE) & me && take(g_rfence_pending[m_vmid % VM_SLOTS], me)) {
        hfence_vvma_all(); // SBI remote sfence.vma[_asid], conservatively whole
        fence_i();         // SBI remote fence.i
    }
    if (__atomic_load_n(&g_soft_pending[m_vmid % VM_SLOTS], __ATOMIC_ACQUIRE) & me && take(g_soft_pending[m_vmid % VM_SLOTS], me))
        m_hvip |= HVIP_VSSIP;
    // Without Sstc: VSTIP from the compare (the deadline may have passed since the last exit) and
    // the host timer at the deadline on this hart.
    if (!host_has_sstc()) emulated_timer_update();
    csr::write<csr::hvip>(m_hvip);
    m_ctx.sstatus &= ~(SSTATUS_SIE_BIT | SSTATUS_SPIE); // no host interrupt between the CSR writes and SRET
    cxv_guest_run(&m_ctx);

    ExitReason e;
    const u64 cause = m_ctx.scause;
    if (i64(cause) < 0) { // interrupt bit (4.1.9): a host interrupt arrived while the guest ran
        // A wait in the guest stays noted if the interrupt came at the WFI or right after it
        // (3.3.3: taken with sepc past the WFI): IdleWait::resume decides at the next entry.
        m_idle.host_interrupt(m_ctx.sepc);
        e.kind = ExitKind::ExternalInterrupt;
        e.detail = cause << 1 >> 1;
        return e;
    }
    m_idle.other_exit(); // the guest ran on past its WFI
    switch (cause) {
    case 10: // environment call from VS-mode: SBI (8.6.4)
        handle_ecall(e);
        return e;
    case rv::CauseInstGuestPageFault:
    case rv::CauseLoadGuestPageFault:
    case rv::CauseStoreGuestPageFault: {
        const rv::FaultGpa where =
            rv::fault_gpa(m_ctx.htval, m_ctx.stval, (m_ctx.hstatus & HSTATUS_GVA) != 0, csr::read<csr::vsatp>());
        if (!where.known) { // htval 0 under VS-stage translation (mmio_decode.hpp fault_gpa)
            e.kind = ExitKind::Fatal;
            e.reason = "riscv64: guest-page fault without its guest-physical address (htval 0) while the guest "
                       "translates; cxvisor does not walk guest page tables (guest address in detail)";
            e.detail = m_ctx.stval;
            return e;
        }
        e.kind = ExitKind::NestedPageFault;
        e.gpa = where.gpa;
        e.access = cause == rv::CauseInstGuestPageFault ? AccessKind::Fetch
                   : cause == rv::CauseLoadGuestPageFault ? AccessKind::Read
                                                          : AccessKind::Write;
        const rv::RvDecode h = rv::decode_htinst(m_ctx.htinst);
        e.stage1_walk = h.kind == rv::RvDecode::Kind::Stage1Walk;
        e.detail = m_ctx.htinst;
        return e;
    }
    case 2: // illegal instruction: not delegated only without Sstc (hedeleg_for)
    case rv::CauseVirtualInstruction: { // 8.6.1
        const u64 insn = trapped_instruction();
        // WFI from VS-mode blocks the vCPU; from VU-mode it is the illegal instruction U-mode WFI
        // is on a hart without H (Priv 20211203 3.3.3; 8.6.1 turns it into a virtual-instruction
        // exception): a guest's user program must not halt its vCPU.
        if (cause == rv::CauseVirtualInstruction && insn == INSN_WFI && (m_ctx.sstatus & SSTATUS_SPP)) {
            if (m_idle.allowed() && m_idle.begin(m_ctx.sepc, pending_now())) {
                e.kind = ExitKind::Nothing; // wait in the guest, at the WFI itself ("Waiting in the guest")
                return e;
            }
            skip(4);
            e.kind = ExitKind::Halt;
            return e;
        }
        if (!host_has_sstc() && emulate_stimecmp(insn)) {
            e.kind = ExitKind::Nothing;
            return e;
        }
        // Any other instruction VS-mode may not execute (hypervisor CSRs, HLV/HSV, HFENCE,
        // SFENCE under VTVM...): the guest sees the illegal instruction it would see on a hart
        // without H (8.6.1), with its bits in stval (4.1.9).
        redirect(2, insn);
        e.kind = ExitKind::Nothing;
        return e;
    }
    case 1: // instruction access fault
    case 5: // load access fault
    case 7: // store/AMO access fault
    case 4: // misaligned load/store the firmware did not emulate
    case 6:
        redirect(cause, m_ctx.stval);
        e.kind = ExitKind::Nothing;
        return e;
    default:
        e.kind = ExitKind::Fatal;
        e.reason = "riscv64: unexpected trap from the guest (scause in detail)";
        e.detail = cause;
        return e;
    }
}

// The instruction a virtual-instruction exception was taken on. stval should hold its bits, but
// it may be 0 (Priv 20211203, 8.6.1 and 4.1.9 allow it), and QEMU 7.2 (measured by the chaos
// guest) leaves the bits of an earlier instruction there for HLV/HSV: a WFI executed before an
// HSV made the HSV look like a WFI (the guest was halted instead of getting an illegal
// instruction). The instruction in guest memory at sepc is the truth: read with HLVX as the
// guest's own fetch; stval only if that read faults (the guest changed its mapping meanwhile).
u64 Vcpu::trapped_instruction() {
    u64 fault = 0;
    const u32 insn = fetch_instruction(&fault);
    return fault ? m_ctx.stval : insn;
}

// The instruction at sepc as the guest fetches it: HLVX.HU under the guest's SPVP, both parcels if
// it is 32 bits long (the second may lie on the next page). *fault: 0, or the fetch's scause.
u32 Vcpu::fetch_instruction(u64* fault) {
    u32 insn = u32(guest_fetch16(m_ctx.hstatus, m_ctx.sepc, fault));
    if (!*fault && rv::insn_length(u16(insn)) == 4) insn |= u32(guest_fetch16(m_ctx.hstatus, m_ctx.sepc + 2, fault)) << 16;
    return insn;
}

void Vcpu::handle_ecall(ExitReason& e) {
    const u64 (&a)[8] = *reinterpret_cast<const u64(*)[8]>(&m_ctx.x[10]);
    const rv::SbiAction act = rv::sbi_dispatch(a, m_vcpu_count);
    skip(4); // ECALL is always 4 bytes
    const bool legacy = act.conduit == rv::SbiConduit::Legacy;
    e.kind = ExitKind::Nothing;
    switch (act.kind) {
    case rv::SbiAction::Kind::Answer: answer(act.error, act.value, !legacy); return;
    case rv::SbiAction::Kind::SetTimer:
        // vstimecmp compares against the guest's time (time + htimedelta), the value the guest
        // passed (Sstc 1.0; SBI v2.0 6.1: it also clears a pending timer interrupt when the new
        // time is in the future). Without Sstc the same compare is cxvisor's.
        if (host_has_sstc()) {
            csr::write<csr::vstimecmp>(act.timer);
        } else {
            m_vs.vstimecmp = act.timer;
            emulated_timer_update();
        }
        answer(act.error, 0, !legacy);
        return;
    case rv::SbiAction::Kind::SendIpi: {
        // Each target's supervisor software interrupt (SBI v2.0 7.1): this vCPU's own at once,
        // the others' at their next entry, and they are kicked so that comes soon (a blocked
        // target wakes: interrupt_pending sees the request).
        const u32 me = 1u << (m_id & 31), others = act.targets & ~me;
        if (act.targets & me) {
            m_hvip |= HVIP_VSSIP;
            csr::set<csr::hvip>(HVIP_VSSIP);
        }
        __atomic_fetch_or(&g_soft_pending[m_vmid % VM_SLOTS], others, __ATOMIC_ACQ_REL);
        answer(cxv_abi::SBI_SUCCESS, 0, true);
        if (others) {
            e.kind = ExitKind::Kick;
            e.args[0] = others;
        }
        return;
    }
    case rv::SbiAction::Kind::RemoteFence: {
        u32& fences = g_rfence_pending[m_vmid % VM_SLOTS];
        const u32 others = act.targets & ~(1u << m_id);
        if (act.targets & (1u << m_id)) {
            hfence_vvma_all();
            fence_i();
        }
        __atomic_fetch_or(&fences, others, __ATOMIC_ACQ_REL);
        answer(cxv_abi::SBI_SUCCESS, 0, true);
        if (others) { // running targets must exit to see the request
            e.kind = ExitKind::Kick;
            e.args[0] = others;
        }
        return;
    }
    case rv::SbiAction::Kind::Exit:
        e = act.exit;
        if (act.answer_now) answer(act.error, act.value, !legacy);
        m_pending = act.conduit == rv::SbiConduit::Cxv ? Pending::Cxv
                    : legacy                            ? Pending::Legacy
                    : e.kind == ExitKind::ConsoleWrite  ? Pending::DbcnWrite
                                                        : Pending::Sbi;
        return;
    }
}

// Delivers an exception to the guest as the hardware would have, had it been delegated (the
// "Redirect" of riscv-notes §2; Privileged Spec 4.1.1 sstatus SPP/SPIE/SIE on a trap, 4.1.7-4.1.9
// sepc/scause/stval, as the VS copies vsstatus/vsepc/vscause/vstval of 8.2).
void Vcpu::redirect(u64 cause, u64 tval) {
    // sstatus.SPP at the exit: the privilege of the trapping guest code (VS or VU).
    csr::write<csr::vsstatus>(trap_vsstatus(csr::read<csr::vsstatus>(), (m_ctx.sstatus & SSTATUS_SPP) != 0));
    csr::write<csr::vscause>(cause);
    csr::write<csr::vstval>(tval);
    csr::write<csr::vsepc>(m_ctx.sepc);
    m_ctx.sepc = csr::read<csr::vstvec>() & ~3ull; // exceptions go to BASE in either vstvec mode (4.1.2)
    m_ctx.sstatus |= SSTATUS_SPP;                 // the handler runs in VS-mode
}

Result<MmioAccess> Vcpu::decode_mmio(ExitReason& exit, GuestMemoryReader) {
    if (exit.access == AccessKind::Fetch || exit.stage1_walk) return Error::Unsupported; // executing, or page tables, on a device
    rv::RvDecode d = rv::decode_htinst(m_ctx.htinst);
    if (d.kind == rv::RvDecode::Kind::Fetch) {
        // htinst is 0 (QEMU 7.2 always): read the instruction at sepc (guest_entry.S
        // cxv_guest_fetch16).
        u64 fault = 0;
        const u32 insn = fetch_instruction(&fault);
        if (fault) {
            // The guest's own mapping of its code changed since the trap. A VS-stage fault is the
            // guest's: it gets the instruction page (or access) fault its fetch would have raised.
            // A G-stage one resolves itself: the guest re-executes and its fetch faults to us.
            if (fault == 13) redirect(12, m_ctx.sepc);
            else if (fault == 5) redirect(1, m_ctx.sepc);
            MmioAccess retry{};
            retry.gpa = exit.gpa;
            retry.insn.length = 0; // complete_mmio: nothing to step over
            return retry;
        }
        exit.detail = insn;
        d = rv::decode_load_store(insn);
    }
    if (d.kind != rv::RvDecode::Kind::Access) {
        if (d.reason) kprint("cxvisor: riscv64 MMIO at %lx: %s\n", exit.gpa, d.reason);
        return Error::Unsupported;
    }
    // The trap said load or store; an instruction saying otherwise changed under us.
    if (d.access.is_write != (exit.access == AccessKind::Write)) return Error::BadFormat;
    MmioAccess a{};
    a.gpa = exit.gpa;
    a.width = d.access.width;
    a.is_write = d.access.is_write;
    a.insn.reg = d.access.reg;
    a.insn.sign_extend = d.access.sign_extend;
    a.insn.length = d.access.length;
    return a;
}

u64 Vcpu::mmio_write_value(const MmioAccess& a) const {
    u64 v = gpr(a.insn.reg); // x0 reads as zero
    if (a.width < 8) v &= (1ull << (a.width * 8)) - 1;
    return v;
}

void Vcpu::complete_mmio(const MmioAccess& a, u64 value) {
    if (!a.is_write && a.width != 0) {
        const u32 bits = a.width * 8;
        if (bits < 64) {
            value &= (1ull << bits) - 1;
            if (a.insn.sign_extend && (value >> (bits - 1) & 1)) value |= ~0ull << bits;
        }
        set_gpr(a.insn.reg, value); // a load into x0 is discarded
    }
    skip(a.insn.length);
}

void Vcpu::complete_sysreg(const ExitReason&, u64) {} // riscv64 reports no SysReg exits

void Vcpu::set_hypercall_result(u64 r0, u64 r1, u64 r2, u64 r3) {
    switch (m_pending) {
    case Pending::Cxv: // abi/sbi.hpp: x0..x3 in a0..a3
        m_ctx.x[10] = r0, m_ctx.x[11] = r1, m_ctx.x[12] = r2, m_ctx.x[13] = r3;
        break;
    case Pending::Sbi: // DBCN write_byte through HC_NR_PUTC: SBI error, value 0
        answer(i64(r0) == cxv_abi::CXV_OK ? cxv_abi::SBI_SUCCESS : cxv_abi::SBI_ERR_FAILED, 0, true);
        break;
    case Pending::DbcnWrite: // ConsoleWrite (exit.hpp): r1 bytes written, SBI v2.0 12.1 allows fewer than asked
        answer(i64(r0) == cxv_abi::CXV_OK        ? cxv_abi::SBI_SUCCESS
               : i64(r0) == cxv_abi::CXV_INVALID ? cxv_abi::SBI_ERR_INVALID_PARAM
                                                 : cxv_abi::SBI_ERR_FAILED,
               i64(r0) == cxv_abi::CXV_OK ? r1 : 0, true);
        break;
    case Pending::Legacy: m_ctx.x[10] = i64(r0) == cxv_abi::CXV_OK ? 0 : u64(-1); break;
    case Pending::None: break;
    }
    m_pending = Pending::None;
}

void Vcpu::set_power_result(PowerResult r) {
    answer(rv::sbi_power_error(r), 0, true);
    m_pending = Pending::None;
}

void Vcpu::set_power_state_result(CpuPowerState s) {
    answer(cxv_abi::SBI_SUCCESS, u64(rv::sbi_hsm_state(s)), true);
    m_pending = Pending::None;
}

void Vcpu::inject_external_abort(u64, AccessKind access) {
    // An access fault at the guest's address (stval of the guest-page fault is its virtual
    // address when hstatus.GVA says so, 8.2.1).
    const u64 tval = (m_ctx.hstatus & HSTATUS_GVA) ? m_ctx.stval : 0;
    redirect(access == AccessKind::Fetch ? 1 : access == AccessKind::Write ? 7 : 5, tval);
}

void Vcpu::inject_undefined() { redirect(2, 0); }

u64 Vcpu::wake_deadline() const {
    const u64 cmp = m_loaded && host_has_sstc() ? csr::read<csr::vstimecmp>() : m_vs.vstimecmp;
    return wake_host_time(cmp, m_htimedelta, counter());
}

// The guest's timer without Sstc (the host's harts lack it; the guest's DT still names Sstc, so
// the guest's stimecmp is emulated too): VSTIP is pending while guest time has reached the compare
// (the same rule as the hardware's, vcpu_rules.hpp guest_timer_pending), presented through
// hvip.VSTIP (8.2.3: writable by HS-mode); a host timer event at the deadline, on the hart the
// vCPU runs on, ends the guest's run so that the next entry presents it. A blocked vCPU is woken
// by the generic layer at wake_deadline().
void Vcpu::emulated_timer_update() {
    const u64 at = wake_host_time(m_vs.vstimecmp, m_htimedelta, counter());
    if (at == 0) m_hvip |= HVIP_VSTIP;
    else m_hvip &= ~HVIP_VSTIP;
    if (m_loaded && at != 0 && at != ~0ull) {
        // Armed only on this hart while loaded (put cancels it): re-arm only for a new deadline,
        // not at every entry.
        if (!m_timer.queue || m_timer.deadline != at) timer_arm(m_timer, at);
    } else {
        timer_cancel(m_timer);
    }
}

// A CSR instruction on stimecmp trapped because the hart has no Sstc (an illegal instruction
// exception; a virtual instruction one had henvcfg.STCE been 0 on a hart with Sstc, Sstc 1.0):
// emulated in VS-mode, with the Zicsr read-modify-write rules (Unprivileged 20191213, 9.1).
// From VU-mode the register does not exist for the guest either: not emulated.
bool Vcpu::emulate_stimecmp(u64 insn) {
    const CsrInsn c = decode_csr(u32(insn));
    if (!c.valid || c.csr != STIMECMP_NUMBER || !(m_ctx.sstatus & SSTATUS_SPP)) return false;
    const u64 old = m_vs.vstimecmp;
    const u64 operand = c.imm ? c.rs1 : c.rs1 ? m_ctx.x[c.rs1] : 0;
    if (c.writes()) {
        m_vs.vstimecmp = c.result(old, operand);
        emulated_timer_update();
    }
    if (c.rd) m_ctx.x[c.rd] = old;
    skip(4); // Zicsr instructions have no compressed forms
    return true;
}

void Vcpu::attach_vintc(Intc* intc, GuestPhysAddr) { m_intc = intc; }

vgic::VcpuSet Vcpu::present_interrupts() {
    // The vPLIC's notification of this vCPU's S-mode context is the guest's external interrupt
    // (8.2.3: hip.VSEIP = hvip.VSEIP | hgeip[VGEIN], no guest interrupt files here). run() writes
    // hvip from m_hvip right before SRET; a change while the guest runs kicks it out (the model
    // returns the vCPUs whose line rose, the VM IPIs them), so the next entry shows it.
    if (m_intc && m_intc->external_pending(m_id)) m_hvip |= HVIP_VSEIP;
    else m_hvip &= ~HVIP_VSEIP;
    return {};
}

vgic::VcpuSet Vcpu::collect_interrupts() {
    // The guest clears its own SSIP through sip, which writes hvip.VSSIP (8.2.3).
    m_hvip = (m_hvip & ~HVIP_VSSIP) | (csr::read<csr::hvip>() & HVIP_VSSIP);
    return {};
}

// What would end the guest's WFI (3.3.3: an interrupt pending and enabled in vsie, whatever
// vsstatus.SIE says), from the given vsie, hvip and compare.
bool Vcpu::pending_with(u64 vsie, u64 hvip, u64 vstimecmp) const {
    const bool soft = (hvip & HVIP_VSSIP) || (__atomic_load_n(&g_soft_pending[m_vmid % VM_SLOTS], __ATOMIC_ACQUIRE) >> (m_id & 31) & 1);
    if (soft && (vsie & VSIE_SSIE)) return true;
    if (m_intc && m_intc->external_pending(m_id) && (vsie & VSIE_SEIE)) return true;
    return (vsie & VSIE_STIE) && guest_timer_pending(vstimecmp, m_htimedelta, counter());
}

// Called after put(): the saved copies.
bool Vcpu::interrupt_pending() const { return pending_with(m_vs.vsie, m_hvip, m_vs.vstimecmp); }

bool Vcpu::pending_now() const {
    if (!m_loaded) return interrupt_pending();
    // Loaded: vsie and, with Sstc, vstimecmp are in the hart; the guest clears its own VSSIP
    // through sip, which writes hvip (8.2.3).
    return pending_with(csr::read<csr::vsie>(), csr::read<csr::hvip>(),
                        host_has_sstc() ? csr::read<csr::vstimecmp>() : m_vs.vstimecmp);
}

// Waiting in the guest (aarch64's design, docs/architecture.md). A WFI traps first (hstatus.VTW,
// Priv 20211203 8.2.1/8.6.1): when the vCPU may wait here and nothing is pending for it, cxvisor
// notes the WFI's address, clears VTW and re-enters the guest at the WFI itself, which now waits
// in the guest (3.3.3: until an interrupt is pending and enabled, whatever sstatus.SIE says).
// The guest's own timer (VSTIP from vstimecmp) ends that wait without an exit; anything else that
// ends it is a host interrupt that traps to HS-mode (a kick, cxvisor's timer) with sepc at or
// just past the WFI: with nothing pending for the guest the guest goes back to the WFI, so it
// never sees a wake-up it could not have had on a hart of its own; with something pending, or on
// any other exit, the wait is over and VTW is set again.
void Vcpu::set_idle_native(bool native) {
    if (native) m_ctx.hstatus &= ~HSTATUS_VTW; // cxv_guest_run writes hstatus before the SRET
    else m_ctx.hstatus |= HSTATUS_VTW;
}

} // namespace arch
