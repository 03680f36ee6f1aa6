#include "vmm/package.hpp"
#include "base/format.hpp"
#include "base/string.hpp"
#include "vintc/layout.hpp"
#include "virtio/net_config.hpp"
#include <stdarg.h>

using namespace vm_package;

Result<const PackageHeader*> package_open(const void* package, u64 bytes, Isa isa, const char** why) {
    auto fail = [&](const char* reason) -> Result<const PackageHeader*> {
        *why = reason;
        return Error::BadFormat;
    };
    if (bytes < sizeof(PackageHeader)) return fail("shorter than its header");
    auto* h = static_cast<const PackageHeader*>(package);
    if (h->magic != MAGIC) return fail("bad magic");
    if (h->version != VERSION || h->vm_record_size != sizeof(VmRecord))
        return fail("made for another version of cxvisor (rebuild it with cxv-vmconfig)");
    if (h->isa != u32(isa)) {
        // Each ISA's guest board differs (device trees, image headers, interrupt numbers).
        switch (Isa(h->isa)) {
        case Isa::Aarch64: return fail("built for aarch64 guests, not for this image's ISA (cxv-vmconfig --arch)");
        case Isa::Riscv64: return fail("built for riscv64 guests, not for this image's ISA (cxv-vmconfig --arch)");
        case Isa::X86_64: return fail("built for x86_64 guests, not for this image's ISA (cxv-vmconfig --arch)");
        case Isa::Loongarch64: return fail("built for loongarch64 guests, not for this image's ISA (cxv-vmconfig --arch)");
        }
        return fail("built for an unknown ISA (cxv-vmconfig --arch)");
    }
    if (h->total_size < sizeof(PackageHeader) || h->total_size > bytes) return fail("size larger than the image");
    if (h->vm_count > MAX_VMS) return fail("too many VMs");
    if (h->resident_size > h->total_size || h->resident_size < sizeof(PackageHeader) ||
        (!is_aligned(h->resident_size, 4096) && h->resident_size != h->total_size))
        return fail("resident_size is not a page boundary inside the package");
    if (h->vm_records > h->resident_size || u64(h->vm_count) * sizeof(VmRecord) > h->resident_size - h->vm_records)
        return fail("VM records outside the package");
    if (!is_aligned(h->vm_records, alignof(VmRecord))) return fail("VM records not 8-byte aligned");
    return h;
}

namespace {

constexpr u64 PAGE = 4096;
constexpr u64 BLOB_ALIGN = 4096; // vm_package.hpp: blobs start 4 KiB-aligned
constexpr u32 FLAG_X = 4, FLAG_DEVICE = 8, KNOWN_FLAGS = 0xF;

bool overlaps(u64 a, u64 a_size, u64 b, u64 b_size) { return a < b + b_size && b < a + a_size; }
// [inner, inner + inner_size) inside [outer, outer + outer_size); neither wraps (checked before).
bool contains(u64 outer, u64 outer_size, u64 inner, u64 inner_size) {
    return inner >= outer && inner_size <= outer_size && inner - outer <= outer_size - inner_size;
}
template <usize N> bool terminated(const char (&s)[N]) {
    for (char c : s)
        if (c == 0) return true;
    return false;
}

// One record's checks. Each returns false after writing the reason; the first failure ends the run.
class RecordCheck {
public:
    RecordCheck(const PackageHeader& h, const VmRecord& r, char* why, usize cap)
        : m_base(reinterpret_cast<const u8*>(&h)), m_size(h.resident_size), m_total(h.total_size), m_r(r), m_why(why), m_cap(cap), m_isa(h.isa) {
        m_has_layout = vintc_layout_of(h.isa, r.cpu_num, m_layout) != nullptr;
    }

    bool fail(const char* fmt, ...) __attribute__((format(printf, 2, 3))) {
        // The name is printed with a bound: it is checked for its NUL only after this may run.
        usize n = format(m_why, m_cap, "vm %u (%.31s): ", m_r.id, m_r.name);
        if (n < m_cap) {
            va_list ap;
            va_start(ap, fmt);
            vformat(m_why + n, m_cap - n, fmt, ap);
            va_end(ap);
        }
        return false;
    }

