// The VMX vCPU (Intel SDM vol. 3C, Order Number 326019-067, May 2018; later revisions renumber the
// VMX chapters by one): one VMCS per vCPU, its controls, host state and guest state, VM entry and
// the way back to the x86 level of exit handling (../x86_exit.hpp), which the SVM backend shares.
// The logic is a template over the hardware access `Hw` (VMREAD/VMWRITE/VMCLEAR/VMPTRLD/INVEPT/
// INVVPID and the entry instruction), so the host unit tests run it against a fake VMCS
// (tests/unit/arch/x86_vmx_vcpu_test.cpp) and the image against the CPU (hw.hpp).
//
// Hw provides:
//   u64 vmread(VmcsField); void vmwrite(VmcsField, u64);
//   bool vmclear(u64 pa); bool vmptrld(u64 pa);        false: VMfail (30.3 "VMCLEAR", "VMPTRLD")
//   EntryStatus enter(u64* gprs, bool launched);       VMLAUNCH or VMRESUME (30.3), GPRs in and out
//   HostState host_state();                            the calling CPU's host-state values (26.2.2-26.2.4)
//   void invept(InveptType, u64 eptp); void invvpid(InvvpidType, u16 vpid);
//   void host_nmi();                                   hand an NMI that caused an exit to the host's handler
//
// Interrupts (run's `irq`, an IrqSource: the vCPU's vLAPIC, vintc/vlapic.hpp): the model says what
// (deliverable(), acknowledge()), this backend says how, right before each entry, with the decision
// the SVM backend makes too (../irq_plan.hpp): the VM-entry interruption information (24.8.3,
// 26.5.1) when the guest can take an external interrupt (RFLAGS.IF = 1, no blocking by STI or
// MOV SS, 24.4.2 Table 24-3, nothing else being injected), else the primary processor-based control
// "interrupt-window exiting" (24.6.2 Table 24-6), whose exit (25.2, reason 7) comes as soon as the
// guest can take one; the control is cleared again at the first entry that no longer needs it. HLT
// exits (HLT exiting) and cxvisor does the waiting: the guest's activity state stays active
// (24.4.2), and a halted vCPU is not entered until it has an interrupt it can take (halt()).
//
// VMCS life cycle (24.1 "Overview", 24.11.3 "Initializing a VMCS", 24.11.1 "Software Use of Virtual-
// Machine Control Structures"): a VMCS may be active on one CPU at a time, and its data may live in
// that CPU until VMCLEAR writes it back. The generic layer brackets every run of a vCPU on a CPU with
// load() and put() (vcpu/vcpu_concept.hpp), so load() makes the VMCS current there (VMPTRLD) and put()
// clears it (VMCLEAR): the VMCS is never active on a CPU that is not running the vCPU, and a vCPU that
// continues on another CPU needs no cross-CPU call. After VMCLEAR the launch state is "clear", so the
// next entry is a VMLAUNCH (30.3 "VMLAUNCH/VMRESUME"), and on a CPU other than the last one the
// per-CPU host state (TR, GDTR, GS base ...) is written again. reset() and set_eptp() come while the
// vCPU does not run, possibly on another CPU: they only record what the next load() writes.
#pragma once
#include "base/result.hpp"
#include "base/types.hpp"
#include "caps.hpp"
#include "exit.hpp"
#include "guest_check.hpp"
#include "guest_state.hpp"
#include "../irq_plan.hpp"
#include "vmcs.hpp"
#include <concepts>

