// cxvisor's guest-visible call interface. Shared by the hypervisor and the test guests, so it uses
// only plain integer constants (no includes beyond <stdint.h>).
//
// Calls follow the Arm SMC Calling Convention (DEN0028, section 2): function id in x0, arguments in
// x1..x6, results in x0..x3, issued with HVC #0 (SMC #0 traps to cxvisor too and is handled alike).
// cxvisor's own calls sit in the "Vendor Specific Hypervisor Service" owner range (owner 6), fast
// calls, SMC64: 0xC6000000 + n. PSCI (DEN0022) uses its standard ids 0x84000000/0xC4000000.
// Unknown function ids return CXV_NOT_SUPPORTED (-1) in x0, as SMCCC requires; the guest keeps
// running.
#pragma once
#include <stdint.h>

namespace cxv_abi {

inline constexpr uint64_t HC_BASE = 0xC6000000;
// x0 <- version (major << 16 | minor).
inline constexpr uint64_t HC_VERSION = HC_BASE + 0;
// Does nothing; x0 <- 0. The null hypercall that `make bench` measures.
inline constexpr uint64_t HC_NOP = HC_BASE + 1;
// x0 <- 0, x1 <- x1 + x2 + x3 + x4 + x5 + x6, x2 <- x1 ^ x2, x3 <- ~x1:
// a round trip that proves arguments reach cxvisor and results reach the guest.
inline constexpr uint64_t HC_ECHO = HC_BASE + 2;
// x0 <- 0, x1 <- VM id, x2 <- vCPU id, x3 <- how many times this VM was reset (0 on first boot).
inline constexpr uint64_t HC_VM_INFO = HC_BASE + 3;
// Print the character in x1 on the VM's console (same path as the emulated UART). x0 <- 0.
inline constexpr uint64_t HC_PUTC = HC_BASE + 4;
// Drive one of the VM's own SPIs from software (a doorbell; the vGIC test guests use it for level
// and edge SPIs): x1 = INTID, x2 = IRQ_LINE_LOW / IRQ_LINE_HIGH (the level of a level-sensitive
// line) or IRQ_LINE_PULSE (one edge). x0 <- 0; CXV_INVALID if the VM has no virtual interrupt
// controller, the INTID is not one of its SPIs, or a device of the VM owns that SPI.
inline constexpr uint64_t HC_IRQ_LINE = HC_BASE + 5;
inline constexpr uint64_t IRQ_LINE_LOW = 0;
inline constexpr uint64_t IRQ_LINE_HIGH = 1;
inline constexpr uint64_t IRQ_LINE_PULSE = 2;
// A test guest reports its result: x1 = 0 pass, anything else FAIL (the guest runtime's failure
// path calls it). cxvisor keeps a FAIL for the run's exit status (exit status 2, see
// src/vmm/exit_status.hpp) and says so once in its log. x0 <- 0.
inline constexpr uint64_t HC_TEST_RESULT = HC_BASE + 6;
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
inline constexpr uint64_t HC_DOORBELL = HC_BASE + 7;

inline constexpr int64_t CXV_OK = 0;
inline constexpr int64_t CXV_NOT_SUPPORTED = -1; // SMCCC_RET_NOT_SUPPORTED
inline constexpr int64_t CXV_INVALID = -2;       // SMCCC_RET_NOT_REQUIRED is -2; we use it for bad args
inline constexpr int64_t CXV_DENIED = -3;        // allowed by the ABI but not by this VM's config
inline constexpr int64_t CXV_PEER_DOWN = -4;     // the other VM of the call is not running

inline constexpr uint32_t VERSION_MAJOR = 0;
inline constexpr uint32_t VERSION_MINOR = 1;

// PSCI 1.1 function ids (DEN0022D, section 5.1). SMC64 forms where the call takes addresses.
inline constexpr uint64_t SMCCC_VERSION = 0x80000000;
inline constexpr uint64_t PSCI_VERSION = 0x84000000;
inline constexpr uint64_t PSCI_CPU_SUSPEND_32 = 0x84000001;
inline constexpr uint64_t PSCI_CPU_SUSPEND_64 = 0xC4000001;
inline constexpr uint64_t PSCI_CPU_OFF = 0x84000002;
inline constexpr uint64_t PSCI_CPU_ON_32 = 0x84000003;
inline constexpr uint64_t PSCI_CPU_ON_64 = 0xC4000003;
inline constexpr uint64_t PSCI_AFFINITY_INFO_32 = 0x84000004;
inline constexpr uint64_t PSCI_AFFINITY_INFO_64 = 0xC4000004;
inline constexpr uint64_t PSCI_MIGRATE_INFO_TYPE = 0x84000006;
inline constexpr uint64_t PSCI_SYSTEM_OFF = 0x84000008;
inline constexpr uint64_t PSCI_SYSTEM_RESET = 0x84000009;
inline constexpr uint64_t PSCI_FEATURES = 0x8400000A;

inline constexpr int64_t PSCI_SUCCESS = 0;
inline constexpr int64_t PSCI_NOT_SUPPORTED = -1;
inline constexpr int64_t PSCI_INVALID_PARAMETERS = -2;
inline constexpr int64_t PSCI_DENIED = -3;
inline constexpr int64_t PSCI_ALREADY_ON = -4;
inline constexpr int64_t PSCI_ON_PENDING = -5;
inline constexpr int64_t PSCI_INTERNAL_FAILURE = -6;
inline constexpr int64_t PSCI_NOT_PRESENT = -7;
inline constexpr int64_t PSCI_DISABLED = -8;
inline constexpr int64_t PSCI_INVALID_ADDRESS = -9;

// AFFINITY_INFO results.
inline constexpr int64_t PSCI_AFF_ON = 0;
inline constexpr int64_t PSCI_AFF_OFF = 1;
inline constexpr int64_t PSCI_AFF_ON_PENDING = 2;

} // namespace cxv_abi