    // Inside the package / inside its resident part, the bytes the image reads in place.
    bool in_package(u64 off, u64 size) const { return off <= m_total && size <= m_total - off; }
    bool in_place(u64 off, u64 size) const { return off <= m_size && size <= m_size - off; }
    // What [off, off + size) runs past, for the reasons below ("the package end (<total>)" or "the
    // package's resident part (<resident>)"), or null when it lies where it must: inside the
    // package, and inside the resident part unless the image `copies` it (a kernel or ramdisk).
    const char* runs_past(u64 off, u64 size, bool copied) {
        if (!in_package(off, size)) format(m_past, sizeof m_past, "the package end (%lx)", m_total);
        else if (!copied && !in_place(off, size)) format(m_past, sizeof m_past, "the package's resident part (%lx)", m_size);
        else return nullptr;
        return m_past;
    }

    // An array of `count` T at package offset `off`, aligned for T. count 0: the offset must still
    // lie inside the package (so that forming the pointer is defined).
    template <typename T> bool array(const char* what, u64 off, u32 count, u32 max) {
        if (count > max) return fail("%s: %u entries, at most %u", what, count, max);
        if (const char* past = runs_past(off, u64(count) * sizeof(T), false))
            return fail("%s: %u entries at offset %lx run past %s", what, count, off, past);
        if (!is_aligned(off, alignof(T))) return fail("%s: offset %lx is not %zu-byte aligned", what, off, alignof(T));
        return true;
    }
    template <typename T> const T* at(u64 off) const { return reinterpret_cast<const T*>(m_base + off); }

    // `copied`: a kernel or ramdisk, which the image copies into the VM's RAM, so it may lie past
    // the resident part (on a boot medium); any other blob is read in place.
    bool blob(const char* what, const Blob& b, bool copied) {
        if (!b.size) return true;
        if (const char* past = runs_past(b.offset, b.size, copied))
            return fail("%s blob [%lx, +%lx) runs past %s", what, b.offset, b.size, past);
        if (!is_aligned(b.offset, BLOB_ALIGN)) return fail("%s blob offset %lx is not 4 KiB aligned", what, b.offset);
        return true;
    }

    bool cmdline() {
        if (!m_r.cmdline) return true;
        if (m_r.cmdline >= m_size)
            return fail("cmdline offset %lx is outside the package's resident part (%lx)", m_r.cmdline, m_size);
        for (u64 i = m_r.cmdline; i < m_size; ++i)
            if (m_base[i] == 0) return true;
        return fail("cmdline at offset %lx is not NUL-terminated inside the package", m_r.cmdline);
    }

    // 4 KiB aligned, non-empty and not wrapping past 2^64.
    bool range(const char* what, u32 i, const char* field, u64 base, u64 size) {
        if (!size) return fail("%s %u: %s size is 0", what, i, field);
        if (!is_aligned(base, PAGE) || !is_aligned(size, PAGE))
            return fail("%s %u: %s [%lx, +%lx) is not 4 KiB aligned", what, i, field, base, size);
        if (base > ~0ull - size) return fail("%s %u: %s [%lx, +%lx) wraps past 2^64", what, i, field, base, size);
        return true;
    }

    static bool is_ram(const MemRegion& m) {
        return (m.map_type == u32(MapType::Alloc) || m.map_type == u32(MapType::Identical)) && !(m.flags & FLAG_DEVICE);
    }

    bool regions() {
        auto* rs = at<MemRegion>(m_r.regions);
        for (u32 i = 0; i < m_r.region_count; ++i) {
            const MemRegion& m = rs[i];
            if (!range("memory region", i, "gpa", m.gpa, m.size)) return false;
            if (m.map_type > u32(MapType::Reserved))
                return fail("memory region %u: unknown map_type %u (0 alloc, 1 identical, 2 reserved)", i, m.map_type);
            if (m.flags & ~KNOWN_FLAGS)
                return fail("memory region %u: unknown flags %x (R=1 W=2 X=4 DEVICE=8)", i, m.flags);
            for (u32 j = 0; j < i; ++j)
                if (overlaps(rs[j].gpa, rs[j].size, m.gpa, m.size))
                    return fail("memory region %u [%lx, %lx) overlaps memory region %u [%lx, %lx)", i, m.gpa,
                                m.gpa + m.size, j, rs[j].gpa, rs[j].gpa + rs[j].size);
        }
        return true;
    }

