// The VMX instructions behind the VMX vCPU (vcpu_core.hpp's Hw), image only (Intel SDM vol. 3C,
// Order Number 326019-067: 30.3 "VMX Instructions" for VMREAD, VMWRITE, VMCLEAR, VMPTRLD, VMXON,
// INVEPT, INVVPID, VMLAUNCH/VMRESUME; 30.2 "Conventions" for VMfailInvalid (CF) and VMfailValid (ZF)).
// None of this has run on hardware: QEMU's TCG has no VMX and the development machines offer no
// nested VMX (docs/porting.md "VMX").
#pragma once
#include "base/result.hpp"
#include "caps.hpp"
#include "select.hpp"
#include "vcpu_core.hpp"

extern "C" int cxv_vmx_run(u64* gprs, u64 launched); // vmx_entry.S: 0 exited, 1 VMfailInvalid, 2 VMfailValid
extern "C" char cxv_vmx_exit[];                      // vmx_entry.S: HOST_RIP

namespace arch::vmx {

struct HwVmcs {
    // GAS (AT&T) order: VMREAD field-register, destination; VMWRITE value, field-register.
    u64 vmread(VmcsField f) {
        u64 v = 0;
        asm volatile("vmread %1, %0" : "=r"(v) : "r"(u64(f)) : "cc");
        return v;
    }
    void vmwrite(VmcsField f, u64 v) { asm volatile("vmwrite %0, %1" ::"r"(v), "r"(u64(f)) : "cc", "memory"); }
    bool vmclear(u64 pa) {
        bool fail;
        asm volatile("vmclear %1; setna %0" : "=q"(fail) : "m"(pa) : "cc", "memory");
        return !fail;
    }
    bool vmptrld(u64 pa) {
        bool fail;
        asm volatile("vmptrld %1; setna %0" : "=q"(fail) : "m"(pa) : "cc", "memory");
        return !fail;
    }
    EntryStatus enter(u64* gprs, bool launched) {
        const int s = cxv_vmx_run(gprs, launched);
        return s == 0 ? EntryStatus::Exited : s == 1 ? EntryStatus::FailInvalid : EntryStatus::FailValid;
    }
    HostState host_state();
    // The 128-bit descriptors of 30.3 "INVEPT" (EPTP, reserved) and "INVVPID" (VPID in bits 15:0,
    // linear address in 127:64).
    void invept(InveptType t, u64 eptp) {
        const u64 desc[2] = {eptp, 0};
        asm volatile("invept %0, %1" ::"m"(desc), "r"(u64(t)) : "cc", "memory");
    }
    void invvpid(InvvpidType t, u16 vpid) {
        const u64 desc[2] = {vpid, 0};
        asm volatile("invvpid %0, %1" ::"m"(desc), "r"(u64(t)) : "cc", "memory");
    }
    // 27.1 "Architectural State Before a VM Exit": an NMI that causes an exit is consumed by it;
    // INT 2 runs the host's NMI handler for it (its IDT gate has its own IST stack).
    void host_nmi() { asm volatile("int $2" ::: "memory"); }
};

static_assert(VmxHw<HwVmcs>, "the VMX instructions must provide what the VMX vCPU uses");
using HwVcpu = VmxVcpu<HwVmcs>;

// The machine's VMX set-up, made once on the boot CPU (vmx_setup) before any VM: capability MSRs,
// control words, bitmaps. Null until then or when the CPU lacks what cxvisor needs.
const VmxSetup* vmx_setup_get();
// Boot CPU: reads the MSRs and decides the controls; *what names a missing capability.
Result<void> vmx_setup(const char** what);
// Every CPU (the boot CPU after vmx_setup): IA32_FEATURE_CONTROL (locked with VMX outside SMX if
// the firmware left it unlocked), CR0/CR4 with the VMX fixed bits and CR4.VMXE, VMXON with this
// CPU's region (23.7 "Enabling and Entering VMX Operation", 23.8 "Restrictions on VMX Operation").
Result<void> vmx_enable_this_cpu(const VirtChoice& choice, const char** what);
// Whether VMXON succeeded on the calling CPU.
bool vmx_on_this_cpu();

} // namespace arch::vmx
