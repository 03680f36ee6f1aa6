// Why a vCPU stopped running guest code (after axvcpu's AxVCpuExitReason). The arch backend
// (level 1) decodes the hardware's exit information into one of these; the VM (level 2) and the
// VMM (level 3) handle them. Nothing here names an ISA.
#pragma once
#include "arch_mmio.hpp" // arch::MmioInsn: the ISA's way of finishing an emulated access
#include "base/types.hpp"

enum class ExitKind : u8 {
    Nothing,           // handled at level 1, or spurious: just re-enter
    Hypercall,         // cxvisor's own call: nr, args[0..5]; result via set_hypercall_result
    NestedPageFault,   // stage-2 fault: gpa, access; RAM on demand (L2), emulated MMIO (L2), or abort
    SysRegRead,        // trapped system register the backend does not emulate itself
    SysRegWrite,
    ExternalInterrupt, // a physical interrupt arrived while the guest ran
    Halt,              // WFI: block until something is pending for this vCPU
    CpuUp,             // power on another vCPU of this VM: target, entry, arg
    CpuDown,           // this vCPU powers itself off
    CpuQuery,          // power state of another vCPU: target
    SystemDown,        // the VM asks to be powered off
    SystemReset,       // the VM asks to be restarted
    Undefined,         // the guest did something the backend cannot handle; UNDEF was injected
    Kick,              // the guest made interrupts pending (an SGI): args[0] = VcpuSet bits of the
                       // VM's vCPUs to kick; this vCPU's own next entry presents them anyway
    ConsoleWrite,      // the guest asks its firmware to print args[0] bytes at guest-physical gpa
                       // (riscv64 SBI DBCN console_write). Level 2 reads them through the VM's
                       // checked guest-memory path and answers through set_hypercall_result:
                       // (CXV_OK, bytes written: a prefix, at most to the end of gpa's page) or
                       // (CXV_INVALID, 0) when the buffer is not guest memory cxvisor may read
    PortIo,            // a port I/O instruction (x86 IN/OUT): gpa = the port, access = Read
                       // (IN) or Write (OUT). Level 2 dispatches it on the VM's port bus, the
                       // second address space of its devices, through decode_mmio /
                       // mmio_write_value / complete_mmio as for MMIO
    Fatal,             // cannot continue this VM: reason says why
};

inline constexpr usize EXIT_KIND_COUNT = usize(ExitKind::Fatal) + 1;

// A short lower-case name of each kind, for `vm show` (shell) and reports.
constexpr const char* exit_kind_name(ExitKind k) {
    switch (k) {
    case ExitKind::Nothing: return "nothing";
    case ExitKind::Hypercall: return "hypercall";
    case ExitKind::NestedPageFault: return "stage-2 fault";
    case ExitKind::SysRegRead: return "sysreg read";
    case ExitKind::SysRegWrite: return "sysreg write";
    case ExitKind::ExternalInterrupt: return "interrupt";
    case ExitKind::Halt: return "halt";
    case ExitKind::CpuUp: return "cpu up";
    case ExitKind::CpuDown: return "cpu down";
    case ExitKind::CpuQuery: return "cpu query";
    case ExitKind::SystemDown: return "system down";
    case ExitKind::SystemReset: return "system reset";
    case ExitKind::Undefined: return "undefined";
    case ExitKind::Kick: return "kick";
    case ExitKind::ConsoleWrite: return "console write";
    case ExitKind::PortIo: return "port i/o";
    case ExitKind::Fatal: return "fatal";
    }
    return "?";
}

enum class AccessKind : u8 { Read, Write, Fetch };

struct ExitReason {
    ExitKind kind = ExitKind::Nothing;
    // NestedPageFault
    u64 gpa = 0;
    AccessKind access = AccessKind::Read;
    bool stage1_walk = false; // the fault hit while the hardware walked the guest's own page tables
    // Hypercall: nr (abi/hypercall.hpp HC_NR_*) and args, detail = the id as the ISA's conduit carried
    // it (aarch64: the SMCCC function id), for messages; CpuUp/CpuQuery: args[0] = target vCPU id, args[1] = entry, args[2] = arg
    u64 nr = 0;
    u64 args[6] = {};
    // SysReg*: an ISA-specific register id (printable by arch::sysreg_name) and the value written
    u64 sysreg = 0;
    u64 value = 0;
    // SysReg*: the register is one of the vCPU's emulated timer (vcpu/emulated_timer.hpp; None
    // otherwise), whose interrupt is private INTID timer_intid.
    u8 timer = 0;
    u32 timer_intid = 0;
    // Fatal / Undefined: a short static description
    const char* reason = nullptr;
    u64 detail = 0; // e.g. syndrome or instruction word, printed with the reason
};

// Generic outcome of a power request, mapped by the backend to its firmware interface's codes.
enum class PowerResult : u8 { Success, InvalidParameters, InvalidAddress, AlreadyOn, Denied, InternalFailure };
enum class CpuPowerState : u8 { On, Off, OnPending };

// A decoded emulated-MMIO access (produced by the backend from the exit, possibly by reading the
// faulting instruction from guest memory).
struct MmioAccess {
    u64 gpa = 0;
    u8 width = 0;          // bytes: 1, 2, 4, 8; 0: no data transfer (cache maintenance by VA on the
                           // device), complete_mmio only steps over the instruction
    bool is_write = false;
    arch::MmioInsn insn;   // the backend's own (register, sign extension, address writeback):
                           // filled by decode_mmio, read by mmio_write_value and complete_mmio
};