    // A device window [gpa, gpa + size) against the regions and the devices checked before it.
    bool device_place(const char* what, u32 i, u64 gpa, u64 size, u32 emu_before, u32 pt_before) {
        auto* rs = at<MemRegion>(m_r.regions);
        for (u32 j = 0; j < m_r.region_count; ++j)
            if (overlaps(rs[j].gpa, rs[j].size, gpa, size))
                return fail("%s %u [%lx, %lx) overlaps memory region %u [%lx, %lx)", what, i, gpa, gpa + size, j,
                            rs[j].gpa, rs[j].gpa + rs[j].size);
        auto* emu = at<EmuDevice>(m_r.emu_devices);
        for (u32 j = 0; j < emu_before; ++j)
            if (emu[j].space == u32(DeviceSpace::Memory) && overlaps(emu[j].base_gpa, emu[j].length, gpa, size))
                return fail("%s %u [%lx, %lx) overlaps emulated device %u (%s)", what, i, gpa, gpa + size, j,
                            emu[j].name);
        auto* pt = at<PassthroughDevice>(m_r.pt_devices);
        for (u32 j = 0; j < pt_before; ++j)
            if (overlaps(pt[j].base_gpa, pt[j].length, gpa, size))
                return fail("%s %u [%lx, %lx) overlaps passthrough device %u (%s)", what, i, gpa, gpa + size, j,
                            pt[j].name);
        return true;
    }

    // EmuDevice::cfg of a virtio-blk device (vm_package.hpp): the backing, an image blob inside
    // the package or a sector-aligned host region, a size in whole sectors, known flags only.
    // Entries past cfg_count read 0. Whether a host region fits the host's disk and overlaps no
    // other VM's is the machine's business: Vm creation checks it (drivers/virtio_blk_host.hpp).
    bool virtio_blk_cfg(u32 i, const EmuDevice& d) {
        const u64 backing = cfg_word(d, 0), where = cfg_word(d, 1), size = cfg_word(d, 2), flags = cfg_word(d, 3);
        constexpr u64 SECTOR = 512;
        if (size == 0 || size % SECTOR)
            return fail("emulated device %u (%s): virtio-blk size %lx is not a non-zero multiple of 512", i, d.name,
                        size);
        if (flags & ~BLK_FLAG_READ_ONLY)
            return fail("emulated device %u (%s): virtio-blk flags %lx unknown (read-only = 1)", i, d.name, flags);
        if (backing == u64(BlkBacking::RamImage)) {
            if (const char* past = runs_past(where, size, false))
                return fail("emulated device %u (%s): virtio-blk image [%lx, +%lx) runs past %s", i, d.name, where,
                            size, past);
            if (!is_aligned(where, BLOB_ALIGN))
                return fail("emulated device %u (%s): virtio-blk image offset %lx is not 4 KiB aligned", i, d.name,
                            where);
            return true;
        }
        if (backing == u64(BlkBacking::HostRegion)) {
            if (where % SECTOR || where > ~0ull - size)
                return fail("emulated device %u (%s): virtio-blk host region [%lx, +%lx) is not sector-aligned or "
                            "wraps past 2^64", i, d.name, where, size);
            return true;
        }
        return fail("emulated device %u (%s): virtio-blk backing %lu unknown (1 image, 2 host region)", i, d.name,
                    backing);
    }

    // A virtio-mmio device (EmuType 2-4): one 4 KiB window (the transport's register page; a
    // stage-2 page of its own, so it never shares a page with RAM), and the cfg words of its type
    // (vm_package.hpp). The block device's cfg words: virtio_blk_cfg; what depends on the machine
    // (a host region inside the host disk, not overlapping another) is checked when the device
    // is created (virtio/factory.cpp).
    bool virtio_device(u32 i, const EmuDevice& d) {
        if (d.length != 0x1000 || !is_aligned(d.base_gpa, 0x1000))
            return fail("emulated device %u (%s): a virtio-mmio window is 0x1000 bytes at a 4 KiB aligned base_gpa, "
                        "not [%lx, +%lx)", i, d.name, d.base_gpa, d.length);
        if (d.type == u32(EmuType::VirtioConsole)) {
            if (d.cfg_count)
                return fail("emulated device %u (%s): virtio-console takes no parameters (cfg_count %u)", i, d.name,
                            d.cfg_count);
            for (u32 k = 0; k < sizeof d.cfg / sizeof d.cfg[0]; ++k)
                if (d.cfg[k])
                    return fail("emulated device %u (%s): virtio-console takes no parameters (cfg[%u] = %lx)", i,
                                d.name, k, d.cfg[k]);
        }
        return true;
    }

