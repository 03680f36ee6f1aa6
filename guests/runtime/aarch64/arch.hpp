// The aarch64 part of the test-guest runtime (rt.hpp includes it): the VM's addresses, per-CPU
// registers, the SMCCC conduit, PSCI, and the exception records the aarch64-only programs use.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "abi/smccc.hpp"

namespace rt {

inline constexpr uint64_t RAM_BASE = 0x40000000;
inline constexpr uint64_t IMAGE_BASE = 0x40080000; // guest.ld
inline constexpr uint64_t UART_BASE = 0x09000000;  // PL011
inline constexpr uint64_t INTC_BASE = 0x08000000;  // the GIC distributor, where a VM config puts it by default
inline constexpr uint64_t VIRTIO_BASE = 0x0A000000; // the first virtio-mmio slot (0x1000 each), configs/vms/virtio-*.toml
inline constexpr uint64_t QEMU_VIRTIO_STRIDE = 0x200, QEMU_VIRTIO_SLOTS = 32; // QEMU virt's own virtio-mmio slots

using HvcResult = HcResult; // what an SMCCC call returns in x0..x3

// ---- SMCCC calls (hvc #0): cxvisor's (rt::hypercall) and PSCI ----

inline HvcResult hvc_call(uint64_t id, uint64_t a1 = 0, uint64_t a2 = 0, uint64_t a3 = 0,
                          uint64_t a4 = 0, uint64_t a5 = 0, uint64_t a6 = 0) {
    register uint64_t x0 asm("x0") = id;
    register uint64_t x1 asm("x1") = a1;
    register uint64_t x2 asm("x2") = a2;
    register uint64_t x3 asm("x3") = a3;
    register uint64_t x4 asm("x4") = a4;
    register uint64_t x5 asm("x5") = a5;
    register uint64_t x6 asm("x6") = a6;
    // SMCCC 1.0 lets the callee corrupt x4..x17; 1.1+ preserves them. Assume the older rule.
    asm volatile("hvc #0"
                 : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3), "+r"(x4), "+r"(x5), "+r"(x6)
                 :
                 : "x7", "x8", "x9", "x10", "x11", "x12", "x13", "x14", "x15", "x16", "x17",
                   "memory");
    return {static_cast<int64_t>(x0), x1, x2, x3};
}

// ---- PSCI (conduit hvc). Target MPIDR: Aff0 = vCPU index. ----
int64_t psci_version();
int64_t psci_features(uint32_t function_id);
int64_t affinity_info(unsigned cpu);
int64_t cpu_on_raw(uint64_t mpidr, uint64_t entry, uint64_t context_id);
// rt::start_cpu / rt::cpu_state answer with PSCI's codes (CPU_ON, AFFINITY_INFO).
inline constexpr int64_t CPU_START_OK = cxv_abi::PSCI_SUCCESS;
inline constexpr int64_t CPU_START_ALREADY = cxv_abi::PSCI_ALREADY_ON;
inline constexpr int64_t CPU_START_INVALID = cxv_abi::PSCI_INVALID_PARAMETERS;
inline constexpr int64_t CPU_STATE_ON = cxv_abi::PSCI_AFF_ON;
inline constexpr int64_t CPU_STATE_OFF = cxv_abi::PSCI_AFF_OFF;
inline constexpr const char* SYSTEM_OFF_NAME = "PSCI SYSTEM_OFF";
inline constexpr const char* SYSTEM_RESET_NAME = "PSCI SYSTEM_RESET";

// ---- per-CPU and time ----
inline unsigned cpu_index() {
    uint64_t v;
    asm volatile("mrs %0, tpidr_el1" : "=r"(v));
    return static_cast<unsigned>(v);
}
inline uint64_t counter() { // CNTVCT_EL0; the ISB keeps the read from being hoisted
    uint64_t v;
    asm volatile("isb\n mrs %0, cntvct_el0" : "=r"(v)::"memory");
    return v;
}
inline uint64_t counter_freq() {
    uint64_t v;
    asm volatile("mrs %0, cntfrq_el0" : "=r"(v));
    return v;
}
inline void cpu_relax() { asm volatile("yield"); }
// 100 single-cycle ALU instructions: the bench programs' loop-overhead probe (add100 - 100).
inline void add100() { asm volatile(".rept 100\n add x9, x9, #1\n .endr" ::: "x9"); }
// Fences between the guest's memory and a device that reads it (virtio rings; Arm ARM B2.3.12
// DMB/DSB, outer shareable): writes before writes, reads before reads, everything.
inline void dma_wmb() { asm volatile("dmb oshst" ::: "memory"); }
inline void dma_rmb() { asm volatile("dmb oshld" ::: "memory"); }
inline void dma_mb() { asm volatile("dsb sy" ::: "memory"); }

// ---- exceptions (rt.hpp: ExcRecord, expect_fault, disarm_fault, last_exception; here ESR_EL1,
// FAR_EL1, ELR_EL1, and an armed fault is skipped with ELR += 4) ----
inline uint32_t esr_ec(uint64_t esr) { return static_cast<uint32_t>(esr >> 26) & 0x3f; }
inline uint32_t esr_dfsc(uint64_t esr) { return static_cast<uint32_t>(esr) & 0x3f; }
inline constexpr uint32_t EC_UNKNOWN = 0x00;
inline constexpr uint32_t EC_DABT_CUR = 0x25;
inline constexpr uint32_t DFSC_SEA = 0x10; // synchronous external abort, not on a table walk


// rt::probe_read/probe_write/is_external_abort (rt.hpp): Probe.esr/far are ESR_EL1/FAR_EL1; an
// external abort is a synchronous external data abort at the current EL (EC 0x25, DFSC 0x10), with
// FAR == addr when ESR.FnV says FAR is valid, and WnR matching `write`.
// A test check: a 4-byte read of `addr` (described by `what`) must raise an external abort.
void check_read_aborts(uint64_t addr, const char* what);

} // namespace rt
