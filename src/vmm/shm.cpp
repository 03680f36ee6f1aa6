#include "vmm/shm.hpp"
#include "abi/hypercall.hpp"
#include "base/string.hpp"
#include "kernel/frames.hpp"
#include "kernel/log.hpp"
#include "vmm/vmm.hpp"

using namespace vm_package;

Result<HostPhysAddr> ShmRegistry::backing(const char* name, u64 size, u64* backed_size) {
    for (usize i = 0; i < m_count; ++i) {
        if (strcmp(m_entries[i].name, name) != 0) continue;
        *backed_size = m_entries[i].size;
        if (m_entries[i].size != size) return Error::InvalidArgument;
        return m_entries[i].hpa;
    }
    if (m_count == CAPACITY) return Error::OutOfRange;
    const HostPhysAddr hpa = TRY(m_alloc(size));
    Entry& e = m_entries[m_count++];
    const usize len = strlen(name);
    memcpy(e.name, name, len < MAX_NAME ? len : MAX_NAME - 1);
    e.size = size;
    e.hpa = hpa;
    *backed_size = size;
    return hpa;
}

namespace {

Result<HostPhysAddr> alloc_frames(u64 bytes) {
    constexpr u64 BLOCK = 2 * MiB;
    if (bytes % BLOCK == 0)
        if (auto r = frames_alloc(bytes / FRAME_SIZE, BLOCK); r.is_ok()) return r.value();
    return frames_alloc(bytes / FRAME_SIZE, FRAME_SIZE);
}

// constinit: the image runs no static constructors (a dynamic initialiser would leave m_alloc null).
constinit ShmRegistry g_shm(alloc_frames);

} // namespace

Result<HostPhysAddr> vmm_shm_backing(const Vm& vm, const ShmRegion& s) {
    u64 backed = 0;
    auto r = g_shm.backing(s.name, s.size, &backed);
    if (r.is_ok()) return r;
    if (r.error() == Error::InvalidArgument)
        kprint("cxvisor: vm %u (%s): shm %s: size %lx differs from the %lx an earlier VM gave it (corrupt package?)\n",
               vm.id(), vm.name(), s.name, s.size, backed);
    else
        kprint("cxvisor: vm %u (%s): shm %s: cannot allocate %lu KiB of host RAM for it: %s\n", vm.id(), vm.name(),
               s.name, s.size / KiB, error_name(r.error()));
    return r.error();
}

i64 vmm_doorbell(Vcpu& vcpu, u64 peer_id, u64 index) {
    using namespace cxv_abi;
    Vm& vm = vcpu.vm();
    const ShmRegion* mine = vm.shm(index);
    if (!mine) {
        vm.report(vcpu, "HC_DOORBELL: region %lu does not exist (the VM has %u): INVALID", index, vm.record().shm_count);
        return CXV_INVALID;
    }
    bool named = false;
    for (u32 i = 0; i < mine->peer_count && !named; ++i) named = mine->peers[i] == peer_id;
    if (!named) {
        vm.report(vcpu, "HC_DOORBELL: shm %s does not name vm %lu among its peers: DENIED", mine->name, peer_id);
        return CXV_DENIED;
    }
    Vm* peer = nullptr;
    for (usize i = 0; i < vmm_vm_count() && !peer; ++i)
        if (vmm_vm(i)->id() == peer_id) peer = vmm_vm(i);
    if (!peer) return CXV_PEER_DOWN; // named, but not created at boot (its config was refused)
    const ShmRegion* theirs = peer->shm_named(mine->name);
    if (!theirs || !theirs->irq || !peer->vintc()) {
        // cxv-vmconfig refuses such a package; the image does not trust it.
        vm.report(vcpu, "HC_DOORBELL: vm %u (%s) has no doorbell for shm %s: DENIED", peer->id(), peer->name(), mine->name);
        return CXV_DENIED;
    }
    // No lock holds the peer's state: one that stops right after this look gets the edge in its
    // stopped vGIC (cleared when it starts again) or, if it has restarted meanwhile, as an early
    // doorbell of its new life. The vGIC's own lock keeps each raise whole. A ring means "look at
    // the region", never data: a spurious one is harmless by the protocol's definition.
    const VmState s = peer->state();
    if (s != VmState::Running && s != VmState::Paused) return CXV_PEER_DOWN;
    peer->raise(theirs->irq);
    return CXV_OK;
}