    bool devices() {
        auto* emu = at<EmuDevice>(m_r.emu_devices);
        for (u32 i = 0; i < m_r.emu_count; ++i) {
            const EmuDevice& d = emu[i];
            if (!terminated(d.name)) return fail("emulated device %u: name is not NUL-terminated within %u bytes", i, MAX_NAME);
            if (d.type < u32(EmuType::Pl011) || d.type > u32(EmuType::Ns16550a))
                return fail("emulated device %u (%s): unknown type %u (1 pl011, 2 virtio-blk, 3 virtio-net, "
                            "4 virtio-console, 5 ns16550a)", i, d.name, d.type);
            if (d.cfg_count > sizeof d.cfg / sizeof d.cfg[0])
                return fail("emulated device %u (%s): cfg_count %u, at most 8", i, d.name, d.cfg_count);
            if (is_virtio(d.type) && !virtio_device(i, d)) return false;
            if (d.type == u32(EmuType::VirtioBlk) && !virtio_blk_cfg(i, d)) return false;
            if (d.space == u32(DeviceSpace::Port)) {
                if (!port_place(i, d)) return false;
                continue;
            }
            if (d.space != u32(DeviceSpace::Memory))
                return fail("emulated device %u (%s): unknown address space %u (0 memory, 1 port I/O)", i, d.name, d.space);
            if (!range("emulated device", i, "base_gpa", d.base_gpa, d.length)) return false;
            if (!device_place("emulated device", i, d.base_gpa, d.length, i, 0)) return false;
            if (d.type == u32(EmuType::VirtioNet) && !net_cfg(i, d)) return false;
        }
        auto* pt = at<PassthroughDevice>(m_r.pt_devices);
        for (u32 i = 0; i < m_r.pt_count; ++i) {
            const PassthroughDevice& d = pt[i];
            if (!terminated(d.name))
                return fail("passthrough device %u: name is not NUL-terminated within %u bytes", i, MAX_NAME);
            if (!range("passthrough device", i, "base_gpa", d.base_gpa, d.length)) return false;
            if (!range("passthrough device", i, "base_hpa", d.base_hpa, d.length)) return false;
            if (!device_place("passthrough device", i, d.base_gpa, d.length, m_r.emu_count, i)) return false;
        }
        return true;
    }

    // A device in the port space (DeviceSpace::Port): a UART (the only port device cxvisor models),
    // inside the 64 Ki ports, overlapping no port device before it. Memory windows never collide
    // with it: the spaces are separate.
    bool port_place(u32 i, const EmuDevice& d) {
        if (d.type != u32(EmuType::Ns16550a))
            return fail("emulated device %u (%s): type %u cannot sit in the port space (only ns16550a)", i, d.name, d.type);
        if (d.length == 0 || d.base_gpa >= PORT_SPACE_SIZE || d.length > PORT_SPACE_SIZE - d.base_gpa)
            return fail("emulated device %u (%s): ports [%lx, %lx) are not inside the port space [0, 10000)", i, d.name,
                        d.base_gpa, d.base_gpa + d.length);
        auto* emu = at<EmuDevice>(m_r.emu_devices);
        for (u32 j = 0; j < i; ++j)
            if (emu[j].space == u32(DeviceSpace::Port) && overlaps(emu[j].base_gpa, emu[j].length, d.base_gpa, d.length))
                return fail("emulated device %u (%s): ports [%lx, %lx) overlap emulated device %u (%s)", i, d.name,
                            d.base_gpa, d.base_gpa + d.length, j, emu[j].name);
        return true;
    }

    // virtio-net's cfg words (vm_package.hpp): a unicast station MAC and a switch that exists.
    bool net_cfg(u32 i, const EmuDevice& d) {
        if (const char* why = virtio::net_cfg_problem(d))
            return fail("emulated device %u (%s): virtio-net: %s (cfg_count %u, mac %lx, network %lu)", i, d.name, why,
                        d.cfg_count, d.cfg_count > 0 ? d.cfg[0] : 0, d.cfg_count > 1 ? d.cfg[1] : 0);
        return true;
    }

