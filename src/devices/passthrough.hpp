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
    // `host_owned` are ranges no guest may get: what the hypervisor keeps for itself (RAM, GIC
    // frames, its console), DMA-capable devices (a guest could make them read or write any host
    // memory) and what other VMs were given. Handing any byte of them to a guest would break
    // isolation. Errors: InvalidArgument (size 0, not 4 KiB aligned — stage-2 maps whole pages —
    // or an address range that wraps), Denied (overlaps a host-owned range; *hit, if given, is
    // the index of the first one, so the caller can say which and why).
    Result<void> validate(const PhysRange* host_owned, usize count, usize* hit = nullptr) const {
        constexpr u64 page = 4 * KiB;
        if (size == 0 || !hpa.is_aligned(page) || !gpa.is_aligned(page) || !is_aligned(size, page))
            return Error::InvalidArgument;
        if (hpa.value() + size < hpa.value() || gpa.value() + size < gpa.value())
            return Error::InvalidArgument;
        for (usize i = 0; i < count; ++i) {
            const PhysRange& r = host_owned[i];
            // Half-open intervals [a, a+n) overlap iff each starts before the other ends.
            if (r.size != 0 && r.overlaps(hpa, size)) {
                if (hit) *hit = i;
                return Error::Denied;
            }
        }
        return {};
    }
};
