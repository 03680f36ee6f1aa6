// The x86_64 vCPU backend: AMD SVM with nested paging (AMD64 APM vol. 2, publication 24593 rev.
// 3.42, chapter 15 "Secure Virtual Machine"; sections cited where each piece is set up). One VMCB
// per vCPU (vmcb.hpp), a host save area per CPU (VM_HSAVE_PA, 15.30.4), VMRUN/#VMEXIT in
// svm_entry.S with the GPRs the VMCB does not hold saved around it, VMLOAD/VMSAVE for the rest of
// the guest's segment and syscall state (15.5.2), the guest's x87/SSE/AVX state and XCR0
// switched with XSAVE/XRSTOR at load()/put() where the CPU has XSAVE (xsave.hpp), else its x87/SSE
// state with FXSAVE/FXRSTOR. Exits are decoded into the x86 level (x86_exit.hpp), which a
// VMX backend would share, and handled there (vcpu.cpp); the intercepts and the sanitised CPUID
// view are listed in docs/porting.md "x86_64: SVM intercepts".
#pragma once
#include "arch.hpp"
#include "base/types.hpp"
#include "vcpu/vcpu_concept.hpp"
#include "vintc/vlapic.hpp"
#include "vmcb.hpp"
#include "vmx/hw.hpp"
#include "x86_exit.hpp"
#include "xsave.hpp"

namespace arch {

// The VM's interrupt controller model: a local APIC per vCPU (vintc/vlapic.hpp), with the VM's
// device lines delivered at fixed vectors to vCPU 0 (no IOAPIC is emulated).
using vlapic::Vlapic;

// The guest's general-purpose registers by their encoding number (APM vol. 3, 1.4.3 table 1-3):
// RAX 0, RCX 1, RDX 2, RBX 3, RSP 4, RBP 5, RSI 6, RDI 7, R8..R15 8..15. svm_entry.S loads and
// stores all but RAX and RSP, which VMRUN and #VMEXIT take from and put into the VMCB (15.5.1);
// run() copies those two between the VMCB and this array around each entry.
struct X86Gprs {
    u64 r[16];
};
inline constexpr unsigned RAX = 0, RCX = 1, RDX = 2, RBX = 3, RSP = 4, RBP = 5, RSI = 6, RDI = 7, R8 = 8, R9 = 9,
                          R10 = 10;

// The ports a PC's chipset decodes for power (QEMU pc/q35): the ACPI PM1a control register at
// 0x604 (SLP_EN, bit 13, enters the sleep state: ACPI 6.5, 4.8.3.2.1) and the reset control
// register at 0xCF9 (bit 2 starts a reset: the PIIX4/ICH9 datasheets' RST_CNT). cxvisor's x86
// guests power off and reset through them (docs/porting.md "x86 VMs").
inline constexpr u16 PORT_PM1A_CNT = 0x604, PORT_RESET_CONTROL = 0xCF9;
inline constexpr u32 PM1_SLP_EN = 1u << 13;
inline constexpr u8 RESET_CONTROL_RST = 1u << 2;

// reset()'s `arg` for a vCPU a start-up IPI started (the CpuUp exit run() makes from the vLAPIC's
// start request): real mode at CS = entry / 16, IP 0 (Intel SDM vol. 3A 8.4.4.2, 11.6.1; AMD APM
// vol. 2 16.5 "Interprocessor Interrupts"), not cxvisor's 32-bit boot protocol. No boot argument
// of a VM takes this value (it is a guest-physical address or 0).
inline constexpr u64 SIPI_START_ARG = ~0ull;

// One class for generic code, two backends behind it: SVM (the VMCB members, vcpu.cpp) or VMX
// (m_vmx, vmx/vcpu_core.hpp; the Vcpu side in vmx/vcpu_vmx.cpp), fixed per vCPU at init() from the
// boot CPU's choice (vmx/probe.hpp virt_chosen). Both decode their exits into X86Exit and share
// handle(); guest RIP, EFER, the mode MMIO decoding needs and injection go through the small
// dispatchers below (docs/porting.md "VMX").
class Vcpu {
public:
    using Intc = Vlapic;
    void init(u32 id, u32 vcpu_count, u64 vmid);
    void reset(u64 entry, u64 arg);
    void set_stage2(HostPhysAddr root);
    void load();
    void put();
    ExitReason run();
    u64 pc() const;
    u64 gpr(unsigned n) const { return m_gprs.r[n & 15]; }
    void set_gpr(unsigned n, u64 v) { m_gprs.r[n & 15] = v; }

    Result<MmioAccess> decode_mmio(ExitReason& exit, GuestMemoryReader mem);
    u64 mmio_write_value(const MmioAccess& a) const;
    void complete_mmio(const MmioAccess& a, u64 read_value);
    void complete_sysreg(const ExitReason& exit, u64 read_value);
    void set_hypercall_result(u64 r0, u64 r1, u64 r2, u64 r3);
    // No firmware power interface reaches the backend on x86 (power goes through the chipset's
    // ports, handled in run()): nothing produces CpuUp/CpuQuery, so there is no result to set.
    void set_power_result(PowerResult) {}
    void set_power_state_result(CpuPowerState) {}
    void inject_external_abort(u64 gpa, AccessKind access);
    void inject_undefined();
    // The APIC timer wakes a halted vCPU through its own host timer event (vlapic_vm.cpp), which
    // kicks it: nothing for the generic layer to arm.
    u64 wake_deadline() const { return ~0ull; }
    void attach_vintc(Intc* intc, GuestPhysAddr) { m_intc = intc; }
    void set_counter_offset(u64 offset) { m_tsc_offset = 0 - offset; } // guest TSC = TSC + TSC_OFFSET (15.30.5)
    // Interrupts are taken from the vLAPIC inside run(), right before the entry, where the guest's
    // interrupt state is at hand (SVM: inject_interrupt; VMX: vmx/vcpu_core.hpp deliver_interrupt).
    vgic::VcpuSet present_interrupts() { return {}; }
    vgic::VcpuSet collect_interrupts() { return {}; }
    // HLT ends when the APIC has an interrupt for the CPU and the guest's RFLAGS.IF lets it in
    // (APM vol. 3 "HLT": a masked interrupt does not resume the processor).
    bool interrupt_pending() const;
    bool timer_interrupt() { return false; } // no host interrupt is forwarded