    // A loaded image must lie inside one RAM region: never a reserved carve-out, a DEVICE region or
    // a device window, which would make cxvisor write the image into memory it does not own.
    bool image(const char* what, const Blob& b, u64 gpa) {
        if (!b.size) return true;
        if (gpa > ~0ull - b.size)
            return fail("%s image [%lx, +%lx) wraps past 2^64", what, gpa, b.size);
        auto* rs = at<MemRegion>(m_r.regions);
        for (u32 j = 0; j < m_r.region_count; ++j)
            if (is_ram(rs[j]) && contains(rs[j].gpa, rs[j].size, gpa, b.size)) return true;
        return fail("%s image [%lx, %lx) is not inside a RAM region (map_type alloc or identical, not DEVICE)",
                    what, gpa, gpa + b.size);
    }

    bool images() {
        if (!m_r.kernel.size) return fail("no kernel image");
        if (!image("kernel", m_r.kernel, m_r.kernel_load_addr) || !image("ramdisk", m_r.ramdisk, m_r.ramdisk_load_addr) ||
            !image("dtb", m_r.dtb, m_r.dtb_load_addr))
            return false;
        struct Img {
            const char* what;
            u64 gpa, size;
        } imgs[] = {{"kernel", m_r.kernel_load_addr, m_r.kernel.size},
                    {"ramdisk", m_r.ramdisk_load_addr, m_r.ramdisk.size},
                    {"dtb", m_r.dtb_load_addr, m_r.dtb.size}};
        for (usize i = 1; i < 3; ++i)
            for (usize j = 0; j < i; ++j)
                if (imgs[i].size && imgs[j].size && overlaps(imgs[i].gpa, imgs[i].size, imgs[j].gpa, imgs[j].size))
                    return fail("%s image [%lx, %lx) overlaps the %s image [%lx, %lx)", imgs[i].what, imgs[i].gpa,
                                imgs[i].gpa + imgs[i].size, imgs[j].what, imgs[j].gpa, imgs[j].gpa + imgs[j].size);
        auto* rs = at<MemRegion>(m_r.regions);
        for (u32 j = 0; j < m_r.region_count; ++j)
            if (is_ram(rs[j]) && (rs[j].flags & FLAG_X) && contains(rs[j].gpa, rs[j].size, m_r.entry_point, 1))
                return true;
        return fail("entry point %lx is not inside an executable RAM region (X in flags)", m_r.entry_point);
    }

    // The emulated interrupt controller's layout (VmRecord version 2, generic since 4), as the
    // package's ISA's controller model lays it out (vintc/layout.hpp). All zero unless
    // interrupt_mode is Emulated; then each window aligned as the model requires, clear of the
    // regions, the devices and the other window, and every device irq one of the VM's lines.
    bool vintc() {
        if (m_r.interrupt_mode != u32(InterruptMode::Emulated)) {
            if (m_r.intc_base || m_r.intc_base2 || m_r.intc_lines)
                return fail("interrupt-controller layout (%lx, %lx, %u lines) given without interrupt_mode emulated",
                            m_r.intc_base, m_r.intc_base2, m_r.intc_lines);
            return true;
        }
        const VintcLayout& l = m_layout;
        if (!m_has_layout) return fail("interrupt_mode emulated: cxvisor has no interrupt-controller model for %s guests",
                                       isa_name(m_isa));
        if (m_r.intc_lines < l.line_multiple || m_r.intc_lines > l.max_lines)
            return fail("%s: %u %s is not %u..%u", l.model, m_r.intc_lines, l.line_name, l.line_multiple, l.max_lines);
        const u64 base[2] = {m_r.intc_base, m_r.intc_base2};
        if (l.window_count < 2 && base[1]) return fail("%s has one register window, but a second is given at %lx", l.model, base[1]);
        for (u32 w = 0; w < l.window_count; ++w) {
            if (!is_aligned(base[w], l.align))
                return fail("%s at %lx is not aligned to %lx", l.window_name[w], base[w], l.align);
            if (base[w] > ~0ull - l.window_size[w])
                return fail("%s at %lx wraps past 2^64", l.window_name[w], base[w]);
            if (!device_place(l.window_name[w], 0, base[w], l.window_size[w], m_r.emu_count, m_r.pt_count)) return false;
        }
        if (l.window_count == 2 && overlaps(base[0], l.window_size[0], base[1], l.window_size[1]))
            return fail("%s [%lx, %lx) overlaps %s [%lx, %lx)", l.window_name[0], base[0], base[0] + l.window_size[0],
                        l.window_name[1], base[1], base[1] + l.window_size[1]);
        auto line_ok = [&](u32 irq) { return irq == 0 || l.is_line(irq, m_r.intc_lines); };
        const u32 last = l.first_line + m_r.intc_lines - 1;
        auto* emu = at<EmuDevice>(m_r.emu_devices);
        for (u32 i = 0; i < m_r.emu_count; ++i)
            if (!line_ok(emu[i].irq))
                return fail("emulated device %u (%s): irq %u is not one of the VM's %s (%u..%u)", i, emu[i].name,
                            emu[i].irq, l.line_name, l.first_line, last);
        auto* pt = at<PassthroughDevice>(m_r.pt_devices);
        for (u32 i = 0; i < m_r.pt_count; ++i)
            if (!line_ok(pt[i].irq))
                return fail("passthrough device %u (%s): irq %u is not one of the VM's %s (%u..%u)", i, pt[i].name,
                            pt[i].irq, l.line_name, l.first_line, last);
        return true;
    }
    // A window of the emulated controller that [gpa, gpa + size) overlaps, or null.
    const char* overlapped_window(u64 gpa, u64 size) const {
        if (m_r.interrupt_mode != u32(InterruptMode::Emulated) || !m_has_layout) return nullptr;
        const u64 base[2] = {m_r.intc_base, m_r.intc_base2};
        for (u32 w = 0; w < m_layout.window_count; ++w)
            if (overlaps(base[w], m_layout.window_size[w], gpa, size)) return m_layout.window_name[w];
        return nullptr;
    }

