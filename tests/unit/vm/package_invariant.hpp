// An independent statement of what the image may assume about a VM record that
// package_check_vm accepted, used by the property pass (package_test.cpp) and the libFuzzer target
// (tests/fuzz/). Written apart from src/vmm/package.cpp on purpose, in a different style: 128-bit
// arithmetic instead of overflow-avoiding comparisons, sorted intervals instead of pairwise
// loops. It also reads every byte the image would read through the record, so that ASan reports
// any record the validator let through with a pointer outside the package.
#pragma once
#include "abi/vm_package.hpp"
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace package_invariant {

namespace vp = vm_package;
using u128 = unsigned __int128;

struct Interval {
    u128 begin, end;
    std::string what;
};

// "" when the record satisfies every invariant, else what it breaks.
inline std::string check(const uint8_t* pkg, size_t len, uint32_t index, uint32_t max_cpus) {
    vp::PackageHeader h;
    if (len < sizeof h) return "package shorter than its header";
    std::memcpy(&h, pkg, sizeof h);
    if (h.total_size > len) return "total_size beyond the buffer";
    const u128 total = h.total_size;
    if (h.resident_size > h.total_size) return "resident part beyond the package";
    // What the image reads in place lies in the resident part; only kernel and ramdisk blobs
    // (copied into the VM, possibly from a boot medium) may lie past it.
    auto inside = [&](u128 off, u128 size) { return off + size <= h.resident_size; };
    auto in_package = [&](u128 off, u128 size) { return off + size <= total; };
    if (index >= h.vm_count || !inside(h.vm_records, u128(h.vm_count) * sizeof(vp::VmRecord)))
        return "record outside the package";
    vp::VmRecord r;
    std::memcpy(&r, pkg + h.vm_records + u128(index) * sizeof r, sizeof r);

    volatile uint8_t sink = 0; // reads of everything the image reads
    auto touch = [&](u128 off, u128 size) {
        for (u128 i = 0; i < size; ++i) sink = sink + pkg[size_t(off + i)];
    };
    if (std::find(std::begin(r.name), std::end(r.name), '\0') == std::end(r.name)) return "name without NUL";
    for (uint32_t j = 0; j < index; ++j) {
        vp::VmRecord o;
        std::memcpy(&o, pkg + h.vm_records + u128(j) * sizeof o, sizeof o);
        if (o.id == r.id) return "duplicate VM id";
    }
    if (r.cpu_num < 1 || r.cpu_num > vp::MAX_VCPUS) return "cpu_num out of range";
    for (uint32_t i = 0; i < r.cpu_num; ++i)
        if (r.phys_cpu_ids[i] != vp::ANY_CPU && r.phys_cpu_ids[i] >= max_cpus) return "phys_cpu_ids out of range";
    if (r.interrupt_mode > 1) return "unknown or unimplemented interrupt_mode";
    if (r.region_count > vp::MAX_REGIONS || r.emu_count > vp::MAX_EMU_DEVICES || r.pt_count > vp::MAX_PT_DEVICES)
        return "count above the limit";
    if (!inside(r.regions, u128(r.region_count) * sizeof(vp::MemRegion)) ||
        !inside(r.emu_devices, u128(r.emu_count) * sizeof(vp::EmuDevice)) ||
        !inside(r.pt_devices, u128(r.pt_count) * sizeof(vp::PassthroughDevice)))
        return "array outside the package";
    if (r.regions % 8 || r.emu_devices % 8 || r.pt_devices % 8) return "array misaligned";
    touch(r.regions, u128(r.region_count) * sizeof(vp::MemRegion));
    touch(r.emu_devices, u128(r.emu_count) * sizeof(vp::EmuDevice));
    touch(r.pt_devices, u128(r.pt_count) * sizeof(vp::PassthroughDevice));
    const vp::Blob* blobs[] = {&r.kernel, &r.ramdisk, &r.dtb};
    const uint64_t loads[] = {r.kernel_load_addr, r.ramdisk_load_addr, r.dtb_load_addr};
    if (r.kernel.size == 0) return "no kernel";
    for (auto* b : blobs) {
        if (!b->size) continue;
        if (!(b == &r.dtb ? inside(b->offset, b->size) : in_package(b->offset, b->size)) || b->offset % 4096)
            return "blob outside the package (dtb: its resident part) or misaligned";
        touch(b->offset, b->size);
    }
    if (r.cmdline) {
        if (r.cmdline >= h.resident_size) return "cmdline outside";
        if (!std::memchr(pkg + r.cmdline, 0, size_t(h.resident_size - r.cmdline))) return "cmdline without NUL";
    }

    std::vector<vp::MemRegion> regions(r.region_count);
    if (r.region_count) std::memcpy(regions.data(), pkg + r.regions, regions.size() * sizeof(vp::MemRegion));
    std::vector<Interval> all; // every guest-physical window: must be pairwise disjoint
    auto page_range = [](u128 base, u128 size) { return size && base % 4096 == 0 && size % 4096 == 0 && base + size <= (u128(1) << 64); };
    for (auto& m : regions) {
        if (!page_range(m.gpa, m.size)) return "bad region range";
        if (m.map_type > 2 || m.flags > 15) return "unknown region map_type or flags";
        all.push_back({m.gpa, u128(m.gpa) + m.size, "region"});
    }
    for (uint32_t i = 0; i < r.emu_count; ++i) {
        vp::EmuDevice d;
        std::memcpy(&d, pkg + r.emu_devices + u128(i) * sizeof d, sizeof d);
        if (!std::memchr(d.name, 0, sizeof d.name)) return "emu name without NUL";
        if (d.type < 1 || d.type > 5 || d.cfg_count > 8) return "bad emu type or cfg_count";
        if (d.type >= 2 && (d.length != 0x1000 || d.base_gpa % 0x1000)) return "bad virtio-mmio window";
        if (d.type == 2) { // virtio-blk: what the image reads through cfg must be inside the package
            uint64_t c[4] = {};
            for (uint32_t k = 0; k < 4 && k < d.cfg_count; ++k) c[k] = d.cfg[k];
            if (c[2] == 0 || c[2] % 512 || c[3] > 1) return "bad virtio-blk size or flags";
            if (c[0] == 1 && (!inside(c[1], c[2]) || c[1] % 4096)) return "virtio-blk image outside the package";
            if (c[0] == 2 && (c[1] % 512 || u128(c[1]) + c[2] > (u128(1) << 64))) return "bad virtio-blk host region";
            if (c[0] != 1 && c[0] != 2) return "unknown virtio-blk backing";
        }
        if (!page_range(d.base_gpa, d.length)) return "bad emu range";
        all.push_back({d.base_gpa, u128(d.base_gpa) + d.length, "emu"});
    }
    for (uint32_t i = 0; i < r.pt_count; ++i) {
        vp::PassthroughDevice d;
        std::memcpy(&d, pkg + r.pt_devices + u128(i) * sizeof d, sizeof d);
        if (!std::memchr(d.name, 0, sizeof d.name)) return "pt name without NUL";
        if (!page_range(d.base_gpa, d.length) || !page_range(d.base_hpa, d.length)) return "bad pt range";
        all.push_back({d.base_gpa, u128(d.base_gpa) + d.length, "pt"});
    }
    if (r.interrupt_mode == 1) { // emulated GICv3: both windows take part in the no-overlap rule
        if (r.intc_lines < 32 || r.intc_lines > vp::MAX_SPIS) return "spi_count out of range";
        if (r.intc_base % 0x10000 || r.intc_base2 % 0x10000) return "vGIC window misaligned";
        const u128 gicr_size = u128(r.cpu_num) * vp::GICR_STRIDE;
        if (u128(r.intc_base) + vp::GICD_SIZE > (u128(1) << 64) || u128(r.intc_base2) + gicr_size > (u128(1) << 64))
            return "vGIC window wraps";
        all.push_back({r.intc_base, u128(r.intc_base) + vp::GICD_SIZE, "gicd"});
        all.push_back({r.intc_base2, u128(r.intc_base2) + gicr_size, "gicr"});
        for (uint32_t i = 0; i < r.emu_count + r.pt_count; ++i) {
            uint32_t irq = 0;
            if (i < r.emu_count) {
                vp::EmuDevice d;
                std::memcpy(&d, pkg + r.emu_devices + u128(i) * sizeof d, sizeof d);
                irq = d.irq;
            } else {
                vp::PassthroughDevice d;
                std::memcpy(&d, pkg + r.pt_devices + u128(i - r.emu_count) * sizeof d, sizeof d);
                irq = d.irq;
            }
            if (irq && (irq < 32 || irq >= 32 + u128(r.intc_lines))) return "device irq outside the SPIs";
        }
    } else if (r.intc_base || r.intc_base2 || r.intc_lines) {
        return "vGIC layout without an emulated GIC";
    }
    // Shared-memory regions (version 3): named, page ranges within MAX_SHM_SIZE, disjoint from
    // everything else; a doorbell irq is a free SPI; peers are other VMs, each once.
    if (r.shm_count > vp::MAX_SHM) return "shm count above the limit";
    if (!inside(r.shm, u128(r.shm_count) * sizeof(vp::ShmRegion)) || r.shm % 8) return "shm array outside or misaligned";
    touch(r.shm, u128(r.shm_count) * sizeof(vp::ShmRegion));
    std::vector<uint32_t> used_irqs;
    for (uint32_t i = 0; i < r.emu_count; ++i) {
        vp::EmuDevice d;
        std::memcpy(&d, pkg + r.emu_devices + u128(i) * sizeof d, sizeof d);
        used_irqs.push_back(d.irq);
    }
    for (uint32_t i = 0; i < r.pt_count; ++i) {
        vp::PassthroughDevice d;
        std::memcpy(&d, pkg + r.pt_devices + u128(i) * sizeof d, sizeof d);
        used_irqs.push_back(d.irq);
    }
    std::vector<std::string> shm_names;
    for (uint32_t i = 0; i < r.shm_count; ++i) {
        vp::ShmRegion s;
        std::memcpy(&s, pkg + r.shm + u128(i) * sizeof s, sizeof s);
        if (!std::memchr(s.name, 0, sizeof s.name) || !s.name[0]) return "shm name empty or without NUL";
        if (std::count(shm_names.begin(), shm_names.end(), std::string(s.name))) return "shm name twice";
        shm_names.push_back(s.name);
        if (!page_range(s.gpa, s.size) || s.size > vp::MAX_SHM_SIZE) return "bad shm range";
        all.push_back({s.gpa, u128(s.gpa) + s.size, "shm"});
        if (s.irq) {
            if (r.interrupt_mode != 1 || s.irq < 32 || s.irq >= 32 + u128(r.intc_lines)) return "shm irq not an SPI";
            if (std::count(used_irqs.begin(), used_irqs.end(), s.irq)) return "shm irq used twice";
            used_irqs.push_back(s.irq);
        }
        if (s.peer_count > vp::MAX_SHM_PEERS) return "too many shm peers";
        for (uint32_t p = 0; p < s.peer_count; ++p)
            if (s.peers[p] == r.id || std::count(s.peers, s.peers + p, s.peers[p])) return "shm peer itself or twice";
    }
    std::sort(all.begin(), all.end(), [](auto& a, auto& b) { return a.begin < b.begin; });
    for (size_t i = 1; i < all.size(); ++i)
        if (all[i].begin < all[i - 1].end) return all[i - 1].what + " overlaps " + all[i].what;

    auto ram = [](const vp::MemRegion& m) { return m.map_type <= 1 && !(m.flags & 8); };
    std::vector<Interval> images;
    for (int k = 0; k < 3; ++k) {
        if (!blobs[k]->size) continue;
        u128 b = loads[k], e = b + blobs[k]->size;
        if (e > (u128(1) << 64)) return "image wraps";
        bool in_one = std::any_of(regions.begin(), regions.end(),
                                  [&](auto& m) { return ram(m) && m.gpa <= b && e <= u128(m.gpa) + m.size; });
        if (!in_one) return "image not inside one RAM region";
        images.push_back({b, e, "image"});
    }
    std::sort(images.begin(), images.end(), [](auto& a, auto& b) { return a.begin < b.begin; });
    for (size_t i = 1; i < images.size(); ++i)
        if (images[i].begin < images[i - 1].end) return "images overlap";
    bool entry_ok = std::any_of(regions.begin(), regions.end(), [&](auto& m) {
        return ram(m) && (m.flags & 4) && m.gpa <= r.entry_point && u128(r.entry_point) < u128(m.gpa) + m.size;
    });
    if (!entry_ok) return "entry point not in an executable RAM region";
    (void)sink;
    return "";
}

} // namespace package_invariant
