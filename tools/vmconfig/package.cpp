// Laying out the VM package (src/abi/vm_package.hpp) and appending it to the hypervisor image.
#include "abi/vm_package.hpp"
#include "base/types.hpp"
#include "board.hpp"
#include "vmconfig.hpp"
#include <algorithm>
#include <bit>
#include <cstring>
#include <memory>

namespace vmconfig {
namespace vp = vm_package;

// The structs are copied byte for byte, so the host must lay them out as the image does.
static_assert(std::endian::native == std::endian::little, "the package is little-endian");
static_assert(
    sizeof(vp::PackageHeader) == 48 && sizeof(vp::Blob) == 16 && sizeof(vp::MemRegion) == 24 &&
        sizeof(vp::EmuDevice) == 128 && sizeof(vp::PassthroughDevice) == 64 && sizeof(vp::VmRecord) == 272 &&
        sizeof(vp::ShmRegion) == 120,
    "vm_package.hpp changed: update cxv-vmconfig, the image reader and docs/configuration.md together");

namespace {

constexpr uint64_t BLOB_ALIGN = 4 * KiB;
constexpr uint64_t BIG_BLOB = 2 * MiB, BIG_BLOB_ALIGN = 2 * MiB;
// The package follows the image's memory footprint (BSS included) at the next page: every byte of
// padding is a byte the loader copies, and QEMU's loader keeps a second copy of the whole file.
constexpr uint64_t PACKAGE_ALIGN = 4 * KiB;
// Every ISA's cxvisor image starts with a header of at least 64 bytes; its fields (magic, tag,
// package_offset, the memory footprint) are its board's (board_<isa>.cpp).
constexpr size_t HDR_SIZE = 0x40;

void put64(Bytes& b, size_t off, uint64_t v) { memcpy(&b[off], &v, 8); }

template <size_t N> void copy_name(char (&dst)[N], const std::string& s) {
    memcpy(dst, s.data(), std::min(s.size(), N - 1));
}

// The VM's [[shm]] entries with their peers as VM ids (check_across found every peer).
std::vector<vp::ShmRegion> shm_records(const std::vector<VmConfig>& vms, const VmConfig& vm) {
    std::vector<vp::ShmRegion> out;
    for (auto& s : vm.shm) {
        vp::ShmRegion r{};
        copy_name(r.name, s.name);
        r.gpa = s.gpa, r.size = s.size, r.irq = s.irq;
        for (auto& p : s.peers)
            if (const VmConfig* peer = find_peer(vms, p); peer && r.peer_count < vp::MAX_SHM_PEERS)
                r.peers[r.peer_count++] = peer->id.value_or(0);
        out.push_back(r);
    }
    return out;
}

} // namespace

Bytes build_package(const std::vector<VmConfig>& vms, uint64_t base) {
    const uint64_t records = sizeof(vp::PackageHeader);
    Bytes out(records + vms.size() * sizeof(vp::VmRecord));
    // The zero runs alignment left before a 2 MiB-aligned blob: [start, end) package offsets.
    std::vector<std::pair<uint64_t, uint64_t>> gaps;
    // Appends at the next offset that is a multiple of `align` counted from the image start
    // (`base` + offset; base is page-aligned, so only 2 MiB alignments depend on it), padding with
    // zeroes; returns the offset. With `fill`, the first gap the data fits in is used instead.
    auto append = [&](const void* data, size_t size, uint64_t align, bool fill = false) {
        if (fill)
            for (auto& g : gaps) {
                const uint64_t at = align_up(base + g.first, align) - base;
                if (at + size > g.second) continue;
                memcpy(out.data() + at, data, size);
                g.first = at + size; // what is left of the gap after it (the part before stays zero)
                return at;
            }
        const uint64_t end = out.size(), off = align_up(base + end, align) - base;
        if (off - end >= BLOB_ALIGN) gaps.emplace_back(end, off);
        out.resize(off + size);
        memcpy(out.data() + off, data, size);
        return off;
    };
    auto array = [&]<typename T>(const std::vector<T>& v) -> uint64_t { // 0 when empty
        return v.empty() ? 0 : append(v.data(), v.size() * sizeof(T), alignof(T));
    };
    std::vector<vp::VmRecord> recs(vms.size());
    for (size_t i = 0; i < vms.size(); ++i) {
        const VmConfig& vm = vms[i];
        vp::VmRecord& r = recs[i];
        r.id = vm.id.value_or(0);
        r.cpu_num = vm.cpu_num;
        copy_name(r.name, vm.name);
        std::fill(std::begin(r.phys_cpu_ids), std::end(r.phys_cpu_ids), vp::ANY_CPU);
        std::copy_n(vm.phys_cpu_ids.begin(), std::min<size_t>(vm.phys_cpu_ids.size(), vp::MAX_VCPUS),
                    r.phys_cpu_ids);
        r.entry_point = vm.entry_point;
        r.kernel_load_addr = vm.kernel.load_addr;
        r.ramdisk_load_addr = vm.ramdisk.present ? vm.ramdisk.load_addr : 0;
        r.dtb_load_addr = vm.dtb.present ? vm.dtb.load_addr : 0;
        r.interrupt_mode = vm.interrupt_mode;
        r.flags = vm.autostart ? 0 : vp::VM_FLAG_NO_AUTOSTART;
        if (vm.interrupt_mode == uint32_t(vp::InterruptMode::Emulated))
            r.intc_base = vm.intc_base, r.intc_base2 = vm.intc_base2, r.intc_lines = vm.intc_lines;

        std::vector<vp::MemRegion> regions;
        for (auto& m : vm.regions) regions.push_back({m.gpa, m.size, m.flags, m.map_type});
        std::vector<vp::EmuDevice> emu;
        for (auto& d : vm.emu_devices) {
            vp::EmuDevice e{{}, d.base, d.length, d.irq, d.type, uint32_t(d.cfg.size()), d.space, {}};
            copy_name(e.name, d.name);
            std::copy_n(d.cfg.begin(), std::min(d.cfg.size(), std::size(e.cfg)), e.cfg);
            emu.push_back(e);
        }
        std::vector<vp::PassthroughDevice> pt;
        for (auto& d : vm.pt_devices) {
            vp::PassthroughDevice p{{}, d.base_gpa, d.base_hpa, d.length, d.irq, 0};
            copy_name(p.name, d.name);
            pt.push_back(p);
        }
        r.region_count = uint32_t(regions.size()), r.regions = array(regions);
        r.emu_count = uint32_t(emu.size()), r.emu_devices = array(emu);
        r.pt_count = uint32_t(pt.size()), r.pt_devices = array(pt);
        std::vector<vp::ShmRegion> shm = shm_records(vms, vm);
        r.shm_count = uint32_t(shm.size()), r.shm = array(shm);
    }
    for (size_t i = 0; i < vms.size(); ++i) // the string table
        if (!vms[i].cmdline.empty())
            recs[i].cmdline = append(vms[i].cmdline.c_str(), vms[i].cmdline.size() + 1, 1);
    // In a boot image (base > 0), blobs of 2 MiB or more start 2 MiB-aligned from the image start
    // (`base`: where the package sits, modulo 2 MiB), so the image can map one into guest RAM with
    // 2 MiB stage-2 blocks instead of copying it (vm/vm.cpp, map_image). Smaller blobs go into the
    // zeroes that alignment left before a big one when they fit there, so the file carries no
    // padding it can avoid.
    // A package written alone is for a boot medium (vm_package.hpp): what the image reads in place
    // (dtbs, RAM disks) comes first and kernels and ramdisks last, so that the image holds only
    // the part before them in RAM; they are copied into each VM's own RAM, so 4 KiB alignment is
    // all they need.
    // VMs booting the same file share one copy: the image never writes a blob, and each VM's
    // writes to its RAM land in its own pages.
    const bool alone = base == 0;
    uint64_t resident = out.size(); // the end of what the image reads in place
    std::vector<std::pair<const Image*, vp::Blob>> emitted;
    std::vector<std::unique_ptr<Image>> disks; // stable addresses for `emitted`
    auto blob = [&](const Image& img, bool in_place) {
        if (!img.present) return vp::Blob{0, 0};
        const auto same = std::find_if(emitted.begin(), emitted.end(),
                                       [&](const auto& e) { return e.first->data == img.data; });
        vp::Blob b;
        if (same != emitted.end()) {
            b = same->second;
        } else {
            const bool big = !alone && img.data.size() >= BIG_BLOB;
            b = {append(img.data.data(), img.data.size(), big ? BIG_BLOB_ALIGN : BLOB_ALIGN, !big), img.data.size()};
            emitted.emplace_back(&img, b);
        }
        if (in_place) resident = std::max(resident, b.offset + b.size);
        return b;
    };
    auto in_place_blobs = [&](size_t i) {
        recs[i].dtb = blob(vms[i].dtb, true);
        // RAM disks: the blob's offset goes into the device's cfg[1] (vm_package.hpp).
        for (size_t d = 0; d < vms[i].emu_devices.size(); ++d) {
            const EmuDev& dev = vms[i].emu_devices[d];
            if (dev.disk.empty()) continue;
            Image img{true, 0, dev.disk.size(), dev.disk, dev.at};
            disks.push_back(std::make_unique<Image>(std::move(img)));
            vp::EmuDevice e;
            uint64_t at = recs[i].emu_devices + d * sizeof e;
            memcpy(&e, out.data() + at, sizeof e);
            e.cfg[1] = blob(*disks.back(), true).offset;
            memcpy(out.data() + at, &e, sizeof e);
        }
    };
    if (alone)
        for (size_t i = 0; i < vms.size(); ++i) in_place_blobs(i);
    for (size_t i = 0; i < vms.size(); ++i) {
        recs[i].kernel = blob(vms[i].kernel, false);
        recs[i].ramdisk = blob(vms[i].ramdisk, false);
        if (!alone) in_place_blobs(i);
    }
    memcpy(out.data() + records, recs.data(), recs.size() * sizeof(vp::VmRecord));
    // The guest board the VMs were read for (one per run: --arch); aarch64's for no VMs.
    const Isa isa = vms.empty() ? Isa::Aarch64 : vms.front().board->isa();
    vp::PackageHeader h{vp::MAGIC, vp::VERSION, out.size(), uint32_t(vms.size()), sizeof(vp::VmRecord),
                        records, uint32_t(isa), 0, std::min<uint64_t>(align_up(resident, BLOB_ALIGN), out.size())};
    memcpy(out.data(), &h, sizeof h);
    return out;
}

std::optional<Isa> image_isa(const Bytes& img) {
    if (img.size() < HDR_SIZE) return {};
    for (Isa isa : {Isa::Aarch64, Isa::Riscv64, Isa::X86_64, Isa::Loongarch64}) // the magic of the ISA's header
        if (guest_board(isa)->is_image(img)) return isa;
    return {};
}

bool check_image(const Bytes& img, Isa isa, const std::string& name, Diags& diags) {
    const GuestBoard* board = guest_board(isa);
    if (!board || !board->check_image(img, name, diags)) return false;
    uint64_t size = board->image_size(img);
    if (size < img.size() || size > (1ull << 40))
        return diags.push_back({name, 0, "",
                                "not a cxvisor image: " + std::string(board->image_size_field()) + " (" + hex(size) + ") must cover the file (" +
                                    hex(img.size()) + " bytes) and stay below 1 TiB"}),
               false;
    return true;
}

uint64_t package_offset(const Bytes& image, Isa isa) {
    return align_up(guest_board(isa)->image_size(image), PACKAGE_ALIGN);
}

Bytes compose_image(const Bytes& image, Isa isa, const Bytes& package) {
    const GuestBoard& board = *guest_board(isa);
    const uint64_t package_offset = vmconfig::package_offset(image, isa);
    Bytes out(image);
    out.resize(package_offset);
    out.insert(out.end(), package.begin(), package.end());
    put64(out, board.package_offset_field(), package_offset);
    board.set_image_size(out, package_offset + package.size()); // the new memory footprint
    return out;
}

} // namespace vmconfig
