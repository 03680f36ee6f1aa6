// virtio::GuestMemory over a VM's stage-2 address space: the only memory a virtio device may touch
// on the guest's behalf (docs/virtio.md). What qualifies is the VM's RAM as its config declares it
// (memory regions of map_type Alloc or Identical), nothing else: not reserved carve-outs, not
// passthrough devices, not emulated device windows, not holes, no range that wraps 2^64. Writes
// need a region the config makes writable (flags W): a device never writes where the guest itself
// may not.
//
// Lazily backed RAM is backed on access as if the guest had touched it: a write allocates the 2 MiB
// block (or page) like a stage-2 fault would, a read of never-touched RAM sees zeroes without
// allocating anything, and a copy-on-write image page gets the VM its private copy before a write.
// Each access translates once per stage-2 leaf (a 2 MiB block in the common case) and copies with
// memcpy, under the VM's address-space lock. host_run translates the same way and copies nothing:
// the host disk then moves a block request's data by DMA straight to or from those frames, checked
// by the same covered() as read/write (RAM only; writable where the device writes).
//
// Contract: any CPU, with the calling device's lock held (lock order: device -> the VM's
// address-space lock). The regions are the package's and never change; the address space may be
// reset meanwhile (a VM stop or restart), which the lock serialises.
#pragma once
#include "abi/vm_package.hpp"
#include "virtio/guest_memory.hpp"

class Spinlock;

// Reads, writes and host runs of guest-physical memory that may back lazily allocated RAM: the Vm's
// address-space operations under its lock (vm.cpp binds them; tests bind fakes).
struct GuestRamAccess {
    Result<void> (*read)(void* ctx, u64 gpa, void* dst, usize len);
    Result<void> (*write)(void* ctx, u64 gpa, const void* src, usize len);
    Result<virtio::HostRun> (*host_run)(void* ctx, u64 gpa, usize len, bool device_writes);
    void* ctx;
};

class GuestRam final : public virtio::GuestMemory {
public:
    // `regions`: the VM's memory regions from its package (package_check_vm accepted them: no
    // overlaps, sizes and addresses that do not wrap).
    GuestRam(const vm_package::MemRegion* regions, u32 count, GuestRamAccess access);

    bool is_ram(u64 gpa, u64 len) const override;
    Result<void> read(u64 gpa, void* dst, usize len) override;
    Result<void> write(u64 gpa, const void* src, usize len) override;
    Result<virtio::HostRun> host_run(u64 gpa, usize len, bool device_writes) override;

private:
    struct Range {
        u64 base, size;
        bool writable;
    };
    // [gpa, gpa + len) lies in RAM ranges (adjacent ones may share it), all writable if `write`.
    bool covered(u64 gpa, u64 len, bool write) const;

    Range m_ram[vm_package::MAX_REGIONS];
    u32 m_count = 0;
    GuestRamAccess m_access;
};
