// The image side of making a virtio-blk device: its backend, with memory from cxvisor's allocators.
// Kept apart from blk.cpp, which host tests build without the kernel.
#include "base/format.hpp"
#include "drivers/virtio_blk_host.hpp"
#include "kernel/frames.hpp"
#include "kernel/log.hpp"
#include "virtio/blk.hpp"
#include <new>

namespace virtio {

namespace {

void* frames_bytes(usize bytes) {
    auto r = frames_alloc(align_up(bytes, FRAME_SIZE) / FRAME_SIZE, FRAME_SIZE);
    return r.is_ok() ? reinterpret_cast<void*>(r.value().value()) : nullptr; // identity map
}
void free_frames_bytes(void* p, usize bytes) {
    frames_free(HostPhysAddr(u64(uptr(p))), align_up(bytes, FRAME_SIZE) / FRAME_SIZE);
}

} // namespace

Result<Device*> create_block_device(const vm_package::EmuDevice& d, const u8* package, u64 package_size,
                                    const char* vm_name, u32 vm_id) {
    using vm_package::cfg_word;
    const u64 where = cfg_word(d, 1), size = cfg_word(d, 2);
    bool read_only = cfg_word(d, 3) & vm_package::BLK_FLAG_READ_ONLY;
    auto fail = [&](Error e, const char* why) -> Result<Device*> {
        kprint("cxvisor: vm %u (%s): device %.31s: %s\n", vm_id, vm_name, d.name, why);
        return e;
    };
    BlockBackend* backend = nullptr;
    if (vm_package::BlkBacking(cfg_word(d, 0)) == vm_package::BlkBacking::RamImage) {
        if (where > package_size || size > package_size - where) // package_check_vm checked: never trust twice less
            return fail(Error::BadFormat, "the disk image lies outside the package");
        auto r = RamDiskBackend::create(package + where, size, frames_bytes, free_frames_bytes);
        if (r.is_error()) return fail(r.error(), "no memory for the RAM disk");
        backend = r.value();
    } else {
        const char* why = "";
        auto r = HostRegionBackend::create(where, size, &why);
        if (r.is_error()) {
            char line[192];
            if (HostDisk* disk = HostDisk::get())
                format(line, sizeof line, "%s (region [0x%lx, +0x%lx), disk 0x%lx bytes)", why, where, size,
                       disk->capacity_bytes());
            else
                format(line, sizeof line, "%s", why);
            return fail(r.error(), line);
        }
        backend = r.value();
        read_only |= HostDisk::get()->read_only(); // a read-only host disk: say so to the guest (VIRTIO_BLK_F_RO)
    }
    char id[kBlkIdBytes + 1];
    format(id, sizeof id, "cxv%u-%.16s", vm_id, d.name); // GET_ID: /sys/block/vda/serial in Linux
    auto* dev = new (std::nothrow) BlockDevice(backend, BlockDevice::Options{read_only, id});
    if (!dev) {
        delete backend;
        return fail(Error::NoMemory, "out of memory");
    }
    return static_cast<Device*>(dev);
}

} // namespace virtio
