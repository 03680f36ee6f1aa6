// AddrSpace<Format, FrameSource, Tlb>: a VM's guest-physical address space (after axaddrspace):
// a stage-2 PageTable plus the list of regions that say what each range is backed by.
//   Linear regions map host memory the AddrSpace does not own (passthrough devices, guest images
//   already in RAM); it never frees them.
//   Alloc regions are guest RAM the AddrSpace allocates, zeroed, either at once (populate) or on
//   first touch: a fault maps the whole 2 MiB block around the address when the region covers it
//   (one 2 MiB-aligned allocation, one block descriptor, or 512 page descriptors where the ISA asks
//   for small leaves: tlb.hpp stage2_max_leaf), else one 4 KiB page. So RAM never shows old data
//   and untouched RAM costs nothing.
//   Images (map_image) give a range of Alloc RAM initial contents from host memory the AddrSpace
//   does not own and never writes (a kernel Image in the VM package), copy-on-write: first touch
//   maps the host frames themselves without write permission ("borrowed" leaves); the first write
//   to a page, by the guest or through write()/zero(), gives the VM a private copy of that page.
//   After reset() the RAM shows the image's original bytes again.
//   An image may also be on a medium instead of in host memory (map_image_from, image_medium.hpp):
//   then first touch allocates the VM's own frames and reads the image's bytes into them, once
//   per touched granule and VM life; nothing is borrowed and nothing is copied on write.
// Invariants: regions never overlap; a Linear region is always fully mapped; every leaf lies inside
// one region; every frame mapped in an Alloc region was allocated here and is freed exactly once,
// except borrowed image frames, which are never writable through this space and never freed.
//
// Contract: the owning Vm serialises calls with its address-space lock; any CPU may call.
// vCPUs of the VM may run meanwhile (the hardware walker reads the table concurrently), except
// during reset() and destruction, when none of them may be loaded on any CPU.
#pragma once
#include "addrspace/image_medium.hpp"
#include "addrspace/page_table.hpp"
#include "base/static_vec.hpp"
#include "base/string.hpp"

