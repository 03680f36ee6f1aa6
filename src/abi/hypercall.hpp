// cxvisor's guest-visible call interface, the same on every ISA: calls by number, their arguments
// and results, and the return codes. Shared by the hypervisor and the test guests, so it uses only
// plain integer constants (no includes beyond <stdint.h>).
//
// How a guest makes a call is the ISA's conduit, which the ISA's vCPU backend decodes into
// ExitReason{Hypercall, nr, args}: on aarch64 the Arm SMC Calling Convention (abi/smccc.hpp):
// function id HC_BASE + number in x0, arguments in x1..x6, results in x0..x3, HVC #0 (SMC #0 traps
// to cxvisor too and is handled alike). Below, "x0".."x6" name the conduit's result and argument
// registers in that order. On riscv64 the conduit is an SBI call (abi/sbi.hpp): ECALL with
// a7 = CXV_SBI_EID, a6 = number, "x1".."x6" in a0..a5, results "x0".."x3" in a0..a3. On x86_64
// (AMD SVM) it is VMMCALL at CPL 0 with RAX = number, "x1".."x6" in RDI, RSI, RDX, R10, R8, R9,
// results "x0".."x3" in RAX, RDI, RSI, RDX (the other registers are preserved). On loongarch64
// (LVZ) it is HVCL with code 0 (LoongArch virtualization extension: Ecode 0x17, the 15-bit code in
// BADI, decoded by arch/loongarch64/lvz_exit.hpp) with a0 = number, "x1".."x6" in a1..a6, results
// "x0".."x3" in a0..a3 (LoongArch ELF psABI v2.20: a0..a7 are the argument registers), the other
// registers preserved; another code is refused (a0 <- CXV_NOT_SUPPORTED). Power and vCPU start are
// not calls there: a loongarch64 VM has QEMU virt's GED power registers and IPI mail buffers
// (arch/loongarch64/lvz_board.hpp), as Linux and cxvisor's own host use them.
// Unknown numbers return CXV_NOT_SUPPORTED (-1), as SMCCC requires; the guest keeps running.
#pragma once
#include <stdint.h>

namespace cxv_abi {

// x0 <- version (major << 16 | minor).
inline constexpr uint64_t HC_NR_VERSION = 0;
// Does nothing; x0 <- 0. The null hypercall that `make bench` measures.
inline constexpr uint64_t HC_NR_NOP = 1;
// x0 <- 0, x1 <- x1 + x2 + x3 + x4 + x5 + x6, x2 <- x1 ^ x2, x3 <- ~x1:
// a round trip that proves arguments reach cxvisor and results reach the guest.
inline constexpr uint64_t HC_NR_ECHO = 2;
// x0 <- 0, x1 <- VM id, x2 <- vCPU id, x3 <- how many times this VM was reset (0 on first boot).
inline constexpr uint64_t HC_NR_VM_INFO = 3;
// Print the character in x1 on the VM's console (same path as the emulated UART). x0 <- 0.
inline constexpr uint64_t HC_NR_PUTC = 4;
// Drive one of the VM's own SPIs from software (a doorbell; the vGIC test guests use it for level
// and edge SPIs): x1 = INTID, x2 = IRQ_LINE_LOW / IRQ_LINE_HIGH (the level of a level-sensitive
// line) or IRQ_LINE_PULSE (one edge). x0 <- 0; CXV_INVALID if the VM has no virtual interrupt
// controller, the INTID is not one of its SPIs, or a device of the VM owns that SPI.
inline constexpr uint64_t HC_NR_IRQ_LINE = 5;
inline constexpr uint64_t IRQ_LINE_LOW = 0;
inline constexpr uint64_t IRQ_LINE_HIGH = 1;
inline constexpr uint64_t IRQ_LINE_PULSE = 2;
// A test guest reports its result: x1 = 0 pass, anything else FAIL (the guest runtime's failure
// path calls it). cxvisor keeps a FAIL for the run's exit status (exit status 2, see
// src/vmm/exit_status.hpp) and says so once in its log. x0 <- 0.
inline constexpr uint64_t HC_NR_TEST_RESULT = 6;
// Ring a peer VM's doorbell through a shared-memory region (the VM config's [[shm]] entries; see
// docs/virtio.md, "Shared memory"): x1 = the peer's VM id ([base] id), x2 = the region: the index of the
// [[shm]] entry in the caller's own config (0-based, file order; the generated DTB's
// cxvisor,index). cxvisor raises, as an edge, the SPI the peer's config gives the same region
// (its `irq`). x0 <- CXV_OK when raised (a paused peer takes it when resumed);
// CXV_INVALID: x2 is not one of the caller's regions; CXV_DENIED: the region does not name x1 in
// its `peers`, or the peer cannot be rung through it (these two are also reported on the console,
// rate-limited per VM); CXV_PEER_DOWN: a permitted peer that is not running (never started,
// stopped, stopping, or not created at boot): nothing is raised, try again later.
// x1..x3 are returned unchanged.
inline constexpr uint64_t HC_NR_DOORBELL = 7;

inline constexpr int64_t CXV_OK = 0;
inline constexpr int64_t CXV_NOT_SUPPORTED = -1; // SMCCC_RET_NOT_SUPPORTED
inline constexpr int64_t CXV_INVALID = -2;       // SMCCC_RET_NOT_REQUIRED is -2; we use it for bad args
inline constexpr int64_t CXV_DENIED = -3;        // allowed by the ABI but not by this VM's config
inline constexpr int64_t CXV_PEER_DOWN = -4;     // the other VM of the call is not running

inline constexpr uint32_t VERSION_MAJOR = 0;
inline constexpr uint32_t VERSION_MINOR = 1;

} // namespace cxv_abi
