// Per-VM MMIO bus: maps guest-physical windows to emulated devices.
//
// Lookup: devices are kept sorted by base address and found by binary search (at most 4 probes
// for 16 devices, branch-predictable, no per-access allocation). The table is built while the VM
// is being created and is frozen before any vCPU runs, so read()/write()/find() take no lock;
// each device serialises its own state.
#pragma once
#include "base/static_vec.hpp"
#include "devices/mmio_device.hpp"

class MmioBus {
public:
    static constexpr usize Capacity = 16;

    // Registers `dev` (not owned; must outlive the bus). Called only by the VM builder on one CPU
    // before any vCPU of this VM runs. Errors: InvalidArgument (size 0 or window wraps past 2^64),
    // AlreadyMapped (overlaps a registered device), NoMemory (Capacity devices already present).
    Result<void> add(MmioDevice* dev);

    // The device whose window contains `addr`, or nullptr. Any CPU, lock-free (see above).
    MmioDevice* find(GuestPhysAddr addr) const;

    // Dispatch a guest access of width_bytes (1, 2, 4, 8) at `addr`. Any vCPU, any CPU, no locks
    // held. read() returns the value zero-extended (sign extension is the caller's, from the decoded
    // instruction); write() passes only the low width_bytes bytes of `value` on.
    // Errors: InvalidArgument (bad width), NotFound (no device), OutOfRange (the access straddles
    // the end of the device window), or whatever the device returns.
    Result<u64> read(GuestPhysAddr addr, unsigned width_bytes) const;
    Result<void> write(GuestPhysAddr addr, unsigned width_bytes, u64 value) const;
    // The same, for a device the caller already found with find(addr): the exit path looks the
    // device up once to tell device accesses from RAM faults, then dispatches without a second search.
    Result<u64> read(MmioDevice& dev, GuestPhysAddr addr, unsigned width_bytes) const;
    Result<void> write(MmioDevice& dev, GuestPhysAddr addr, unsigned width_bytes, u64 value) const;

    usize size() const { return m_devices.size(); }

private:
    Result<MmioDevice*> route(GuestPhysAddr addr, unsigned width_bytes) const;
    static Result<void> check_access(const MmioDevice& dev, GuestPhysAddr addr, unsigned width_bytes);
    StaticVec<MmioDevice*, Capacity> m_devices; // sorted by base(), non-overlapping
};
