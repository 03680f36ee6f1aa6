// Binds nested paging for generic code: arch::Stage2Format is the long-mode format as nested page
// tables (page_format.hpp NptFormat; AMD64 APM vol. 2 rev. 3.42, 15.25 "Nested Paging"). Its TLB
// maintenance (ASIDs, the VMCB's TLB_CONTROL, IPIs to the CPUs running the guest; 15.16 "TLB
// Control") belongs to the SVM vCPU backend, the next step: until it exists no VM is created
// (arch_vcpu.hpp), and a call that is reached anyway says so.
#pragma once
#include "addrspace/addr_space.hpp"
#include "arch.hpp"
#include "page_format.hpp"

namespace arch {

using Stage2Format = NptFormat;

struct Stage2Config {
    constexpr TableGeometry geometry() const { return NptFormat::geometry(); }
};
inline Stage2Config stage2_cpu_config() { return {}; }
// x86 stores are seen by the table walker in program order (APM vol. 2, 7.2 "Multiprocessor
// Memory Access Ordering"); MFENCE for the stores before the guest runs again.
inline void publish_stage2_updates() { x86::mfence(); }

[[noreturn]] void vcpu_backend_reached(const char* call); // vcpu.cpp

struct Stage2Tlb {
    u64 vmid = 0;
    void invalidate_range(u64, u64) { vcpu_backend_reached("Stage2Tlb::invalidate_range"); }
    void invalidate_all() { vcpu_backend_reached("Stage2Tlb::invalidate_all"); }
    void after_map(u64, u64) { vcpu_backend_reached("Stage2Tlb::after_map"); }
    void fault_retry(u64) { vcpu_backend_reached("Stage2Tlb::fault_retry"); }
    void prepare_exec(HostPhysAddr, u64) { vcpu_backend_reached("Stage2Tlb::prepare_exec"); }
};
static_assert(Stage2Maintenance<Stage2Tlb>, "x86_64 nested-paging maintenance must satisfy the generic contract");

} // namespace arch
