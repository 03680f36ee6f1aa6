// A host device region handed straight to one VM: stage-2 maps gpa -> hpa as Device memory and
// (once the vGIC exists) the physical interrupt `irq` is routed to that VM.
#pragma once
#include "addrspace/addr.hpp"
#include "base/result.hpp"

struct PassthroughRegion {
    static constexpr u32 NoIrq = ~0u;

    const char* name;
    GuestPhysAddr gpa;
    HostPhysAddr hpa;
    u64 size;
    u32 irq = NoIrq; // physical interrupt ID (GIC INTID), or NoIrq

    // Checks the region before it is mapped. Pure; called by the VM builder (any CPU, no locks).
    // `host_owned` are ranges the hypervisor keeps for itself (GIC distributor/redistributors, the
    // host UART, its own image): handing any byte of them to a guest would break isolation.
    // Errors: InvalidArgument (size 0, not 4 KiB aligned — stage-2 maps whole pages — or an
    // address range that wraps), Denied (overlaps a host-owned range).
    Result<void> validate(const PhysRange* host_owned, usize count) const {
        constexpr u64 page = 4 * KiB;
        if (size == 0 || !hpa.is_aligned(page) || !gpa.is_aligned(page) || !is_aligned(size, page))
            return Error::InvalidArgument;
        if (hpa.value() + size < hpa.value() || gpa.value() + size < gpa.value())
            return Error::InvalidArgument;
        for (usize i = 0; i < count; ++i) {
            const PhysRange& r = host_owned[i];
            // Half-open intervals [a, a+n) overlap iff each starts before the other ends.
            if (r.size != 0 && r.overlaps(hpa, size)) return Error::Denied;
        }
        return {};
    }
};