    // Shared-memory regions (VmRecord version 3; docs/virtio.md, "Shared memory"): each on its own, inside this
    // VM. Names match across VMs and sizes are equal per name: vmm/shm.cpp checks that when it
    // backs a name, since it sees all VMs.
    bool shm() {
        auto* sh = at<ShmRegion>(m_r.shm);
        auto* rs = at<MemRegion>(m_r.regions);
        for (u32 i = 0; i < m_r.shm_count; ++i) {
            const ShmRegion& s = sh[i];
            if (!terminated(s.name) || !s.name[0])
                return fail("shm %u: name is empty or not NUL-terminated within %u bytes", i, MAX_NAME);
            if (!range("shm", i, "gpa", s.gpa, s.size)) return false;
            if (s.size > MAX_SHM_SIZE) return fail("shm %u (%s): size %lx is above %lx", i, s.name, s.size, MAX_SHM_SIZE);
            for (u32 j = 0; j < m_r.region_count; ++j)
                if (overlaps(rs[j].gpa, rs[j].size, s.gpa, s.size))
                    return fail("shm %u (%s) [%lx, %lx) overlaps memory region %u", i, s.name, s.gpa, s.gpa + s.size, j);
            if (!device_place("shm", i, s.gpa, s.size, m_r.emu_count, m_r.pt_count)) return false;
            if (const char* w = overlapped_window(s.gpa, s.size))
                return fail("shm %u (%s) [%lx, %lx) overlaps %s", i, s.name, s.gpa, s.gpa + s.size, w);
            if (s.peer_count > MAX_SHM_PEERS) return fail("shm %u (%s): %u peers, at most %u", i, s.name, s.peer_count, MAX_SHM_PEERS);
            for (u32 p = 0; p < s.peer_count; ++p) {
                if (s.peers[p] == m_r.id) return fail("shm %u (%s): peer %u is the VM itself", i, s.name, s.peers[p]);
                for (u32 q = 0; q < p; ++q)
                    if (s.peers[q] == s.peers[p]) return fail("shm %u (%s): peer %u is named twice", i, s.name, s.peers[p]);
            }
            if (s.irq && !irq_free(s.irq, i))
                return fail("shm %u (%s): irq %u is not a free one of the VM's %s (%u..%u, no device's, no other region's)",
                            i, s.name, s.irq, m_has_layout ? m_layout.line_name : "lines",
                            m_has_layout ? m_layout.first_line : 0, m_has_layout ? m_layout.first_line + m_r.intc_lines - 1 : 0);
            for (u32 j = 0; j < i; ++j) {
                if (overlaps(sh[j].gpa, sh[j].size, s.gpa, s.size))
                    return fail("shm %u (%s) [%lx, %lx) overlaps shm %u", i, s.name, s.gpa, s.gpa + s.size, j);
                if (strcmp(sh[j].name, s.name) == 0) return fail("shm %u: name %s is also shm %u's", i, s.name, j);
            }
        }
        return true;
    }
    // A doorbell line: one of the VM's (it has a controller), not a device's, not an earlier region's.
    bool irq_free(u32 irq, u32 shm_index) {
        if (m_r.interrupt_mode != u32(InterruptMode::Emulated) || !m_has_layout || !m_layout.is_line(irq, m_r.intc_lines))
            return false;
        auto* emu = at<EmuDevice>(m_r.emu_devices);
        for (u32 i = 0; i < m_r.emu_count; ++i)
            if (emu[i].irq == irq) return false;
        auto* pt = at<PassthroughDevice>(m_r.pt_devices);
        for (u32 i = 0; i < m_r.pt_count; ++i)
            if (pt[i].irq == irq) return false;
        auto* sh = at<ShmRegion>(m_r.shm);
        for (u32 i = 0; i < shm_index; ++i)
            if (sh[i].irq == irq) return false;
        return true;
    }

private:
    const u8* m_base;
    u64 m_size;  // resident_size: what the image reads in place
    u64 m_total; // total_size
    char m_past[64]; // runs_past's answer
    const VmRecord& m_r;
    char* m_why;
    usize m_cap;
    u32 m_isa;
    VintcLayout m_layout{};
    bool m_has_layout = false;
};

} // namespace

