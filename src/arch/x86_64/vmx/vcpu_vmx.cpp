// The VMX side of arch::Vcpu (vcpu.hpp): what the one vCPU class does when the boot CPU chose VMX
// (vmx/select.hpp). The VMCS logic is vcpu_core.hpp's, over the CPU's instructions (hw.hpp); the
// exits go to the handler the SVM backend uses (Vcpu::handle, vcpu.cpp). Intel SDM vol. 3C, Order
// Number 326019-067; never run on hardware (docs/porting.md "VMX").
#include "../arch_stage2.hpp"
#include "../mmu.hpp"
#include "../vcpu.hpp"
#include "hw.hpp"
#include "kernel/frames.hpp"
#include "kernel/log.hpp"
#include "kernel/percpu.hpp"
#include "probe.hpp"

namespace arch {

namespace {

const char* g_vmx_problem; // the boot CPU's VMX set-up or VMXON failed: why no VM can run
// The VMCS that last ran on each CPU: another one there means this VPID's linear translations on
// that CPU may be another vCPU's (vcpu_core.hpp run, flush_vpid).
const void* g_last_vmcs[MAX_CPUS];

inline u64 pa_of(const void* p) { return reinterpret_cast<u64>(p); } // identity-mapped

} // namespace

// 23.7/23.8 on every CPU; the machine-wide set-up (controls, bitmaps, EPT as the stage-2 format)
// first, on the boot CPU, before any VM is built. The FP set-up as for SVM (vcpu.cpp fpu_cpu_init),
// before any VMCS takes this CPU's CR4 as its host CR4.
void vmx_cpu_init() {
    const char* what = "";
    const bool boot_cpu = this_cpu().id == 0;
    if (boot_cpu) {
        if (vmx::vmx_setup(&what).is_error()) {
            g_vmx_problem = what;
            kprint("cxvisor: x86_64: VMX set-up: %s: no VM can run\n", what);
            return;
        }
        // The EPT's depth follows the host's paging where the CPU walks it so (caps.hpp ept_levels);
        // vmx_setup checked that some walk length exists.
        const vmx::EptVpidCaps& ept = vmx::vmx_setup_get()->ept;
        stage2_use_ept(vmx::ept_max_leaf(ept), vmx::ept_levels(ept, host_paging().levels, &what).value());
    }
    if (vmx::vmx_enable_this_cpu(virt_chosen(), &what).is_error()) {
        if (boot_cpu) g_vmx_problem = what;
        kprint("cxvisor: x86_64: CPU %lu: %s: VMX left off here\n", this_cpu().id, what);
        return;
    }
    fpu_cpu_init(); // CR4.OSFXSR/OSXMMEXCPT, and OSXSAVE with XCR0 where the CPU has XSAVE
}

const char* vmx_backend_missing() {
    if (g_vmx_problem) return g_vmx_problem;
    if (!vmx::vmx_setup_get()) return "x86_64: the VMX set-up has not run: no VM can run";
    return nullptr;
}

const vmx::VmxSetup* Vcpu::vmx_setup() const { return vmx::vmx_setup_get(); }

// A VMCS region per vCPU (24.2, prepared as 24.11.5 says for the revision identifier) and the VM's
// VPID (28.1: one per VM, non-zero; run() flushes it where vCPUs share a CPU).
void Vcpu::vmx_init() {
    m_use_vmx = true;
    const vmx::VmxSetup* s = vmx_setup();
    if (!s) {
        m_vmx_problem = "x86_64: VMX is not set up on this machine";
        return;
    }
    auto page = frames_alloc(1, FRAME_SIZE);
    if (page.is_error()) {
        m_vmx_problem = "x86_64: no memory for the vCPU's VMCS";
        return;
    }
    m_vmcs = reinterpret_cast<void*>(page.value().value());
    const char* what = "";
    if (vmx::prepare_region(m_vmcs, FRAME_SIZE, pa_of(m_vmcs), vmx::decode_basic(s->msrs.basic), &what).is_error()) {
        m_vmx_problem = what;
        return;
    }
    m_vmx.init(s, pa_of(m_vmcs), u16(1 + m_vmid % 0xFFFE));
}

void Vcpu::vmx_load() {
    if (!m_vmcs || m_vmx_problem) return;
    // VMPTRLD outside VMX operation is #UD (30.3): a CPU whose VMXON failed runs no VMX vCPU.
    if (!vmx::vmx_on_this_cpu()) {
        m_vmx_problem = "x86_64: VMX is off on this CPU (VMXON failed at boot)";
        return;
    }
    if (m_vmx.load(u32(this_cpu().id)).is_error())
        m_vmx_problem = "x86_64: VMPTRLD refused the vCPU's VMCS (30.3: address or revision identifier)";
}

void Vcpu::vmx_forget() {
    for (auto& last : g_last_vmcs)
        if (last == m_vmcs) last = nullptr;
}

ExitReason Vcpu::vmx_run() {
    ExitReason e;
    if (m_vmx_problem) {
        e.kind = ExitKind::Fatal;
        e.reason = m_vmx_problem;
        return e;
    }
    const u32 cpu = u32(this_cpu().id);
    const u64 gen = __atomic_load_n(&g_npt_generation[m_vmid % NPT_GEN_SLOTS], __ATOMIC_ACQUIRE);
    const bool migrated = m_last_cpu != cpu;
    const bool flush_ept = migrated || gen != m_npt_seen;
    const bool flush_vpid = migrated || g_last_vmcs[cpu] != m_vmcs;
    g_last_vmcs[cpu] = m_vmcs;
    m_last_cpu = cpu;
    m_npt_seen = gen;
    m_msr_exit = false;
    m_vmx.set_tsc_offset(m_tsc_offset);
    // The vLAPIC's interrupts go in right before the entry (vcpu_core.hpp deliver_interrupt); a
    // halted vCPU without one it can take is not entered (HLT, APM vol. 3 / SDM vol. 2A).
    vmx::ModelIrq<Vlapic> irq{m_intc, m_id};
    const vmx::VmxRunResult r = m_vmx.run(m_gprs.r, flush_ept, flush_vpid, irq);
    if (r.halted) {
        e.kind = ExitKind::Halt;
        return e;
    }
    if (r.failed) {
        // One line and the VM stops; cxvisor goes on (never a panic on a refused entry).
        e.kind = ExitKind::Fatal;
        e.reason = r.message;
        e.detail = r.detail;
        return e;
    }
    if (r.handled) return e; // a CR write done by the backend: nothing for the other levels
    if (r.exit.kind == X86ExitKind::Other) {
        // An exit cxvisor's controls never ask for, or one it does not emulate (CR8, LMSW, INIT):
        // stopped with the VMX reason, not the SVM wording of the shared handler.
        e.kind = ExitKind::Fatal;
        e.reason = "x86_64: a VM exit cxvisor does not handle (VMX basic exit reason in the detail, SDM vol. 3C appendix C)";
        e.detail = r.exit.code;
        return e;
    }
    return handle(r.exit);
}

} // namespace arch