namespace arch::vmx {

// What a VM entry instruction did (30.2 "Conventions": VMfailInvalid sets CF, there is no current
// VMCS; VMfailValid sets ZF and leaves a number in VM_INSTRUCTION_ERROR).
enum class EntryStatus : u8 { Exited, FailInvalid, FailValid };

// Host-state area values (24.5, checked by 26.2.3): the calling CPU's. RIP is the exit path's label,
// RSP is written by the entry code itself (it is the stack at the moment of entry).
struct HostState {
    u64 cr0 = 0, cr3 = 0, cr4 = 0;
    u16 cs = 0, ss = 0, ds = 0, es = 0, fs = 0, gs = 0, tr = 0;
    u64 fs_base = 0, gs_base = 0, tr_base = 0, gdtr_base = 0, idtr_base = 0;
    u64 sysenter_cs = 0, sysenter_esp = 0, sysenter_eip = 0;
    u64 efer = 0, pat = 0;
    u64 rip = 0;
};

// Shared by every vCPU on the machine: decided once at boot from the capability MSRs (caps.hpp).
struct VmxSetup {
    VmxMsrs msrs;
    VmxControls controls;
    EptVpidCaps ept;
    InveptType invept = InveptType::AllContext;
    VpidPlan vpid;
    u64 io_bitmap_a = 0, io_bitmap_b = 0, msr_bitmap = 0; // physical addresses of the 4 KiB bitmaps
};

// The general-purpose registers by encoding number (RAX 0 ... R15 15), as X86Gprs holds them.
inline constexpr unsigned GPR_RAX = 0, GPR_RCX = 1, GPR_RDX = 2, GPR_RSP = 4;

// The guest state the shared x86 handlers read (MMIO decoding, MSR emulation, messages).
struct GuestMode {
    u64 rip, cs_base, cr0, cr3, efer;
    bool cs_l, cs_d; // CS.L (64-bit code) and CS.D/B (32-bit default operand size)
};

// One entry and what came of it: an exit decoded to the x86 level, or a failed entry with its message.
struct VmxRunResult {
    bool failed = false;       // the entry did not happen (VMfail) or the exit is a VM-entry failure
    const char* message = nullptr; // failed: one line saying why
    u64 detail = 0;            // failed: the VM-instruction error number or the exit reason
    bool handled = false;      // the backend dealt with the exit itself (a CR0/CR4 write): enter again
    bool halted = false;       // not entered: the vCPU is in HLT with no interrupt it can take
    X86Exit exit;              // !failed && !handled
};

inline constexpr u64 CR4_VMXE = bit(13);
inline constexpr u64 EFER_LMA = bit(10);
// 24.4.2 Table 24-3: the interruptibility-state bits that block an external interrupt for one
// instruction (bit 0 blocking by STI, bit 1 blocking by MOV SS).
inline constexpr u64 BLOCKING_BY_STI = bit(0), BLOCKING_BY_MOV_SS = bit(1);

// Where run() takes the vCPU's interrupts from: the vector its interrupt controller presents now
// (0: none) and the CPU's acknowledge (the vector moves to in-service; 0 if nothing is
// deliverable any more).
template <typename T>
concept IrqSource = requires(T& s) {
    { s.deliverable() } -> std::same_as<u8>;
    { s.acknowledge() } -> std::same_as<u8>;
};
// One vCPU's view of a VM's interrupt-controller model (the vLAPIC: deliverable(vcpu),
// acknowledge(vcpu)); a null model is a VM without one (interrupt_mode "no_irq").
template <typename Model> struct ModelIrq {
    Model* model;
    u32 vcpu;
    u8 deliverable() const { return model ? model->deliverable(vcpu) : 0; }
    u8 acknowledge() { return model ? model->acknowledge(vcpu) : 0; }
};
struct NoIrq {
    u8 deliverable() const { return 0; }
    u8 acknowledge() { return 0; }
};
static_assert(IrqSource<NoIrq>);

// The CPU access VmxVcpu is written against (the list at the top of this file): the image's HwVmcs
// (hw.hpp) and the tests' fake are both checked against it.
template <typename T>
concept VmxHw = requires(T& h, VmcsField f, u64 v, u64* gprs, bool launched, InveptType it, InvvpidType vt, u16 vpid) {
    { h.vmread(f) } -> std::same_as<u64>;
    { h.vmwrite(f, v) } -> std::same_as<void>;
    { h.vmclear(v) } -> std::same_as<bool>;
    { h.vmptrld(v) } -> std::same_as<bool>;
    { h.enter(gprs, launched) } -> std::same_as<EntryStatus>;
    { h.host_state() } -> std::same_as<HostState>;
    { h.invept(it, v) } -> std::same_as<void>;
    { h.invvpid(vt, vpid) } -> std::same_as<void>;
    { h.host_nmi() } -> std::same_as<void>;
};

template <VmxHw Hw> class VmxVcpu {
public:
    Hw& hw() { return m_hw; }
    const Hw& hw() const { return m_hw; }

    // vmcs_pa: a 4 KiB region already prepared (prepare_region: revision id, zeroed). vpid: the VM's
    // (non-zero; used only when setup.controls.vpid).
    void init(const VmxSetup* setup, u64 vmcs_pa, u16 vpid) {
        m_setup = setup;
        m_vmcs_pa = vmcs_pa;
        m_vpid = vpid;
    }
    // The start point of the next run (guest_state.hpp), written at the next load().
    void reset(GuestStartPoint p) {
        m_start = p;
        m_reset_pending = true;
        m_reinject = 0;
        m_pending_inject = 0;
        m_halted = false;
        m_guest_if = false; // the start states have RFLAGS = 2 (guest_state.hpp)
    }
    void set_eptp(u64 eptp) {
        m_eptp = eptp;
        m_eptp_dirty = true;
    }
    void set_tsc_offset(u64 offset) { m_tsc_offset = offset; }

    // On the CPU that runs the vCPU, before the first entry of a slice.
    Result<void> load(u32 cpu) {
        if (!m_hw.vmptrld(m_vmcs_pa)) {
            m_error = "VMPTRLD refused the vCPU's VMCS (30.3 VMPTRLD: bad address or revision identifier)";
            return Error::Unsupported;
        }
        if (!m_controls_written) write_controls();
        if (cpu != m_host_cpu) {
            write_host_state();
            m_host_cpu = cpu;
            m_flush_linear = true; // this CPU may hold this VPID's translations from another vCPU
        }
        if (m_eptp_dirty) {
            m_hw.vmwrite(VmcsField::EPT_POINTER, m_eptp);
            m_eptp_dirty = false;
        }
        if (m_reset_pending) {
            write_start_state(
                [this](VmcsField f, u64 v) { m_hw.vmwrite(f, v); }, m_setup->msrs, m_start);
            m_hw.vmwrite(VmcsField::ENTRY_CONTROLS, m_setup->controls.entry & ~entry_ctl::IA32E_MODE_GUEST);
            m_hw.vmwrite(VmcsField::ENTRY_INTERRUPTION_INFO, 0);
            m_ia32e = false;
            m_reset_pending = false;
        }
        m_loaded = true;
        return {};
    }
    // Leaving the CPU: the VMCS goes back to memory, not active anywhere (24.11.3).
    void put() {
        if (!m_loaded) return;
        m_hw.vmclear(m_vmcs_pa);
        m_launched = false;
        m_loaded = false;
    }

    // One VM entry with gprs[16] (RSP comes from and goes to GUEST_RSP: the VMCS holds it, 24.4.1).
    // `flush_ept`: the VM's EPT lost a mapping since this vCPU last flushed, or the vCPU comes from
    // another CPU (arch_stage2.hpp): INVEPT of its EPTP (28.3.3.1). `flush_vpid`: this CPU last ran
    // another VMCS, whose vCPU may share the VPID (one per VM) with other page tables: INVVPID.
    // `irq`: the vCPU's interrupts (IrqSource), taken right before the entry (deliver_interrupt).
    // A halted vCPU (halt()) is entered only when `irq` has an interrupt the guest's RFLAGS.IF (as
    // the HLT exit left it) lets in; otherwise r.halted and nothing is entered or flushed (the
    // flushes asked for are owed to the next entry).
    template <IrqSource Irq> VmxRunResult run(u64* gprs, bool flush_ept, bool flush_vpid, Irq& irq) {
        VmxRunResult r;
        if (!m_loaded) {
            r.failed = true;
            r.message = m_error ? m_error : "x86_64: VMX vCPU run without its VMCS loaded";
            return r;
        }
        m_flush_ept |= flush_ept;
        m_flush_linear |= flush_vpid;
        if (m_halted) {
            if (!interrupt_pending(irq)) {
                r.halted = true;
                return r;
            }
            m_halted = false;
        }
        if (m_flush_ept) m_hw.invept(m_setup->invept, m_eptp);
        if (m_flush_linear && m_setup->controls.vpid) m_hw.invvpid(m_setup->vpid.flush, m_vpid);
        m_flush_ept = m_flush_linear = false;
        // An event whose delivery the last exit interrupted goes in first (27.2.3 "Information for
        // VM Exits During Event Delivery", 26.5 "Event Injection"), unless something is injected now.
        if (!m_pending_inject && m_reinject) {
            m_pending_inject = m_reinject;
            m_pending_error = m_reinject_error;
            m_pending_length = m_reinject_length;
        }
        m_reinject = 0;
        // The common entry has nothing to deliver and no window to withdraw: no VMREAD.
        if (m_window || irq.deliverable()) deliver_interrupt(irq);
        if (m_pending_inject) {
            m_hw.vmwrite(VmcsField::ENTRY_INTERRUPTION_INFO, m_pending_inject);
            if (m_pending_inject & bit(11)) m_hw.vmwrite(VmcsField::ENTRY_EXCEPTION_ERROR_CODE, m_pending_error);
            const u8 type = (m_pending_inject >> 8) & 7;
            if (type == EVENT_SW_INTERRUPT || type == EVENT_PRIV_SW_EXCEPTION || type == EVENT_SW_EXCEPTION)
                m_hw.vmwrite(VmcsField::ENTRY_INSTRUCTION_LENGTH, m_pending_length);
        }
        // "IA-32e mode guest" must equal the guest's EFER.LMA at entry (26.3.1.1). The guest turns
        // long mode on itself (EFER.LME, then CR0.PG: it owns PG with unrestricted guest), so the
        // control follows the EFER the last exit saved (27.3.1, "save IA32_EFER").
        const bool ia32e = m_hw.vmread(VmcsField::GUEST_IA32_EFER) & EFER_LMA;
        if (ia32e != m_ia32e) {
            m_ia32e = ia32e;
            m_hw.vmwrite(VmcsField::ENTRY_CONTROLS, (m_setup->controls.entry & ~entry_ctl::IA32E_MODE_GUEST) |
                                                         (ia32e ? entry_ctl::IA32E_MODE_GUEST : 0));
        }
        if (m_setup->controls.proc & proc::USE_TSC_OFFSETTING) m_hw.vmwrite(VmcsField::TSC_OFFSET, m_tsc_offset);
        m_hw.vmwrite(VmcsField::GUEST_RSP, gprs[GPR_RSP]);
        const EntryStatus s = m_hw.enter(gprs, m_launched);
        m_pending_inject = 0;
        if (s == EntryStatus::FailInvalid) {
            r.failed = true;
            r.message = "x86_64: VM entry failed with VMfailInvalid (no current VMCS, 30.2)";
            return r;
        }
        if (s == EntryStatus::FailValid) {
            // 30.4 "VM Instruction Error Numbers": the only report of a refused control or host field.
            const u32 n = u32(m_hw.vmread(VmcsField::VM_INSTRUCTION_ERROR));
            r.failed = true;
            r.detail = n;
            r.message = vm_entry_error_message(n);
            return r;
        }
        m_launched = true;
        gprs[GPR_RSP] = m_hw.vmread(VmcsField::GUEST_RSP);
        // Kept for interrupt_pending(), which the generic level asks after put() (no VMREAD then).
        m_guest_if = m_hw.vmread(VmcsField::GUEST_RFLAGS) & RFLAGS_IF;
        const VmxExit x = decode_exit(read_exit_fields([this](VmcsField f) { return m_hw.vmread(f); }, gprs[GPR_RAX],
                                                       gprs[GPR_RCX], gprs[GPR_RDX]));
        if (x.idt_vectoring.valid) {
            m_reinject = encode_event(x.idt_vectoring.vector, x.idt_vectoring.type, x.idt_vectoring.has_error);
            m_reinject_error = x.idt_vectoring.error;
            const u8 t = x.idt_vectoring.type;
            m_reinject_length = (t == EVENT_SW_INTERRUPT || t == EVENT_PRIV_SW_EXCEPTION || t == EVENT_SW_EXCEPTION)
                                    ? u32(m_hw.vmread(VmcsField::EXIT_INSTRUCTION_LENGTH))
                                    : 0;
        }
        if (x.kind == VmxExitKind::EntryFailGuestState) {
            // 26.3.1: reason 33 says only "invalid guest state"; name the rule where we can.
            const char* rule =
                check_guest_state([this](VmcsField f) { return m_hw.vmread(f); }, m_setup->msrs);
            r.failed = true;
            r.detail = x.basic;
            r.message = rule ? rule : "x86_64: VM entry refused the guest state (exit reason 33, 26.3.1) for a rule "
                                      "cxvisor's check does not cover";
            return r;
        }
        // 24.9.2: an NMI that caused an exit is not delivered to the host; hand it over.
        if (x.kind == VmxExitKind::ExceptionOrNmi && x.event.type == EVENT_NMI) m_hw.host_nmi();
        const u64 rip = m_hw.vmread(VmcsField::GUEST_RIP);
        const u8 cpl = u8(ar::dpl(u32(m_hw.vmread(VmcsField::GUEST_SS_ACCESS_RIGHTS))));
        if (x.kind == VmxExitKind::CrAccess && handle_cr(x, gprs)) {
            r.handled = true;
            return r;
        }
        r.exit = to_x86_exit(x, rip, cpl);
        return r;
    }

    // A VM without an interrupt controller.
    VmxRunResult run(u64* gprs, bool flush_ept, bool flush_vpid) {
        NoIrq none;
        return run(gprs, flush_ept, flush_vpid, none);
    }

    // The HLT that exited is done (skip() moved past it): the vCPU waits in cxvisor, not in the
    // guest's HLT activity state (which stays active, 24.4.2), until an interrupt it can take.
    void halt() { m_halted = true; }
    bool halted() const { return m_halted; }
    // HLT ends for an interrupt the guest would take: one masked by RFLAGS.IF = 0 does not resume
    // the processor (SDM vol. 2A "HLT-Halt"). RFLAGS as the last exit saved it: the guest has not
    // run since, and the VMCS need not be current (the generic level asks after put()).
    template <IrqSource Irq> bool interrupt_pending(Irq& irq) const { return m_guest_if && irq.deliverable(); }

    // The instruction that exited is done: RIP past it (27.2.5 gives its length) and the STI/MOV-SS
    // blocking it may have caused is over (24.4.2 interruptibility state bits 1:0).
    void skip(u64 length) {
        m_hw.vmwrite(VmcsField::GUEST_RIP, m_hw.vmread(VmcsField::GUEST_RIP) + length);
        const u64 irq = m_hw.vmread(VmcsField::GUEST_INTERRUPTIBILITY_STATE);
        if (irq & 3) m_hw.vmwrite(VmcsField::GUEST_INTERRUPTIBILITY_STATE, irq & ~u64(3));
    }
    u64 rip() { return m_hw.vmread(VmcsField::GUEST_RIP); }
    void set_rip(u64 v) { m_hw.vmwrite(VmcsField::GUEST_RIP, v); }

    // A hardware exception at the next entry (26.5.1 "Vectored-Event Injection", Table 24-13 format).
    // In real mode (CR0.PE clear, unrestricted guest) no error code may be delivered (26.2.1.3).
    void inject_exception(u8 vector, bool has_error, u32 error) {
        const bool pe = m_hw.vmread(VmcsField::GUEST_CR0) & CR0_PE;
        m_pending_inject = encode_event(vector, EVENT_HW_EXCEPTION, has_error && pe);
        m_pending_error = error;
        m_pending_length = 0;
        m_reinject = 0; // the new exception replaces the interrupted delivery (it restarts at RIP)
    }
    u32 pending_injection() const { return m_pending_inject; }

    GuestMode mode() {
        const u64 cs = m_hw.vmread(VmcsField::GUEST_CS_ACCESS_RIGHTS);
        return {m_hw.vmread(VmcsField::GUEST_RIP), m_hw.vmread(VmcsField::GUEST_CS_BASE),
                m_hw.vmread(VmcsField::GUEST_CR0), m_hw.vmread(VmcsField::GUEST_CR3),
                m_hw.vmread(VmcsField::GUEST_IA32_EFER), (cs & bit(13)) != 0, (cs & bit(14)) != 0};
    }
    u64 efer() { return m_hw.vmread(VmcsField::GUEST_IA32_EFER); }
    // CR4 as the guest runs it: the bits the guest owns (OSXSAVE among them, where the CPU allows
    // it: guest_state.hpp guest_cr4) are the real register's.
    u64 cr4() { return m_hw.vmread(VmcsField::GUEST_CR4); }
    // An emulated WRMSR to EFER: LMA stays the CPU's, and "IA-32e mode guest" follows it.
    void set_efer(u64 v) {
        const u64 lma = m_hw.vmread(VmcsField::GUEST_IA32_EFER) & EFER_LMA;
        m_hw.vmwrite(VmcsField::GUEST_IA32_EFER, (v & ~EFER_LMA) | lma);
    }

    bool loaded() const { return m_loaded; }
    bool launched() const { return m_launched; }
    u32 host_cpu() const { return m_host_cpu; }

    // VM_INSTRUCTION_ERROR as one line (a static string per number: the messages outlive the call).
    static const char* vm_entry_error_message(u32 n) {
        switch (n) {
        case 7: return "x86_64: VM entry refused: VM-instruction error 7, invalid control field(s) (26.2.1)";
        case 8: return "x86_64: VM entry refused: VM-instruction error 8, invalid host-state field(s) (26.2.2-26.2.4)";
        case 4: return "x86_64: VMLAUNCH refused: VM-instruction error 4, VMCS not clear (30.3)";
        case 5: return "x86_64: VMRESUME refused: VM-instruction error 5, VMCS not launched (30.3)";
        case 26: return "x86_64: VM entry refused: VM-instruction error 26, events blocked by MOV SS (26.1)";
        default: return "x86_64: VM entry refused (VMfailValid): VM-instruction error number in the detail (30.4)";
        }
    }

private:
    // What the interrupt controller presents, delivered the VMX way (the plan of ../irq_plan.hpp).
    // VM entry refuses an external interrupt with RFLAGS.IF = 0 (26.3.1.4) or blocking by STI /
    // MOV SS (26.3.1.5), so it is injected only when the guest could take it; the APIC then moves
    // it to in-service, as the CPU's acknowledge cycle does. Otherwise interrupt-window exiting
    // asks for the exit at the first instruction boundary where the guest can (25.2); an event
    // already being injected goes first, and the window opens once its handler sets IF again.
    template <IrqSource Irq> void deliver_interrupt(Irq& irq) {
        const u64 rflags = m_hw.vmread(VmcsField::GUEST_RFLAGS);
        const u64 blocking =
            m_hw.vmread(VmcsField::GUEST_INTERRUPTIBILITY_STATE) & (BLOCKING_BY_STI | BLOCKING_BY_MOV_SS);
        switch (interrupt_plan(irq.deliverable() != 0, rflags & RFLAGS_IF, blocking, m_pending_inject & EVENT_VALID)) {
        case IrqPlan::Nothing: set_window(false); return;
        case IrqPlan::Inject:
            set_window(false);
            if (const u8 vector = irq.acknowledge()) {
                m_pending_inject = encode_event(vector, EVENT_EXTERNAL, false);
                m_pending_error = 0;
                m_pending_length = 0;
            }
            return;
        case IrqPlan::Window: set_window(true); return;
        }
    }
    // Interrupt-window exiting on or off (24.6.2); left on, every instruction with IF = 1 would exit.
    void set_window(bool on) {
        if (on == m_window) return;
        m_window = on;
        m_hw.vmwrite(VmcsField::PROC_BASED_CONTROLS, (m_setup->controls.proc & ~proc::INTERRUPT_WINDOW_EXITING) |
                                                         (on ? proc::INTERRUPT_WINDOW_EXITING : 0));
    }

    void write_controls() {
        const VmxControls& c = m_setup->controls;
        m_hw.vmwrite(VmcsField::PIN_BASED_CONTROLS, c.pin);
        // Interrupt-window exiting is required to be available (caps.cpp) but is set only while an
        // injection waits for the window: left on, every instruction with IF = 1 would exit.
        m_hw.vmwrite(VmcsField::PROC_BASED_CONTROLS, c.proc & ~proc::INTERRUPT_WINDOW_EXITING);
        m_window = false;
        m_hw.vmwrite(VmcsField::SECONDARY_PROC_BASED_CONTROLS, c.proc2);
        m_hw.vmwrite(VmcsField::EXIT_CONTROLS, c.exit);
        m_hw.vmwrite(VmcsField::ENTRY_CONTROLS, c.entry & ~entry_ctl::IA32E_MODE_GUEST);
        m_ia32e = false;
        // 24.6.3: no exception exits (the guest handles its own), so the #PF mask/match are moot.
        m_hw.vmwrite(VmcsField::EXCEPTION_BITMAP, 0);
        m_hw.vmwrite(VmcsField::PAGE_FAULT_ERROR_MASK, 0);
        m_hw.vmwrite(VmcsField::PAGE_FAULT_ERROR_MATCH, 0);
        m_hw.vmwrite(VmcsField::CR3_TARGET_COUNT, 0);
        // 24.7.2/24.8.2: no MSR lists; EFER and PAT move through their own fields.
        m_hw.vmwrite(VmcsField::EXIT_MSR_STORE_COUNT, 0);
        m_hw.vmwrite(VmcsField::EXIT_MSR_LOAD_COUNT, 0);
        m_hw.vmwrite(VmcsField::ENTRY_MSR_LOAD_COUNT, 0);
        m_hw.vmwrite(VmcsField::ENTRY_INTERRUPTION_INFO, 0);
        m_hw.vmwrite(VmcsField::IO_BITMAP_A, m_setup->io_bitmap_a);
        m_hw.vmwrite(VmcsField::IO_BITMAP_B, m_setup->io_bitmap_b);
        m_hw.vmwrite(VmcsField::MSR_BITMAP, m_setup->msr_bitmap);
        m_hw.vmwrite(VmcsField::TSC_OFFSET, m_tsc_offset);
        // 26.2.1.1: with "enable VPID" the VPID must not be 0 (the host's).
        if (c.vpid) m_hw.vmwrite(VmcsField::VPID, m_vpid);
        m_hw.vmwrite(VmcsField::EPT_POINTER, m_eptp);
        m_eptp_dirty = false;
        m_controls_written = true;
    }

    // 24.5 "Host-State Area": what the CPU loads at every exit. CR0/CR3/CR4, EFER, PAT and the
    // segment state are the same on every CPU of cxvisor; TR, GDTR and GS base are per CPU.
    void write_host_state() {
        const HostState h = m_hw.host_state();
        m_hw.vmwrite(VmcsField::HOST_CR0, h.cr0);
        m_hw.vmwrite(VmcsField::HOST_CR3, h.cr3);
        m_hw.vmwrite(VmcsField::HOST_CR4, h.cr4);
        m_hw.vmwrite(VmcsField::HOST_CS_SELECTOR, h.cs);
        m_hw.vmwrite(VmcsField::HOST_SS_SELECTOR, h.ss);
        m_hw.vmwrite(VmcsField::HOST_DS_SELECTOR, h.ds);
        m_hw.vmwrite(VmcsField::HOST_ES_SELECTOR, h.es);
        m_hw.vmwrite(VmcsField::HOST_FS_SELECTOR, h.fs);
        m_hw.vmwrite(VmcsField::HOST_GS_SELECTOR, h.gs);
        m_hw.vmwrite(VmcsField::HOST_TR_SELECTOR, h.tr);
        m_hw.vmwrite(VmcsField::HOST_FS_BASE, h.fs_base);
        m_hw.vmwrite(VmcsField::HOST_GS_BASE, h.gs_base);
        m_hw.vmwrite(VmcsField::HOST_TR_BASE, h.tr_base);
        m_hw.vmwrite(VmcsField::HOST_GDTR_BASE, h.gdtr_base);
        m_hw.vmwrite(VmcsField::HOST_IDTR_BASE, h.idtr_base);
        m_hw.vmwrite(VmcsField::HOST_IA32_SYSENTER_CS, h.sysenter_cs);
        m_hw.vmwrite(VmcsField::HOST_IA32_SYSENTER_ESP, h.sysenter_esp);
        m_hw.vmwrite(VmcsField::HOST_IA32_SYSENTER_EIP, h.sysenter_eip);
        m_hw.vmwrite(VmcsField::HOST_IA32_EFER, h.efer);
        m_hw.vmwrite(VmcsField::HOST_IA32_PAT, h.pat);
        m_hw.vmwrite(VmcsField::HOST_RIP, h.rip);
    }

    // MOV to CR0/CR4 that changed a bit cxvisor owns (the guest/host masks, 24.6.6; 25.1.3): the
    // guest's value goes into the read shadow, the VMX-fixed version of it into the real register
    // (guest_state.hpp guest_cr0/guest_cr4), RIP moves on. MOV to/from CR3, which CPUs without the
    // TRUE control MSRs force to exit (A.3.2 default1 bits 15/16): the register moves as the
    // instruction says. False for anything else (CR8, CLTS, LMSW): the VM stops with the reason.
    bool handle_cr(const VmxExit& x, u64* gprs) {
        if (x.instruction_length == 0 || x.instruction_length > 15) return false;
        if (x.cr.cr == 3 && x.cr.type == CrAccessType::MovFromCr) {
            gprs[x.cr.gpr & 15] = m_hw.vmread(VmcsField::GUEST_CR3); // RSP too: run() read GUEST_RSP into gprs
            skip(x.instruction_length);
            return true;
        }
        if (x.cr.type != CrAccessType::MovToCr || (x.cr.cr != 0 && x.cr.cr != 3 && x.cr.cr != 4)) return false;
        const u64 v = gprs[x.cr.gpr & 15];
        if (x.cr.cr == 3) {
            m_hw.vmwrite(VmcsField::GUEST_CR3, v);
        } else if (x.cr.cr == 0) {
            const CrSetting s = guest_cr0(v, m_setup->msrs);
            m_hw.vmwrite(VmcsField::GUEST_CR0, s.value);
            m_hw.vmwrite(VmcsField::CR0_READ_SHADOW, s.shadow);
        } else {
            const CrSetting s = guest_cr4(v, m_setup->msrs);
            m_hw.vmwrite(VmcsField::GUEST_CR4, s.value);
            m_hw.vmwrite(VmcsField::CR4_READ_SHADOW, s.shadow);
        }
        skip(x.instruction_length);
        return true;
    }

    Hw m_hw{};
    const VmxSetup* m_setup = nullptr;
    u64 m_vmcs_pa = 0;
    u64 m_eptp = 0;
    u64 m_tsc_offset = 0;
    GuestStartPoint m_start{};
    const char* m_error = nullptr;
    u32 m_pending_inject = 0, m_pending_error = 0, m_pending_length = 0;
    u32 m_reinject = 0, m_reinject_error = 0, m_reinject_length = 0;
    u32 m_host_cpu = ~0u;
    u16 m_vpid = 0;
    bool m_reset_pending = false;
    bool m_eptp_dirty = false;
    bool m_controls_written = false;
    bool m_loaded = false;
    bool m_launched = false;
    bool m_flush_linear = false;
    bool m_flush_ept = false; // an INVEPT asked for and owed to the next entry (run of a halted vCPU)
    bool m_window = false;    // interrupt-window exiting as last written
    bool m_halted = false;    // in HLT: not entered until interrupt_pending()
    bool m_guest_if = false;  // RFLAGS.IF at the last exit
    bool m_ia32e = false; // the "IA-32e mode guest" entry control as last written
};

} // namespace arch::vmx