Result<const VmRecord*> package_check_vm(const PackageHeader& h, u32 index, u32 max_cpus, char* why, usize why_size) {
    if (index >= h.vm_count) {
        format(why, why_size, "VM record %u: the package has %u", index, h.vm_count);
        return Error::BadFormat;
    }
    auto* recs = reinterpret_cast<const VmRecord*>(reinterpret_cast<const u8*>(&h) + h.vm_records);
    const VmRecord& r = recs[index];
    RecordCheck c(h, r, why, why_size);
    auto bad = [] { return Result<const VmRecord*>(Error::BadFormat); };
    if (!terminated(r.name)) return c.fail("name is not NUL-terminated within %u bytes", MAX_NAME), bad();
    for (u32 j = 0; j < index; ++j)
        if (recs[j].id == r.id) return c.fail("id %u is also the id of VM record %u", r.id, j), bad();
    if (r.cpu_num == 0 || r.cpu_num > MAX_VCPUS) return c.fail("cpu_num %u is not 1..%u", r.cpu_num, MAX_VCPUS), bad();
    for (u32 i = 0; i < r.cpu_num; ++i)
        if (r.phys_cpu_ids[i] != ANY_CPU && r.phys_cpu_ids[i] >= max_cpus)
            return c.fail("vcpu %u: phys_cpu_ids %u is neither any (%x) nor below %u, the most CPUs cxvisor supports",
                          i, r.phys_cpu_ids[i], ANY_CPU, max_cpus), bad();
    if (r.flags & ~VM_FLAGS_KNOWN)
        return c.fail("flags %x has bits this cxvisor does not know (%x are known)", r.flags, VM_FLAGS_KNOWN), bad();
    // Passthrough (the host GIC handed to the guest) is part of the format but not implemented:
    // cxv-vmconfig rejects it, and so does the image rather than ignore it.
    if (r.interrupt_mode == u32(InterruptMode::Passthrough))
        return c.fail("interrupt_mode 2 (passthrough) is not implemented by cxvisor (use emulated or no_irq)"), bad();
    if (r.interrupt_mode > u32(InterruptMode::Passthrough))
        return c.fail("unknown interrupt_mode %u (0 no_irq, 1 emulated)", r.interrupt_mode), bad();
    if (!c.array<MemRegion>("memory regions", r.regions, r.region_count, MAX_REGIONS) ||
        !c.array<EmuDevice>("emulated devices", r.emu_devices, r.emu_count, MAX_EMU_DEVICES) ||
        !c.array<PassthroughDevice>("passthrough devices", r.pt_devices, r.pt_count, MAX_PT_DEVICES) ||
        !c.blob("kernel", r.kernel, true) || !c.blob("ramdisk", r.ramdisk, true) || !c.blob("dtb", r.dtb, false) || !c.cmdline() ||
        !c.array<ShmRegion>("shm regions", r.shm, r.shm_count, MAX_SHM) ||
        !c.regions() || !c.devices() || !c.images() || !c.vintc() || !c.shm())
        return bad();
    return &r;
}
