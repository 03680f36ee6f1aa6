// Inter-VM shared memory and its doorbell (docs/virtio.md, "Shared memory"): the host RAM behind the VMs'
// [[shm]] regions and HC_DOORBELL.
//
// Lifetime of a region's RAM: cxvisor's. It is allocated (contiguous, zeroed) when the first VM
// declaring its name is created at boot, and never freed: a VM that stops loses its mapping
// (Vm::unmap_shm) but the contents stay for its peers and for its own next life, so a peer
// protocol can survive a restart of either side (it must resynchronise, e.g. by a generation
// count in the region). The frames never return to the allocator, so no other VM's lazily
// allocated RAM can ever alias a region.
#pragma once
#include "abi/vm_package.hpp"
#include "addrspace/addr.hpp"
#include "base/result.hpp"

class Vcpu;

// The table of backed names. Pure apart from the allocator it is given, so host tests run it.
// Contract: boot CPU only, while create_vms builds the VMs (nothing reads it concurrently).
class ShmRegistry {
public:
    static constexpr usize CAPACITY = vm_package::MAX_VMS * vm_package::MAX_SHM;
    // Contiguous zeroed host RAM of `bytes` bytes (a multiple of 4 KiB), aligned to 2 MiB when
    // `bytes` is a multiple of 2 MiB (stage-2 blocks), or an error (NoMemory).
    using Alloc = Result<HostPhysAddr> (*)(u64 bytes);
    constexpr explicit ShmRegistry(Alloc alloc) : m_alloc(alloc) {}

    // The RAM of region `name` (NUL-terminated, < MAX_NAME) of `size` bytes: the one allocated
    // for the first VM that asked, or a new allocation. Errors: InvalidArgument when the name is
    // already backed with another size (*backed_size says which), NoMemory, OutOfRange when the
    // table is full (more names than MAX_VMS * MAX_SHM: a package cannot reach it).
    Result<HostPhysAddr> backing(const char* name, u64 size, u64* backed_size);
    usize count() const { return m_count; }

private:
    struct Entry {
        char name[vm_package::MAX_NAME];
        u64 size;
        HostPhysAddr hpa;
    };
    Alloc m_alloc;
    Entry m_entries[CAPACITY] = {};
    usize m_count = 0;
};

// HC_DOORBELL from `vcpu` (args: peer VM id, region index): the status for x0 (abi/hypercall.hpp).
// Any CPU; takes no lock but the peer's vGIC lock and the scheduler's (Vm::raise).
i64 vmm_doorbell(Vcpu& vcpu, u64 peer_id, u64 index);
