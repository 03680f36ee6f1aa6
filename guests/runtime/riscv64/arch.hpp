// The riscv64 part of the test-guest runtime (rt.hpp includes it): the VM's addresses (QEMU virt's
// layout, configs/vms/riscv64/), per-hart registers and the SBI conduit (abi/sbi.hpp). The guest
// runs in VS-mode (the guest's S-mode) with satp = 0: physical addresses, no stage-1 translation.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "abi/sbi.hpp"

namespace rt {

inline constexpr uint64_t RAM_BASE = 0x80000000;
inline constexpr uint64_t IMAGE_BASE = 0x80200000; // guest.ld; where cxvisor enters vCPU 0
inline constexpr uint64_t UART_BASE = 0x10000000;  // ns16550a, byte registers (reg-shift 0)
inline constexpr uint64_t INTC_BASE = 0x0C000000;  // the PLIC, where a VM config puts it by default
inline constexpr uint64_t VIRTIO_BASE = 0x10001000; // the first virtio-mmio slot (0x1000 each), QEMU virt's
inline constexpr uint64_t QEMU_VIRTIO_STRIDE = 0x1000, QEMU_VIRTIO_SLOTS = 8; // QEMU virt's own virtio-mmio slots
// The time CSR's rate: the generated DT's /cpus timebase-frequency (QEMU virt's 10 MHz).
inline constexpr uint64_t TIMEBASE_HZ = 10'000'000;

// ---- SBI (RISC-V SBI v2.0, ch. 3): a7 = EID, a6 = FID, a0..a5 arguments; a0 = error, a1 = value.
// cxvisor's own calls also return a2 and a3 (abi/sbi.hpp), so all six argument registers are
// treated as outputs.
using cxv_abi::SbiRet;
inline SbiRet sbi_call(uint64_t eid, uint64_t fid, uint64_t a0 = 0, uint64_t a1 = 0, uint64_t a2 = 0,
                       uint64_t a3 = 0, uint64_t a4 = 0, uint64_t a5 = 0) {
    return cxv_abi::sbi_ecall(eid, fid, a0, a1, a2, a3, a4, a5);
}
// BASE probe_extension: nonzero when the SBI implementation has extension `eid` (SBI v2.0, 4.8).
inline bool sbi_has(uint64_t eid) {
    SbiRet r = sbi_call(cxv_abi::SBI_EXT_BASE, cxv_abi::SBI_BASE_PROBE_EXTENSION, eid);
    return r.error == cxv_abi::SBI_SUCCESS && r.value != 0;
}

// rt::start_cpu / rt::cpu_state answer with SBI HSM's codes (hart_start, hart_get_status).
inline constexpr int64_t CPU_START_OK = cxv_abi::SBI_SUCCESS;
inline constexpr int64_t CPU_START_ALREADY = cxv_abi::SBI_ERR_ALREADY_AVAILABLE;
inline constexpr int64_t CPU_START_INVALID = cxv_abi::SBI_ERR_INVALID_PARAM;
inline constexpr int64_t CPU_STATE_ON = cxv_abi::SBI_HSM_STARTED;
inline constexpr int64_t CPU_STATE_OFF = cxv_abi::SBI_HSM_STOPPED;
inline constexpr const char* SYSTEM_OFF_NAME = "SBI SRST shutdown";
inline constexpr const char* SYSTEM_RESET_NAME = "SBI SRST cold reboot";

// ---- per-hart registers and time ----
// tp holds the hart's vCPU index (start.S): the code has no thread-local storage, so the
// compiler never uses tp itself.
inline unsigned cpu_index() {
    uint64_t v;
    asm volatile("mv %0, tp" : "=r"(v));
    return static_cast<unsigned>(v);
}
inline uint64_t counter() { // the time CSR (cxvisor sets hcounteren.TM, so rdtime does not trap)
    uint64_t v;
    asm volatile("rdtime %0" : "=r"(v)::"memory");
    return v;
}
inline uint64_t counter_freq() { return TIMEBASE_HZ; }
// PAUSE (Zihintpause), encoded as the FENCE hint it is, so it needs no -march extension: harts
// without it execute a no-op fence.
inline void cpu_relax() { asm volatile(".word 0x0100000f"); }
// 100 single-cycle ALU instructions: the bench programs' loop-overhead probe (add100 - 100).
inline void add100() { asm volatile(".rept 100\n addi x9, x9, 1\n .endr" ::: "x9"); }
// Fences between the guest's memory and a device that reads it (virtio rings; Unprivileged Spec
// 20191213, 2.7 FENCE with the I/O and memory sets, as Linux's riscv wmb/rmb/mb): prior device
// outputs and memory writes before later ones; device inputs and memory reads likewise; all.
inline void dma_wmb() { asm volatile("fence ow, ow" ::: "memory"); }
inline void dma_rmb() { asm volatile("fence ir, ir" ::: "memory"); }
inline void dma_mb() { asm volatile("fence iorw, iorw" ::: "memory"); }

// ---- interrupts: the trap vector calls `handler` for every interrupt (scause bit 63 set); it
// returns false for one it does not know, which then fails the test as unexpected. Null: none.
using InterruptHandler = bool (*)(uint64_t scause);
void set_interrupt_handler(InterruptHandler handler);

// rt::expect_fault/last_exception (rt.hpp): ExcRecord.esr/far/elr hold scause/stval/sepc; an armed
// exception skips the instruction (2 or 4 bytes, by its low bits).
// rt::probe_read/probe_write/is_external_abort (rt.hpp): Probe.esr/far hold scause/stval (an
// exception while armed is recorded and the access, 2 or 4 bytes, skipped); an external abort is
// the access fault cxvisor injects for an access outside the VM (load access fault 5, store/AMO
// access fault 7; RISC-V Privileged Spec 20211203, 4.1.9) with stval = addr.

} // namespace rt
