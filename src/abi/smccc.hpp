// The aarch64 conduit of cxvisor's calls and the Arm firmware interfaces guests use through it:
// the Arm SMC Calling Convention (DEN0028, section 2) and PSCI (DEN0022). Shared by cxvisor's
// aarch64 backend and the aarch64 test guests; plain integer constants only.
//
// cxvisor's own calls (abi/hypercall.hpp, by number) sit in the "Vendor Specific Hypervisor
// Service" owner range (owner 6), fast calls, SMC64: function id 0xC6000000 + number. PSCI uses
// its standard ids 0x84000000/0xC4000000.
#pragma once
#include "abi/hypercall.hpp"

namespace cxv_abi {

inline constexpr uint64_t HC_BASE = 0xC6000000;
inline constexpr uint64_t HC_VERSION = HC_BASE + HC_NR_VERSION;
inline constexpr uint64_t HC_NOP = HC_BASE + HC_NR_NOP;
inline constexpr uint64_t HC_ECHO = HC_BASE + HC_NR_ECHO;
inline constexpr uint64_t HC_VM_INFO = HC_BASE + HC_NR_VM_INFO;
inline constexpr uint64_t HC_PUTC = HC_BASE + HC_NR_PUTC;
inline constexpr uint64_t HC_IRQ_LINE = HC_BASE + HC_NR_IRQ_LINE;
inline constexpr uint64_t HC_TEST_RESULT = HC_BASE + HC_NR_TEST_RESULT;
inline constexpr uint64_t HC_DOORBELL = HC_BASE + HC_NR_DOORBELL;

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