template <PageTableFormat F, FrameSource S, Stage2Maintenance T> class AddrSpace {
public:
    using Table = PageTable<F, S>;
    using Mapping = typename Table::Mapping;
    static constexpr usize max_regions = 32;
    static constexpr u64 page_size = Table::page_size;
    static constexpr u64 lazy_block = Table::span(F::leaf_level - 1); // 2 MiB

    enum class Backing : u8 { Linear, Alloc };
    struct Region {
        GuestPhysAddr start;
        u64 size;
        MemFlags flags;
        Backing backing;
        HostPhysAddr host; // Linear: host address of `start`
        bool populate;     // Alloc: allocated eagerly (again after reset())
        GuestPhysAddr end() const { return start + size; }
        bool contains(GuestPhysAddr a) const { return a >= start && a < end(); }
    };
    struct Translation {
        HostPhysAddr pa;
        MemFlags flags;
    };
    // [start, start + size) of Alloc RAM starts out as the host memory at `host` (map_image), or
    // as `data` bytes of `medium` from `offset` followed by zeroes (map_image_from).
    struct Image {
        GuestPhysAddr start;
        u64 size;
        HostPhysAddr host;
        ImageMedium* medium;
        u64 offset;
        u64 data;
        GuestPhysAddr end() const { return start + size; }
        bool borrows(HostPhysAddr pa) const { return !medium && pa >= host && pa < host + size; }
    };
    static constexpr usize max_images = 8;

    // `geometry` comes from the format's configuration (arch::stage2_config(parange).geometry()).
    static Result<AddrSpace> create(S& frames, T tlb, TableGeometry geometry) {
        Table table = TRY(Table::create(frames, geometry));
        return AddrSpace(static_cast<Table&&>(table), static_cast<T&&>(tlb));
    }
    AddrSpace(AddrSpace&& o) : m_table(static_cast<Table&&>(o.m_table)), m_tlb(static_cast<T&&>(o.m_tlb)) {
        for (const Region& r : o.m_regions) (void)m_regions.push_back(r);
        for (const Image& i : o.m_images) (void)m_images.push_back(i);
        o.m_regions.clear();
        o.m_images.clear();
    }
    AddrSpace& operator=(AddrSpace&&) = delete;
    // Frees all owned RAM and every table; linear-mapped memory is left alone.
    ~AddrSpace() {
        if (!m_table.is_live()) return;
        m_tlb.invalidate_all(); // the VMID may be reused: drop its stale entries
        release_owned();
    }

    // All ranges below are page-aligned with size > 0, else InvalidArgument. A new region may not
    // overlap an existing one (AlreadyMapped); more than max_regions gives NoMemory.
    Result<void> map_linear(GuestPhysAddr gpa, HostPhysAddr hpa, u64 size, MemFlags flags) {
        TRY(check_new(gpa, size));
        TRY(map_leaves(gpa.value(), hpa, size, flags)); // all or nothing
        return m_regions.push_back(Region{gpa, size, flags, Backing::Linear, hpa, false});
    }
    // On NoMemory while populating, everything this call allocated is freed and no region is added.
    Result<void> map_alloc(GuestPhysAddr gpa, u64 size, MemFlags flags, bool populate) {
        TRY(check_new(gpa, size));
        if (gpa.value() + size > m_table.limit()) return Error::OutOfRange;
        TRY(m_regions.push_back(Region{gpa, size, flags, Backing::Alloc, HostPhysAddr(), populate}));
        if (!populate) return {};
        auto done = populate_region(m_regions[m_regions.size() - 1]);
        if (done.is_error()) {
            remove_leaves(gpa.value(), gpa.value() + size);
            m_regions.pop_back();
        }
        return done;
    }
    // Gives [gpa, gpa + size) of one Alloc region (else NotMapped) the contents of host memory
    // [host, host + size) instead of zeroes, copy-on-write (see the top of this file). The host
    // memory must stay unchanged for the life of this space and must not be RAM this space's
    // FrameSource hands out (the VM package: loaded before boot, never allocated, never written).
    // gpa, host and size page-aligned, size > 0 (InvalidArgument); images never overlap
    // (AlreadyMapped); at most max_images (NoMemory). Only before the range is touched: a page
    // already backed keeps what it has (Busy instead).
    Result<void> map_image(GuestPhysAddr gpa, HostPhysAddr host, u64 size) {
        if (!host.is_aligned(page_size)) return Error::InvalidArgument;
        // Guests fetch from these frames directly: once here, as they never change afterwards.
        TRY(check_new_image(gpa, size));
        if (has(find_region(gpa)->flags, MemFlags::Exec)) m_tlb.prepare_exec(host, size);
        return m_images.push_back(Image{gpa, size, host, nullptr, 0, size});
    }
    // Gives [gpa, gpa + align_up(bytes, page)) of one Alloc region the `bytes` bytes at `offset` of
    // `medium`, then zeroes: read into frames this space allocates at each first touch of a
    // granule (image_medium.hpp), and again after reset(). The medium must outlive this space.
    // Errors as map_image's; a failing medium read is the error of the touch that made it.
    Result<void> map_image_from(GuestPhysAddr gpa, ImageMedium& medium, u64 offset, u64 bytes) {
        const u64 size = align_up(bytes, page_size);
        if (bytes == 0 || size < bytes) return Error::InvalidArgument;
        TRY(check_new_image(gpa, size));
        return m_images.push_back(Image{gpa, size, HostPhysAddr(), &medium, offset, bytes});
    }
    // Removes [gpa, gpa + size), which must lie wholly inside regions (else NotMapped); regions are
    // cut to match, owned RAM in the range is freed. Fails with NoMemory only before removing
    // anything: the region list is too full to cut, or a block straddling an end cannot be split
    // (then at most the other end's block was split, which translates exactly as before).
    // Busy if the range meets an image (images are fixed for the life of the space).
    Result<void> unmap(GuestPhysAddr gpa, u64 size) {
        TRY(check_covered(gpa, size));
        TRY(check_no_image(gpa, size));
        const u64 a = gpa.value(), e = a + size;
        TRY(m_table.split_at(a, m_tlb));
        if (e < m_table.limit()) TRY(m_table.split_at(e, m_tlb));
        remove_leaves(a, e);
        cut(a, e);
        for (usize i = 0; i < m_regions.size();) {
            if (m_regions[i].start.value() >= a && m_regions[i].end().value() <= e) remove_region(i);
            else ++i;
        }
        return {};
    }
    // New permissions/memory type for [gpa, gpa + size) (covered by regions, else NotMapped),
    // including pages that an Alloc region populates later. All or nothing. Busy if the range meets
    // an image: a borrowed leaf must never become writable.
    Result<void> protect(GuestPhysAddr gpa, u64 size, MemFlags flags) {
        TRY(check_covered(gpa, size));
        TRY(check_no_image(gpa, size));
        const u64 a = gpa.value(), e = a + size;
        TRY(m_table.protect(a, size, flags, m_tlb, Table::Holes::Skip)); // holes: lazy RAM not yet touched
        cut(a, e);
        for (Region& r : m_regions)
            if (r.start.value() >= a && r.end().value() <= e) r.flags = flags;
        return {};
    }
    // Current translation; NotMapped also for lazy RAM that was never touched.
    Result<Translation> translate(GuestPhysAddr gpa) const {
        const Mapping m = TRY(m_table.query(gpa.value()));
        return Translation{m.at(gpa.value()), m.flags};
    }
    // Stage-2 fault at `gpa` (called by the Vm's exit handler). true: handled, re-run the access —
    // lazy RAM was mapped now, or the address is already mapped with a permission that allows the
    // access (another vCPU mapped it first, or a break-before-make window). false: not ours — no
    // region (MMIO emulation or abort) or a genuine permission fault. `access` is exactly one of
    // Read, Write, Exec: an instruction fetch from RAM without X is a permission fault, never
    // "fixed" by mapping it readable (the guest would fault on the same fetch forever).
    // A write to a borrowed image page the region lets the guest write gets the VM its private
    // copy of the page (true). Errors: NoMemory. On the faulting vCPU's CPU: every true answer
    // makes that CPU's translation of gpa current first (tlb.hpp fault_retry).
    Result<bool> handle_fault(GuestPhysAddr gpa, MemFlags access) {
        const Region* r = find_region(gpa);
        if (!r) return false;
        if (auto m = m_table.query(gpa.value()); m.is_ok()) {
            if (!has(m.value().flags, access)) {
                if (!has(access, MemFlags::Write) || !has(r->flags, access) || !borrowed(m.value().pa)) return false;
                TRY(unshare(*r, gpa.align_down(page_size), m.value()));
            }
        } else {
            if (r->backing != Backing::Alloc || !has(r->flags, access)) return false;
            TRY(populate_at(*r, gpa));
        }
        m_tlb.fault_retry(gpa.value());
        return true;
    }
    // Hypervisor access to guest memory: the one path by which cxvisor touches it (instruction
    // fetch for MMIO decode, image loading, clearing identity RAM, hypercall arguments), crossing
    // page and region boundaries, ignoring the guest's permissions. Each mapped piece goes to the
    // FrameSource's access_host, which reaches RAM directly and anything else (reserved
    // carve-outs, passthrough devices) read-only through a temporary mapping, or refuses: it never
    // faults. Reads of never-touched lazy RAM return zeros without allocating; writes populate it
    // like a fault would; zero() leaves it alone (it is zero already). Image pages are mapped
    // (borrowed) when touched by any of them; write() and zero() then give the VM its own copy.
    // Errors: NotMapped outside the regions (or in an unmapped hole of a Linear one), Denied where
    // the source refuses (writes outside RAM, device memory other than aligned 4-byte reads),
    // NoMemory while populating. A failing call may have transferred a prefix.
    Result<void> read(GuestPhysAddr gpa, void* dst, usize len) { return copy(gpa, static_cast<u8*>(dst), len, HostOp::Read); }
    Result<void> write(GuestPhysAddr gpa, const void* src, usize len) {
        return copy(gpa, const_cast<u8*>(static_cast<const u8*>(src)), len, HostOp::Write);
    }
    Result<void> zero(GuestPhysAddr gpa, usize len) { return copy(gpa, nullptr, len, HostOp::Zero); }
    // Where a DMA device may transfer at gpa (virtio-blk's host disk): the host-physical address
    // of gpa and how many bytes from there lie in the same stage-2 leaf, at most len (> 0, else
    // InvalidArgument). The leaf is made ready exactly as copy() makes it: never-touched lazy RAM
    // is backed (always: a device needs frames to read from, too) and, when the device will write
    // the memory, a borrowed image page is unshared first. Device leaves are Denied (a device
    // never reaches another device's registers); NotMapped outside the regions, NoMemory while
    // backing. Unlike read/write, nothing is copied and nothing checks that the frames are RAM:
    // the caller restricts gpa to the VM's RAM regions (GuestRam). The frames stay the VM's until
    // reset() or destruction (no other operation moves or frees a mapped private frame), so the
    // caller's owner must end the transfer before either (docs/virtio.md, "Why DMA into a guest's
    // pages is safe").
    struct HostRun {
        HostPhysAddr pa;
        usize len;
    };
    Result<HostRun> host_run(GuestPhysAddr gpa, usize len, bool device_writes) {
        if (len == 0) return Error::InvalidArgument;
        const Mapping m = TRY(ready_leaf(gpa, device_writes ? HostOp::Write : HostOp::Read, true));
        if (has(m.flags, MemFlags::Device)) return Error::Denied;
        const u64 in_leaf = m.in + m.size - gpa.value();
        return HostRun{m.at(gpa.value()), len < in_leaf ? len : usize(in_leaf)};
    }
    // Back to the state right after the map_* calls, for a VM restart: frees all owned RAM and all
    // tables, then maps the linear regions and populates the eager RAM regions again. Fails only
    // with NoMemory (the VM cannot start; reset() again or destroy).
    // Images stay: the restarted VM finds their original bytes (its private copies are freed).
    Result<void> reset() {
        m_tlb.invalidate_all();
        release_owned();
        m_table.clear();
        for (const Region& r : m_regions) {
            if (r.backing == Backing::Linear) TRY(map_leaves(r.start.value(), r.host, r.size, r.flags));
            else if (r.populate) TRY(populate_region(r));
        }
        return {};
    }

    const Region* find_region(GuestPhysAddr a) const {
        for (const Region& r : m_regions)
            if (r.contains(a)) return &r;
        return nullptr;
    }
    // Bytes of RAM this address space owns now (Alloc regions' mapped leaves, clipped to each
    // region as release_owned frees them): what a VM holds of the host's memory. Borrowed image
    // leaves are the package's frames, not the VM's: they do not count until copied.
    u64 owned_bytes() const {
        u64 total = 0;
        for (const Region& r : m_regions) {
            if (r.backing != Backing::Alloc) continue;
            m_table.for_each_leaf(r.start.value(), r.size, [&](const Mapping& m) {
                if (borrowed(m.pa)) return true;
                const u64 lo = m.in > r.start.value() ? m.in : r.start.value();
                const u64 hi = m.in + m.size < r.end().value() ? m.in + m.size : r.end().value();
                total += hi - lo;
                return true;
            });
        }
        return total;
    }
    const StaticVec<Region, max_regions>& regions() const { return m_regions; }
    const StaticVec<Image, max_images>& images() const { return m_images; }
    const Table& page_table() const { return m_table; }
    HostPhysAddr root() const { return m_table.root(); }
    T& tlb() { return m_tlb; }

private:
    AddrSpace(Table&& table, T&& tlb) : m_table(static_cast<Table&&>(table)), m_tlb(static_cast<T&&>(tlb)) {}

    // Every new mapping goes through here: the walker writes it, then the ISA says what its TLBs
    // need for an invalid -> valid change (tlb.hpp: after_map; nothing on aarch64).
    Result<void> map_leaves(u64 in, HostPhysAddr pa, u64 size, MemFlags flags) {
        TRY(m_table.map(in, pa, size, flags, stage2_max_leaf(m_tlb)));
        m_tlb.after_map(in, size);
        return {};
    }

    Result<void> check_range(GuestPhysAddr gpa, u64 size) const {
        if (size == 0 || !gpa.is_aligned(page_size) || !is_aligned(size, page_size)) return Error::InvalidArgument;
        if (gpa.value() + size < gpa.value()) return Error::OutOfRange;
        return {};
    }
    Result<void> check_new(GuestPhysAddr gpa, u64 size) const {
        TRY(check_range(gpa, size));
        for (const Region& r : m_regions)
            if (gpa < r.end() && r.start < gpa + size) return Error::AlreadyMapped;
        if (m_regions.full()) return Error::NoMemory;
        return {};
    }
    // [gpa, gpa + size) lies inside regions, and cutting regions at its ends will fit in the list.
    Result<void> check_covered(GuestPhysAddr gpa, u64 size) const {
        TRY(check_range(gpa, size));
        const u64 a = gpa.value(), e = a + size;
        u64 covered = 0;
        usize cuts = 0;
        for (const Region& r : m_regions) {
            const u64 lo = r.start.value() > a ? r.start.value() : a;
            const u64 hi = r.end().value() < e ? r.end().value() : e;
            if (lo < hi) covered += hi - lo;
            cuts += (r.start.value() < a && a < r.end().value()) + (r.start.value() < e && e < r.end().value());
        }
        if (covered != size) return Error::NotMapped;
        if (m_regions.size() + cuts > max_regions) return Error::NoMemory;
        return {};
    }
    // map_image's checks of a new image [gpa, gpa + size).
    Result<void> check_new_image(GuestPhysAddr gpa, u64 size) const {
        TRY(check_range(gpa, size));
        const Region* r = find_region(gpa);
        if (!r || r->backing != Backing::Alloc || gpa + size > r->end()) return Error::NotMapped;
        for (const Image& i : m_images)
            if (gpa < i.end() && i.start < gpa + size) return Error::AlreadyMapped;
        bool touched = false;
        m_table.for_each_leaf(gpa.value(), size, [&](const Mapping&) { return !(touched = true); });
        if (touched) return Error::Busy;
        if (m_images.full()) return Error::NoMemory;
        return {};
    }
    Result<void> check_no_image(GuestPhysAddr gpa, u64 size) const {
        for (const Image& i : m_images)
            if (gpa < i.end() && i.start < gpa + size) return Error::Busy;
        return {};
    }
    // A leaf at `pa` maps image frames this space does not own (never writable, never freed).
    bool borrowed(HostPhysAddr pa) const {
        for (const Image& i : m_images)
            if (i.borrows(pa)) return true;
        return false;
    }
    // Every page of the 2 MiB block at `block` is mapped to borrowed image frames (one block leaf,
    // or pages where the format maps the granule with page leaves): unshare copies it as a whole.
    bool borrowed_block(GuestPhysAddr block) const {
        u64 covered = 0;
        m_table.for_each_leaf(block.value(), lazy_block, [&](const Mapping& m) {
            if (!borrowed(m.pa)) return false;
            covered += m.size;
            return true;
        });
        return covered == lazy_block;
    }
    // The image that holds guest page `page`, or null.
    const Image* image_at(GuestPhysAddr page) const {
        for (const Image& i : m_images)
            if (page >= i.start && page < i.end()) return &i;
        return nullptr;
    }
    // Writes guest range [at, at + len) as the guest's first touch shows it into `dst`, frames this
    // space allocated unzeroed: the images' bytes where an image covers it, zeroes elsewhere, each
    // byte once, all of it cleaned to the point of coherency (a guest may run with its caches off).
    // Image bytes go straight from access_host (the only way to image memory) into the frames; a
    // medium writes them there itself (its read leaves them visible to a guest without caches).
    Result<void> fill_as_first_touch(GuestPhysAddr at, u64 len, HostPhysAddr dst) {
        S& frames = m_table.frames();
        for (u64 a = at.value(), e = a + len; a < e;) {
            const Image* in = nullptr;
            u64 next = e; // where the next image begins, or the end
            for (const Image& i : m_images) {
                if (a >= i.start.value() && a < i.end().value()) in = &i;
                else if (i.start.value() > a && i.start.value() < next) next = i.start.value();
            }
            const HostPhysAddr to = dst + (a - at.value());
            if (!in) {
                frames.zero_frames(to, usize(next - a));
                a = next;
                continue;
            }
            const u64 hi = in->end().value() < e ? in->end().value() : e;
            if (in->medium) {
                const u64 data_end = in->start.value() + in->data;
                const u64 mid = data_end < hi ? (data_end > a ? data_end : a) : hi; // image bytes up to here
                if (mid > a) TRY(in->medium->read(in->offset + (a - in->start.value()), to, usize(mid - a)));
                if (hi > mid) frames.zero_frames(to + (mid - a), usize(hi - mid));
            } else {
                u8* host = static_cast<u8*>(frames.phys_to_virt(to));
                TRY(frames.access_host(in->host + (a - in->start.value()), host, usize(hi - a), HostOp::Read, MemFlags::None));
                frames.clean_frames(to, usize(hi - a));
            }
            a = hi;
        }
        return {};
    }
    // Gives the VM a private copy of borrowed leaf `m` of region `r` (which holds guest page
    // `page`), writable as the region says: the whole 2 MiB block around it when every page of the
    // block is borrowed (one block leaf, or 512 pages where the ISA maps small leaves) and 2 MiB of
    // contiguous RAM is free, else the one page (a block is split into pages that translate as
    // before). A whole block, because a guest that writes one page of its kernel writes most of
    // the others soon (Debian's arm64 kernel writes ~70% of its Image's pages before /init:
    // relocations, ftrace patching every function entry, freed init memory), and one exit and a
    // 2 MiB copy cost far less than hundreds of page faults. Replacing the output address of a
    // live leaf is break-before-make (Arm ARM DDI0487 K.a, D8 "Using break-before-make when
    // updating translation table entries"): the borrowed entry is removed and its TLB entries
    // invalidated before the private one is written; a vCPU touching it meanwhile faults and
    // retries. On NoMemory nothing changes, except that a block may have been split into pages.
    Result<void> unshare(const Region& r, GuestPhysAddr page, const Mapping& m) {
        S& frames = m_table.frames();
        const GuestPhysAddr block = page.align_down(lazy_block);
        if (borrowed_block(block)) {
            // Unzeroed: the images cover every borrowed page, so the copy writes every byte.
            if (auto mem = frames.alloc_frames_unzeroed(lazy_block / page_size, lazy_block); mem.is_ok()) {
                auto done = replace_leaf(r, block, lazy_block, mem.value());
                if (done.is_ok()) return {};
                frames.free_frames(mem.value(), lazy_block / page_size);
                return done;
            }
        }
        if (m.size > page_size) {
            // The split makes a leaf start at `page` (one level down: pages of the same frames).
            TRY(m_table.split_at(page.value() == m.in ? page.value() + page_size : page.value(), m_tlb));
        }
        const HostPhysAddr copy = TRY(frames.alloc_frames_unzeroed(1, page_size));
        auto done = replace_leaf(r, page, page_size, copy);
        if (done.is_error()) frames.free_frames(copy, 1);
        return done;
    }
    // Fills fresh frames `copy` with the images' bytes of [at, at + size), then makes them the leaf
    // there in place of the borrowed one (break-before-make, see unshare). NoMemory from the final
    // map leaves a hole that the next fault backs again.
    Result<void> replace_leaf(const Region& r, GuestPhysAddr at, u64 size, HostPhysAddr copy) {
        TRY(fill_as_first_touch(at, size, copy));
        if (has(r.flags, MemFlags::Exec)) m_tlb.prepare_exec(copy, size);
        TRY(m_table.unmap(at.value(), size, m_tlb));
        return map_leaves(at.value(), copy, size, r.flags);
    }
    // Splits the regions that straddle a or e, so [a, e) consists of whole regions (capacity was
    // checked by check_covered).
    void cut(u64 a, u64 e) {
        const u64 ends[] = {a, e};
        for (const u64 at : ends) {
            for (Region& r : m_regions) {
                if (!(r.start.value() < at && at < r.end().value())) continue;
                Region tail = r;
                tail.start = GuestPhysAddr(at);
                tail.size = r.end().value() - at;
                if (r.backing == Backing::Linear) tail.host = r.host + (at - r.start.value());
                r.size = at - r.start.value();
                (void)m_regions.push_back(tail);
                break;
            }
        }
    }
    void remove_region(usize i) {
        m_regions[i] = m_regions[m_regions.size() - 1];
        m_regions.pop_back();
    }
    // Backs the fault granule around `gpa` in Alloc region `r`: the whole 2 MiB block if `r` covers
    // it and 2 MiB of contiguous memory is free and no page of it is mapped yet, else one 4 KiB page.
    // Inside an image the granule maps the image's own frames read-only instead (a block when the
    // image covers the whole block: one leaf if the host frames are 2 MiB-aligned); a block that an
    // image covers only in part, or an image on a medium covers, is allocated and gets the image's
    // bytes copied (or read) in.
    Result<void> populate_at(const Region& r, GuestPhysAddr gpa) {
        S& frames = m_table.frames();
        const GuestPhysAddr block = gpa.align_down(lazy_block);
        const MemFlags shared = MemFlags(u32(r.flags) & ~u32(MemFlags::Write));
        if (block >= r.start && block + lazy_block <= r.end()) {
            const Image* i = image_at(block);
            if (i && !i->medium && block + lazy_block <= i->end()) {
                auto mapped = map_leaves(block.value(), i->host + (block - i->start), lazy_block, shared);
                if (mapped.is_ok() || mapped.error() != Error::AlreadyMapped) return mapped;
            } else if (auto mem = frames.alloc_frames_unzeroed(lazy_block / page_size, lazy_block); mem.is_ok()) {
                auto mapped = fill_as_first_touch(block, lazy_block, mem.value());
                if (mapped.is_ok()) {
                    if (has(r.flags, MemFlags::Exec)) m_tlb.prepare_exec(mem.value(), lazy_block);
                    mapped = map_leaves(block.value(), mem.value(), lazy_block, r.flags);
                }
                if (mapped.is_ok()) return {};
                frames.free_frames(mem.value(), lazy_block / page_size);
                if (mapped.error() != Error::AlreadyMapped) return mapped.error();
            }
        }
        const GuestPhysAddr at = gpa.align_down(page_size);
        const Image* i = image_at(at);
        if (i && !i->medium) return map_leaves(at.value(), i->host + (at - i->start), page_size, shared);
        // Unzeroed: the first-touch fill writes every byte (a medium image's, or zeroes).
        const HostPhysAddr page = TRY(frames.alloc_frames_unzeroed(1, page_size));
        if (auto filled = fill_as_first_touch(at, page_size, page); filled.is_error()) {
            frames.free_frames(page, 1);
            return filled;
        }
        if (has(r.flags, MemFlags::Exec)) m_tlb.prepare_exec(page, page_size);
        auto mapped = map_leaves(at.value(), page, page_size, r.flags);
        if (mapped.is_error()) frames.free_frames(page, 1);
        return mapped;
    }
    Result<void> populate_region(const Region& r) {
        for (u64 a = r.start.value(); a < r.end().value();) {
            auto m = m_table.query(a);
            if (m.is_error()) {
                TRY(populate_at(r, GuestPhysAddr(a)));
                continue; // the query now finds the new leaf
            }
            a = m.value().in + m.value().size;
        }
        return {};
    }
    // Unmaps every leaf in [a, e) — the caller made sure none straddles a or e — and frees the ones
    // in Alloc regions. One leaf at a time: a frame may be freed only after its TLB invalidation,
    // which each unmap call performs before returning.
    void remove_leaves(u64 a, u64 e) {
        for (;;) {
            Mapping leaf{};
            bool found = false;
            m_table.for_each_leaf(a, e - a, [&](const Mapping& m) {
                leaf = m;
                found = true;
                return false; // the first one is enough
            });
            if (!found) return;
            (void)m_table.unmap(leaf.in, leaf.size, m_tlb); // a whole leaf: cannot fail
            const Region* r = find_region(GuestPhysAddr(leaf.in));
            if (r && r->backing == Backing::Alloc && !borrowed(leaf.pa))
                m_table.frames().free_frames(leaf.pa, leaf.size / page_size);
            a = leaf.in + leaf.size;
        }
    }
    // Frees the RAM of every Alloc region (clipped: neighbouring cut regions may share one block),
    // leaving the table itself to clear()/destroy().
    void release_owned() {
        for (const Region& r : m_regions) {
            if (r.backing != Backing::Alloc) continue;
            m_table.for_each_leaf(r.start.value(), r.size, [&](const Mapping& m) {
                if (borrowed(m.pa)) return true; // the image's frames, not ours
                const u64 lo = m.in > r.start.value() ? m.in : r.start.value();
                const u64 hi = m.in + m.size < r.end().value() ? m.in + m.size : r.end().value();
                m_table.frames().free_frames(m.at(lo), (hi - lo) / page_size);
                return true;
            });
        }
    }
    // The leaf behind `at`, made ready for a host access `op`, as copy() and host_run() need it:
    // a borrowed image leaf gives the VM its private copy first unless the access only reads
    // (cxvisor and its devices never write image frames); never-touched lazy RAM is backed like a
    // stage-2 fault would back it for a write, inside an image (an untouched image page holds the
    // image, not zeroes: it is mapped borrowed) or when `back` says so. Otherwise untouched RAM
    // gives a Mapping of size 0: it reads as zeroes and needs no clearing.
    Result<Mapping> ready_leaf(GuestPhysAddr at, HostOp op, bool back) {
        for (;;) {
            if (auto m = m_table.query(at.value()); m.is_ok()) {
                if (op == HostOp::Read || !borrowed(m.value().pa)) return m.value();
                TRY(unshare(*find_region(at), at.align_down(page_size), m.value()));
                continue; // the private page now
            }
            const Region* r = find_region(at);
            if (!r || r->backing != Backing::Alloc) return Error::NotMapped;
            if (!back && op != HostOp::Write && !image_at(at.align_down(page_size))) return Mapping{};
            TRY(populate_at(*r, at));
        }
    }
    // One leaf at a time: a leaf is contiguous host memory of one memory type, so the source gets
    // whole 2 MiB blocks where there are some (clearing identity RAM costs one call per block).
    Result<void> copy(GuestPhysAddr gpa, u8* buf, usize len, HostOp op) {
        for (usize done = 0; done < len;) {
            const GuestPhysAddr at = gpa + done;
            u8* piece = buf ? buf + done : nullptr; // zero() passes no buffer
            const Mapping m = TRY(ready_leaf(at, op, false));
            if (m.size == 0) { // untouched lazy RAM: zeroes already, nothing allocated
                const u64 in_page = page_size - (at.value() & (page_size - 1));
                const usize chunk = len - done < in_page ? len - done : usize(in_page);
                if (op == HostOp::Read) memset(piece, 0, chunk);
                done += chunk;
                continue;
            }
            const u64 in_leaf = m.in + m.size - at.value();
            const usize chunk = len - done < in_leaf ? len - done : usize(in_leaf);
            TRY(m_table.frames().access_host(m.at(at.value()), piece, chunk, op, m.flags));
            done += chunk;
        }
        return {};
    }

    Table m_table;
    T m_tlb;
    StaticVec<Region, max_regions> m_regions;
    StaticVec<Image, max_images> m_images;
};