    Vcpu() = default;
    Vcpu(const Vcpu&) = delete;
    Vcpu& operator=(const Vcpu&) = delete;
    ~Vcpu();

private:
    ExitReason handle(const X86Exit& x);
    bool handle_msr(bool write, ExitReason& e);
    void inject_exception(u8 vector, u32 error = 0);
    // An emulated instruction completes: RIP moves on and the interrupt shadow of a preceding
    // STI or MOV SS ends with it (APM vol. 2 15.21.5; SDM 3C 24.4.2 interruptibility state: the
    // shadow covers one instruction).
    void skip(u64 length);
    void set_rip(u64 rip);
    u64 guest_efer() const;
    void set_guest_efer(u64 efer);
    u64 guest_cr4();
    // XSETBV (xsave.hpp check_xsetbv): the new XCR0 goes into the CPU, or the guest gets #UD/#GP.
    void handle_xsetbv(const X86Exit& x);
    // The guest's XCR0 while it is loaded: the CPU holds it (xsave.hpp sanitize: a CPU without the
    // XSETBV intercept may hold bits cxvisor does not offer).
    u64 guest_xcr0_live() const;
    // The FXSAVE image or XSAVE area: the first 64-byte boundary in m_fpu_buf (the heap aligns
    // objects to 16 bytes only).
    u8* fpu_area() { return reinterpret_cast<u8*>(align_up(reinterpret_cast<usize>(m_fpu_buf), xsave::AREA_ALIGN)); }
    vmx::GuestMode guest_mode();
    // SVM's way of delivering what the vLAPIC presents (15.20 "Injecting Events", 15.21.4
    // "Interrupt Window"): EVENTINJ when the guest can take it, else a VINTR intercept.
    void inject_interrupt();
    ExitReason start_request(u32 target, u8 vector);
    // VMX (vmx/vcpu_vmx.cpp).
    void vmx_init();
    void vmx_load();
    void vmx_forget();
    ExitReason vmx_run();
    const vmx::VmxSetup* vmx_setup() const;

    svm::Vmcb* m_vmcb = nullptr; // one page from frames_alloc, identity-mapped
    X86Gprs m_gprs{};
    // The guest's x87/SSE(/AVX) state while it is not loaded: an FXSAVE image (APM vol. 3, "FXSAVE")
    // or, with XSAVE, a standard-format XSAVE area (SDM vol. 1 13.4) of the offered components.
    u8 m_fpu_buf[xsave::AREA_CAPACITY + xsave::AREA_ALIGN] = {};
    u64 m_xcr0 = xsave::X87; // the guest's XCR0 while it is not loaded (13.3: 1 after reset)
    u32 m_pkru = 0;          // the guest's PKRU while it is not loaded, where the CPU has PKU (fpu_cpu_init)
    u64 m_tsc_offset = 0;
    u64 m_ncr3 = 0;
    u64 m_reinject = 0;      // an event whose delivery the exit interrupted (EXITINTINFO, 15.7.2)
    u64 m_npt_seen = 0;      // the VM's nested-table generation this vCPU last flushed for
    svm::IoioInfo m_io{};    // the port access of the last IOIO exit (decode_mmio)
    u64 m_io_next_rip = 0;
    u64 m_vmid = 0;
    Intc* m_intc = nullptr; // null: interrupt_mode "no_irq"
    u32 m_id = 0;
    u32 m_vcpu_count = 1;
    u32 m_last_cpu = ~0u;
    bool m_msr_exit = false; // the last exit was RDMSR/WRMSR: inject_undefined means #GP (vol. 3 RDMSR)
    bool m_halted = false;   // SVM in HLT: run() enters the guest again only for an interrupt it takes
                             // (VMX: m_vmx.halted(), the same rule in vmx/vcpu_core.hpp)
    u64 m_io_info = 0;       // the raw exit information of the last port access, for messages
    // VMX: the vCPU's VMCS (one frame, identity-mapped) and the backend over it.
    bool m_use_vmx = false;
    void* m_vmcs = nullptr;
    vmx::HwVcpu m_vmx;
    const char* m_vmx_problem = nullptr;
};
static_assert(ArchVcpu<Vcpu>, "x86_64 Vcpu must implement the generic vCPU interface");

// Per-CPU virtualization set-up: EFER.SVME, VM_HSAVE_PA and CR4.OSFXSR, once per CPU at boot
// (VMX: vmx_cpu_init).
void virt_cpu_init();
// Both backends, per CPU at boot: CR4.OSFXSR/OSXMMEXCPT, and with XSAVE CR4.OSXSAVE and XCR0 =
// what guests are offered (the boot CPU decides that first, from CPUID: xsave.hpp).
void fpu_cpu_init();
// VMX (vmx/vcpu_vmx.cpp): the machine-wide set-up on the boot CPU and VMXON on every CPU; null or
// the reason no VM can run.
void vmx_cpu_init();
const char* vmx_backend_missing();
// "MSR c0000080" for the generic level's messages about a trapped MSR (ExitReason::sysreg).
const char* describe_sysreg(u64 msr, char* buf, usize size);

} // namespace arch
