// The interrupt-controller model of an ISA whose guests have none yet (loongarch64, x86_64 until
// its vLAPIC/vIOAPIC exist): a VM cannot get one, and a request for one is refused as unsupported
// (VirtIntcModel, vintc/virt_intc.hpp).
#pragma once
#include "vcpu/vcpu_concept.hpp"

class NoVirtIntc {
public:
    static Result<NoVirtIntc*> create_for_vm(const VintcSetup&) { return Error::Unsupported; }
    usize window_count() const { return 0; }
    MmioDevice* window(usize) { return nullptr; }
    Result<vgic::VcpuSet> set_line(u32, bool, u16 = 0) { return Error::Unsupported; }
    Result<vgic::VcpuSet> raise(u32) { return Error::Unsupported; }
    Result<void> set_hw(u32, u32) { return Error::Unsupported; }
    void reset() {}
    bool is_shared_line(u32) const { return false; }
};
static_assert(VirtIntcModel<NoVirtIntc>);
